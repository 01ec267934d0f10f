"""Training on a Dask cluster: point-in-time features per lodging-time range on the workers,
and each threat's final model fitted by ``lightgbm.dask`` on the features where they lie.

What runs where (`shiprisk train --dask ADDRESS`, or the configuration's ``dask:`` block):

* here, on the client: reading and validating the data, fitting the feature builder
  (reference statistics, vocabularies, text models), cutting the rows into lodging-time
  ranges with the history state carried to each (`features.partitions.time_partitions`),
  model selection (sizes and feature groups, early stopping on the valid window),
  calibration, lanes and evaluation;
* here too, the live inputs (entity history, watchlist hits) of every declaration as of its
  lodging (`FeatureBuilder.live_point_in_time`), which calibration's lanes, the drift
  reference and the test window's evaluation read as in one process;
* on the workers: the point-in-time features of each range, live inputs included (the
  builder and the watchlist are sent once to every worker), and the final fit of each threat's chosen size and features for the
  selected number of rounds, data-parallel over the workers' ranges (``lightgbm.dask``).

The features equal the one-process features exactly (tests/features/test_partitions.py).
The final fit is LightGBM's distributed data-parallel training, whose histogram bins are
found per worker, so its trees differ slightly from one process: the test-window metrics
agree within the tolerance of tests/training/test_dask_training.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import dask.dataframe as dd
import lightgbm as lgb
import numpy as np
import pandas as pd
from distributed import Client, Future

from features.builder import FeatureBuilder
from features.partitions import HistoryEvents, time_partitions
from training.fit import FitSettings, ThreatModel, lightgbm_params, monotone_directions

LABEL = "__label"
WEIGHT = "__weight"
PARTITIONS_PER_WORKER = 2


@dataclass(frozen=True)
class RemoteFeatures:
    """Point-in-time feature ranges held by the workers, with the table positions of their rows."""

    parts: list[Future]
    positions: list[np.ndarray]
    workers: list[str]  # the worker each range was placed on, round robin in time order


def _range_features(
    builder: FeatureBuilder,
    declarations: pd.DataFrame,
    labels: pd.DataFrame,
    watchlist: pd.DataFrame | None,
    events: HistoryEvents,
    positions: np.ndarray,
) -> pd.DataFrame:
    features = builder.transform_point_in_time(declarations, labels, watchlist, events=events)
    features.index = pd.Index(positions)
    return features


def features_on_dask(
    client: Client,
    builder: FeatureBuilder,
    declarations: pd.DataFrame,
    labels: pd.DataFrame,
    positions: np.ndarray,
    watchlist: pd.DataFrame | None = None,
    partitions: int = 0,
) -> tuple[pd.DataFrame, RemoteFeatures]:
    """Point-in-time features of ``declarations`` built by range on the workers: the live
    inputs (entity history and watchlist hits) each row had at lodging, as one process
    builds them (`FeatureBuilder.transform_point_in_time`).

    ``positions`` label the rows (positions in the whole dataset); ``watchlist`` (canonical,
    sent once to every worker) gives the hits; ``partitions`` is the number of lodging-time
    ranges (0: two per worker). Returns the features gathered here, indexed by
    ``positions`` in input order, and the ranges as they stay on the workers.
    """
    count = partitions or PARTITIONS_PER_WORKER * max(1, len(client.scheduler_info()["workers"]))
    cut = time_partitions(declarations, labels, builder.threats, count)
    remote_builder = client.scatter(builder, broadcast=True)
    remote_watchlist = None if watchlist is None else client.scatter(watchlist, broadcast=True)
    ranges = [
        (rows, events) for rows, events in zip(cut.rows, cut.events, strict=True) if len(rows)
    ]
    # Ranges placed round robin, so a run gives each worker the same rows: lightgbm.dask
    # trains each worker on the ranges it holds, and its trees depend on that split.
    addresses = sorted(client.scheduler_info()["workers"])
    placed = [addresses[index % len(addresses)] for index in range(len(ranges))]
    parts = [
        client.submit(
            _range_features,
            remote_builder,
            declarations.iloc[rows],
            labels.iloc[rows],
            remote_watchlist,
            events,
            positions[rows],
            pure=False,
            workers=[worker],
            allow_other_workers=False,
        )
        for (rows, events), worker in zip(ranges, placed, strict=True)
    ]
    row_positions = [positions[rows] for rows, _ in ranges]
    gathered = pd.concat(client.gather(parts)).loc[positions]
    return gathered, RemoteFeatures(parts, row_positions, placed)


def _training_rows(
    features: pd.DataFrame, chosen: Sequence[str], label: np.ndarray, weight: np.ndarray
) -> pd.DataFrame:
    """A range's rows that train this threat: chosen features, label and weight."""
    rows = features.index.to_numpy()
    keep = ~np.isnan(label[rows])
    frame = features.loc[keep, list(chosen)].copy()
    frame[LABEL] = label[rows][keep]
    frame[WEIGHT] = weight[rows][keep]
    return frame


def refit_on_dask(
    client: Client,
    remote: RemoteFeatures,
    model: ThreatModel,
    train_rows: np.ndarray,
    y_train: np.ndarray,
    weights: np.ndarray,
    categorical: Sequence[str],
    settings: FitSettings,
) -> ThreatModel:
    """The chosen model fitted again by ``lightgbm.dask`` on the workers' training rows.

    Same size, features, monotone constraints, weights and seed as the selected booster, for
    the number of rounds early stopping chose on the valid window.
    """
    length = 1 + max(int(positions.max()) for positions in remote.positions)
    label = np.full(length, np.nan)
    label[train_rows] = y_train
    weight = np.zeros(length)
    weight[train_rows] = weights
    label_remote, weight_remote = client.scatter([label, weight], broadcast=True)
    pieces = [
        client.submit(
            _training_rows,
            part,
            model.features,
            label_remote,
            weight_remote,
            workers=[worker],
            allow_other_workers=False,
        )
        for part, positions, worker in zip(
            remote.parts, remote.positions, remote.workers, strict=True
        )
        if np.isin(positions, train_rows).any()
    ]
    meta = pd.DataFrame(
        {name: pd.Series(dtype="float64") for name in [*model.features, LABEL, WEIGHT]}
    )
    table = dd.from_delayed(pieces, meta=meta, verify_meta=False)
    directions = monotone_directions(model.threat, model.features) if settings.monotone else {}
    params = lightgbm_params(
        model.size, settings, [int(directions.get(f, 0)) for f in model.features]
    )
    # lightgbm.dask sets each worker's threads to its Dask threads: none oversubscribes.
    params.pop("num_threads")
    rounds = model.booster.best_iteration or model.booster.current_iteration()
    estimator = lgb.DaskLGBMClassifier(client=client, n_estimators=rounds, **params)
    estimator.fit(
        table[list(model.features)],
        table[LABEL],
        sample_weight=table[WEIGHT],
        categorical_feature=[c for c in categorical if c in model.features] or "auto",
    )
    return replace(model, booster=estimator.booster_)
