"""Training on a Dask cluster: point-in-time features and live inputs per lodging-time range
on the workers, and model selection's fits on the workers as tasks.

What runs where (`shiprisk train --dask ADDRESS`, or the configuration's ``dask:`` block):

* here, on the client: reading and validating the data, fitting the feature builder
  (reference statistics, vocabularies, text models), the history events of every declaration
  cut into lodging-time ranges with the state carried to each
  (`features.partitions.time_partitions`), calibration, lanes, the drift reference and the
  test window's evaluation;
* on the workers, once per range (`features_on_dask`; the builder and the watchlist are sent
  once to every worker): the live inputs (entity history, watchlist hits) as of lodging of
  the rows the run reads, and nothing else. The features of the rows selection, calibration
  and the baselines read (labelled training rows, the valid window) and the live inputs of
  the rows the drift reference and the test window's evaluation read come back; one
  process builds the live inputs of every declaration and the features of every row up to
  the valid window's end, most of which nothing reads;
* on the workers too, model selection (`select_on_dask`): the labelled rows are sent once
  to every worker; every threat's sizes are tasks, then each threat's feature-group search
  (sequential) is one task, every candidate fitted on one thread as one process fits them
  on its threads. The selected booster is the final model, the same bytes as one process's;
* with ``dask: {final_fit: lightgbm_dask}`` only, each threat's chosen size and features
  fitted again for the selected number of rounds, data-parallel over the workers' ranges
  (``lightgbm.dask``, `refit_on_dask`): LightGBM's distributed training, whose histogram
  bins and bagging are per worker, so its trees differ slightly from one process's (the
  test-window metrics agree within the tolerance of tests/training/test_dask_training.py).
  It is the path for labelled sets whose fit outgrows one worker's time; selection still
  reads each threat's labelled rows on one worker.

The features and live inputs equal the one-process ones exactly
(tests/features/test_partitions.py, tests/training/test_dask_training.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

import dask.dataframe as dd
import lightgbm as lgb
import numpy as np
import pandas as pd
from distributed import Client, Future

from features.builder import FeatureBuilder
from features.live import HistoryEvents, LiveInputs
from features.partitions import time_partitions
from training.fit import FitSettings, ThreatModel, lightgbm_params, monotone_directions
from training.selection import (
    MIN_VALID_POSITIVES,
    SelectionPositions,
    fit_candidate,
    search_groups,
    unselected_model,
)

Selected = TypeVar("Selected")
LABEL = "__label"
WEIGHT = "__weight"
PARTITIONS_PER_WORKER = 2


@dataclass(frozen=True)
class RangeInputs:
    """One lodging-time range as a worker receives it: the rows the run reads, with the
    events they see (`features.partitions.TimePartitions`)."""

    declarations: pd.DataFrame
    labels: pd.DataFrame
    events: HistoryEvents
    positions: np.ndarray  # of the rows in the whole table
    features: np.ndarray  # bool per row: its features are read
    live: np.ndarray  # bool per row: its live inputs are read


@dataclass(frozen=True)
class RangePointInTime:
    """What a worker built for one range."""

    features: pd.DataFrame  # indexed by position in the whole table
    live: LiveInputs
    live_positions: np.ndarray


@dataclass(frozen=True)
class RemoteFeatures:
    """Point-in-time ranges kept on the workers (for ``lightgbm.dask``), with the table
    positions of their feature rows."""

    parts: list[Future]
    positions: list[np.ndarray]
    workers: list[str]  # the worker each range was placed on


@dataclass(frozen=True)
class PointInTime:
    """What the workers built and sent back: features of the rows read as features, live
    inputs of the rows read as live inputs."""

    features: pd.DataFrame  # indexed by position, ascending
    live: LiveInputs
    live_positions: np.ndarray  # ascending, row for row with ``live``
    remote: RemoteFeatures | None = None

    def live_at(self, positions: np.ndarray) -> LiveInputs:
        """The live inputs of the rows at ``positions`` (each one built), in that order."""
        index = np.searchsorted(self.live_positions, positions)
        if len(positions) and (
            index.max() >= len(self.live_positions)
            or not np.array_equal(self.live_positions[index], positions)
        ):
            raise KeyError("live inputs asked for rows that were not built")
        return self.live.take(index)


def _range_point_in_time(
    builder: FeatureBuilder, watchlist: pd.DataFrame | None, inputs: RangeInputs
) -> RangePointInTime:
    live = builder.live_point_in_time(
        inputs.declarations, inputs.labels, watchlist, events=inputs.events
    )
    rows = np.flatnonzero(inputs.features)
    every = len(rows) == len(inputs.positions)
    features = builder.transform_point_in_time(
        inputs.declarations.iloc[rows],
        inputs.labels.iloc[rows],
        live=live if every else live.take(rows),
    )
    features.index = pd.Index(inputs.positions[rows])
    kept = np.flatnonzero(inputs.live)
    return RangePointInTime(features, live.take(kept), inputs.positions[kept])


def _placement(costs: Sequence[int], workers: Sequence[str]) -> list[str]:
    """Each range's worker: the costliest range first, each to the least loaded worker (ties
    to the first). It depends on the data and the workers alone, so a run is repeatable
    (``lightgbm.dask`` trains each worker on the ranges it holds)."""
    load = dict.fromkeys(workers, 0)
    placed = [""] * len(costs)
    for index in sorted(range(len(costs)), key=lambda i: (-costs[i], i)):
        worker = min(workers, key=lambda w: load[w])
        placed[index] = worker
        load[worker] += costs[index]
    return placed


def features_on_dask(
    client: Client,
    builder: FeatureBuilder,
    declarations: pd.DataFrame,
    labels: pd.DataFrame,
    watchlist: pd.DataFrame | None = None,
    *,
    feature_rows: np.ndarray,
    live_rows: np.ndarray | None = None,
    partitions: int = 0,
    keep: bool = False,
) -> PointInTime:
    """Point-in-time features and live inputs of rows of ``declarations`` (the whole table)
    built by lodging-time range on the workers, as one process builds them
    (`FeatureBuilder.transform_point_in_time`, `FeatureBuilder.live_point_in_time`).

    ``feature_rows`` and ``live_rows`` are positions of the rows whose features and whose
    live inputs are wanted; every row still counts in the others' history. ``watchlist``
    (canonical, sent once to every worker) gives the hits; ``partitions`` is the number of
    lodging-time ranges (0: two per worker); ``keep`` leaves the ranges' features on the
    workers for `refit_on_dask`.
    """
    workers = sorted(client.scheduler_info()["workers"])
    count = partitions or PARTITIONS_PER_WORKER * max(1, len(workers))
    cut = time_partitions(declarations, labels, builder.threats, count)
    wanted_features = np.zeros(len(declarations), dtype=bool)
    wanted_features[feature_rows] = True
    wanted_live = np.zeros(len(declarations), dtype=bool)
    if live_rows is not None:
        wanted_live[live_rows] = True
    ranges: list[RangeInputs] = []
    costs: list[int] = []
    for rows, events in zip(cut.rows, cut.events, strict=True):
        read = rows[wanted_features[rows] | wanted_live[rows]]
        if not len(read):
            continue
        ranges.append(
            RangeInputs(
                declarations.iloc[read],
                labels.iloc[read],
                events,
                read,
                wanted_features[read],
                wanted_live[read],
            )
        )
        # What a range costs: sorting its events with its rows, then the features of its rows.
        costs.append(sum(len(log.keys) for log in events.values()) + 2 * len(read))
    remote_builder, remote_watchlist = client.scatter(
        [builder, watchlist], broadcast=True, hash=False
    )
    placed = _placement(costs, workers)
    parts = [
        client.submit(
            _range_point_in_time,
            remote_builder,
            remote_watchlist,
            client.scatter(inputs, workers=[worker], hash=False),
            pure=False,
            workers=[worker],
            allow_other_workers=False,
        )
        for inputs, worker in zip(ranges, placed, strict=True)
    ]
    built: list[RangePointInTime] = client.gather(parts)
    live_positions = np.concatenate([part.live_positions for part in built])
    order = np.argsort(live_positions, kind="stable")
    remote = None
    if keep:
        remote = RemoteFeatures(parts, [part.features.index.to_numpy() for part in built], placed)
    return PointInTime(
        pd.concat([part.features for part in built]).sort_index(),
        LiveInputs.concat([part.live for part in built]).take(order),
        live_positions[order],
        remote,
    )


def select_on_dask(
    client: Client,
    features: pd.DataFrame,
    rows: Mapping[str, SelectionPositions],
    feature_groups: Mapping[str, Sequence[str]],
    categorical: Sequence[str],
    rates: Sequence[float],
    settings: FitSettings,
) -> dict[str, ThreatModel]:
    """`training.selection.select_threat_models` as tasks on the workers: one task per threat and
    size (`training.selection.fit_candidate`), then per threat one task for the feature-group
    search at the chosen size (`training.selection.search_groups`), which is sequential.

    ``features`` (indexed by position) holds every labelled row that ``rows`` name; it is
    sent once to every worker, and each task takes its threat's rows from it. Every
    candidate is fitted on one thread, so each chosen booster is the one one process
    chooses; the finer tasks keep both workers busy where one process's threads wait for
    its last threat.
    """
    one_thread = replace(settings, num_threads=1)
    remote = client.scatter(features, broadcast=True, hash=False)
    chosen: dict[str, Future] = {}
    sizes: dict[str, list[Future]] = {}
    # Every threat's sizes are submitted before any group search, so the workers run them
    # first (Dask runs earlier submissions first): each group search waits for its threat's
    # sizes, and the searches then run side by side instead of one left alone at the end.
    for threat, positions in rows.items():
        if np.nansum(positions.y_valid) < MIN_VALID_POSITIVES:
            chosen[threat] = _selection_task(
                client,
                unselected_model,
                threat,
                remote,
                positions,
                feature_groups,
                categorical,
                one_thread,
            )
            continue
        sizes[threat] = [
            _selection_task(
                client,
                fit_candidate,
                threat,
                remote,
                positions,
                feature_groups,
                categorical,
                rates,
                one_thread,
                size,
            )
            for size in one_thread.sizes
        ]
    for threat, candidates in sizes.items():
        chosen[threat] = _selection_task(
            client,
            search_groups,
            threat,
            remote,
            rows[threat],
            feature_groups,
            categorical,
            rates,
            one_thread,
            candidates,
        )
    models = dict(zip(chosen, client.gather(list(chosen.values())), strict=True))
    return {threat: models[threat] for threat in rows}


def _on_rows(
    step: Callable[..., Selected],
    threat: str,
    features: pd.DataFrame,
    positions: SelectionPositions,
    *args: object,
) -> Selected:
    """A step of `training.selection` on the rows of ``features`` that ``positions``
    name, run on a worker."""
    return step(threat, positions.rows(features), *args)


def _selection_task(
    client: Client,
    step: Callable[..., Selected],
    threat: str,
    features: Future,
    positions: SelectionPositions,
    *args: object,
) -> Future:
    """Submit a selection step; its key names the step and the threat (for the task stream)."""
    key = f"{step.__name__}-{threat}-{uuid.uuid4().hex}"
    return client.submit(_on_rows, step, threat, features, positions, *args, key=key)


def _training_rows(
    part: RangePointInTime, chosen: Sequence[str], label: np.ndarray, weight: np.ndarray
) -> pd.DataFrame:
    """A range's rows that train this threat: chosen features, label and weight."""
    features = part.features
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
    """The chosen model fitted again by ``lightgbm.dask`` on the workers' training rows
    (``dask: {final_fit: lightgbm_dask}``).

    Same size, features, monotone constraints, weights and seed as the selected booster, for
    the number of rounds early stopping chose on the valid window.
    """
    length = 1 + max(int(positions.max()) for positions in remote.positions if len(positions))
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
