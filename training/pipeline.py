"""The training pipeline: load, validate, split, build features, fit, calibrate, evaluate, track.

Everything that can be wrong with the configuration or the data is found before anything is
fitted, and nothing is registered unless the whole run succeeded.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from features.builder import FeatureBuilder
from features.dataset import Dataset, load_dataset
from features.schema import label_column
from models.bundle import ModelBundle
from models.calibration import Calibrator
from models.lanes import LanePolicy
from models.monitoring import drift_reference, reference_sample
from training import report
from training.config import TrainingConfig
from training.evaluation import evaluate_test, labelled_positions
from training.explanations import mean_abs, write_explanations
from training.fit import MIN_TRAIN_POSITIVES, FitSettings, ThreatModel, sample_weights
from training.selection import SelectionPositions, select_threat_models
from training.splits import Window, split_positions, windows_from_config
from training.weighting import (
    INSPECTED_ONLY,
    RISK_BASIS_KEY,
    RiskBasis,
    basis_weights,
    risk_basis,
)

if TYPE_CHECKING:
    from distributed import Client

log = logging.getLogger(__name__)


class TrainingError(ValueError):
    """The run cannot produce a model (for example: no threat has enough positive examples)."""


@dataclass(frozen=True)
class CalibrationRows:
    """What a threat's calibrator was fitted on: the valid window's labelled declarations."""

    margin: np.ndarray
    labels: np.ndarray
    selection_probability: np.ndarray


@dataclass
class FittedRun:
    """Everything a training run produced before it is tracked or registered."""

    bundle: ModelBundle
    metrics: dict[str, Any]
    baselines: dict[str, dict[str, Any]]
    slices: dict[str, dict[str, Any]]
    selection: dict[str, Any]
    importance: dict[str, dict[str, float]]
    windows: dict[str, Window]
    skipped_threats: dict[str, str] = field(default_factory=dict)
    calibration_rows: dict[str, CalibrationRows] = field(default_factory=dict)
    # Per threat, a `shap.Explanation` of the test window sample (training.explanations).
    explanations: dict[str, Any] = field(default_factory=dict)
    # Scores of every test declaration per ranking and threat, labels (evaluate_test).
    test_rankings: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


def trainable_threats(
    dataset: Dataset, train_positions: np.ndarray
) -> tuple[list[str], dict[str, str]]:
    """Threats with enough positive training examples, and why the others were left out."""
    keep, skipped = [], {}
    for threat in dataset.threats:
        y = dataset.labels[label_column(threat)].to_numpy(dtype=float)[train_positions]
        positives = int(np.nansum(y))
        if positives < MIN_TRAIN_POSITIVES:
            skipped[threat] = (
                f"{positives} positive declarations in the training window "
                f"(at least {MIN_TRAIN_POSITIVES} needed)"
            )
        else:
            keep.append(threat)
    if not keep:
        raise TrainingError(
            "no threat has enough positive examples in the training window: "
            + "; ".join(f"{t}: {why}" for t, why in skipped.items())
            + ". Widen split.train or check the label mapping."
        )
    return keep, skipped


def _margins(model: ThreatModel, X: pd.DataFrame, settings: FitSettings) -> np.ndarray:
    """The chosen booster's raw margins of the rows of ``X``."""
    return np.asarray(
        model.booster.predict(
            X[model.features],
            raw_score=True,
            num_iteration=model.booster.best_iteration or None,
            num_threads=settings.threads(),
        )
    )


def fit_run(
    config: TrainingConfig,
    dataset: Dataset,
    settings: FitSettings,
    *,
    client: Client | None = None,
) -> FittedRun:
    """Fit features, per-threat models, calibration and lanes; evaluate on the test window.

    With a Dask ``client``, the live inputs and point-in-time features the run reads are
    built once by lodging-time range on its workers, and model selection runs there as
    tasks; its boosters are one process's (`training.dask_training` says what runs where).
    """
    declarations, labels = dataset.declarations, dataset.labels
    windows = windows_from_config(config.split)
    positions = split_positions(declarations, labels, windows)
    train, valid, test = positions["train"], positions["valid"], positions["test"]
    threats, skipped = trainable_threats(dataset, train)
    rates = list(config.evaluation.inspection_rates)

    builder = FeatureBuilder(
        threats,
        extra_categorical=dataset.extra_categorical,
        extra_numeric=dataset.extra_numeric,
        display_names=dataset.display_names,
        word_lists=tuple(config.features.word_lists),
    )
    builder.fit(declarations.iloc[train], labels.iloc[train])

    # Point-in-time features for everything up to the end of the valid window: older
    # declarations only add history, they are never training rows themselves. Entity
    # history and watchlist hits are those each declaration had at lodging (features.live),
    # as the service reads them from its store; the test window is scored the same way.
    lodged_day = declarations["lodged_at"].dt.tz_convert("UTC").dt.date
    history = np.flatnonzero(np.asarray(lodged_day <= windows["valid"].end))
    groups = {g: list(fs) for g, fs in builder.feature_groups_.items()}
    categorical = list(builder.categorical_features_)
    selection_probability = labels["selection_probability"].to_numpy(dtype=float)
    selection_positions: dict[str, SelectionPositions] = {}
    for threat in threats:
        train_rows, y_train = labelled_positions(labels, threat, train)
        valid_rows, y_valid = labelled_positions(labels, threat, valid)
        weights = sample_weights(
            y_train, selection_probability[train_rows], settings.propensity_weights
        )
        log.info("selecting %s on %d labelled declarations", threat, len(train_rows))
        selection_positions[threat] = SelectionPositions(
            train_rows, y_train, weights, valid_rows, y_valid
        )
    # The training window's declarations the drift reference keeps.
    reference = train if (sample := reference_sample(len(train))) is None else train[sample]

    remote = None
    if client is None:
        # The live inputs of every declaration, built once: the history rows' features, the
        # drift reference and the test window's evaluation all read them (a row's inputs
        # depend only on what happened before it, so later rows do not change them).
        live = builder.live_point_in_time(declarations, labels, dataset.watchlist)
        X_history = builder.transform_point_in_time(
            declarations.iloc[history],
            labels.iloc[history],
            dataset.watchlist,
            live=live.take(history),
        )
        X_history.index = history
        test_live, reference_live = live.take(test), live.take(reference)
        chosen = select_threat_models(
            {t: rows.rows(X_history) for t, rows in selection_positions.items()},
            groups,
            categorical,
            rates,
            settings,
        )
    else:
        from training.dask_training import features_on_dask, select_on_dask

        # The workers build, once, only what is read: the features of the labelled training
        # rows and of the valid window, the live inputs of the test window and the reference.
        labelled = np.unique(
            np.concatenate(
                [np.concatenate([p.train, p.valid]) for p in selection_positions.values()]
            )
        )
        built = features_on_dask(
            client,
            builder,
            declarations,
            labels,
            dataset.watchlist,
            feature_rows=np.union1d(labelled, valid),
            live_rows=np.union1d(test, reference),
            partitions=config.dask.partitions,
            keep=config.dask.final_fit == "lightgbm_dask",
        )
        X_history, remote = built.features, built.remote
        test_live, reference_live = built.live_at(test), built.live_at(reference)
        chosen = select_on_dask(
            client,
            X_history.loc[labelled],
            selection_positions,
            groups,
            categorical,
            rates,
            settings,
        )

    models: dict[str, ThreatModel] = {}
    calibrators: dict[str, Calibrator] = {}
    calibration_rows: dict[str, CalibrationRows] = {}
    window_margins: dict[str, np.ndarray] = {}
    # Calibration is fitted on the valid window's inspections: weighted by inverse selection
    # probability when they are known, so the risk is a rate over all declarations.
    basis: RiskBasis = (
        risk_basis(labels, valid) if settings.selection_correction else INSPECTED_ONLY
    )
    for threat in threats:
        model = chosen[threat]
        threat_rows = selection_positions[threat]
        valid_rows, y_valid = threat_rows.valid, threat_rows.y_valid
        if client is not None and remote is not None:
            from training.dask_training import refit_on_dask

            model = refit_on_dask(
                client,
                remote,
                model,
                threat_rows.train,
                threat_rows.y_train,
                threat_rows.w_train,
                categorical,
                settings,
            )
        models[threat] = model
        # Every declaration of the valid window, inspected or not: the population the
        # weighted calibration speaks for (its mean risk is anchored on it) and the lanes'.
        window_margins[threat] = _margins(model, X_history.loc[valid], settings)
        valid_margin = window_margins[threat][np.searchsorted(valid, valid_rows)]
        calibration_rows[threat] = CalibrationRows(
            valid_margin, y_valid, selection_probability[valid_rows]
        )
        calibration_weights = basis_weights(selection_probability[valid_rows], basis)
        calibrators[threat] = Calibrator().fit(
            valid_margin,
            y_valid,
            sample_weight=calibration_weights,
            population_margin=None if calibration_weights is None else window_margins[threat],
        )

    # Lanes are fitted on every declaration of the valid window, inspected or not: capacity
    # is a share of all declarations.
    valid_risk = {t: calibrators[t].predict(m) for t, m in window_margins.items()}
    overall = 1.0 - np.prod([1.0 - r for r in valid_risk.values()], axis=0)
    lanes = LanePolicy(
        red=config.lanes.red,
        yellow=config.lanes.yellow,
        offices={o: (c.red, c.yellow) for o, c in config.lanes.offices.items()},
    ).fit(overall, declarations["office_id"].iloc[valid].to_numpy())

    selection = {
        t: {
            "size": m.size,
            "dropped_groups": m.dropped_groups,
            "n_features": len(m.features),
            "trials": [trial.as_dict() for trial in m.trials],
            "note": m.skipped_selection,
        }
        for t, m in models.items()
    }
    bundle = ModelBundle(
        builder=builder,
        boosters={t: m.booster for t, m in models.items()},
        calibrators=calibrators,
        lanes=lanes,
        features=[
            f for f in builder.feature_names_ if any(f in m.features for m in models.values())
        ],
        metadata={
            "training_window": {name: w.as_dict() for name, w in windows.items()},
            "inspection_rates": rates,
            "selection": selection,
            "skipped_threats": skipped,
            "seed": settings.seed,
            # What the risk is a rate of (training.weighting): serving shows it beside scores.
            RISK_BASIS_KEY: basis,
        },
    )
    # What drift monitoring compares recent scoring with: the training window as the final
    # bundle sees it, kept in the bundle so the service never reads training data.
    bundle.drift_reference = drift_reference(
        bundle,
        declarations.iloc[reference],
        window=windows["train"].as_dict(),
        live=reference_live,
        num_threads=settings.threads(),
    ).to_dict()

    metrics, baselines, slices, explained, rankings = evaluate_test(
        bundle, dataset, test, train, valid, X_history, models, rates, settings, test_live
    )
    importance = {threat: mean_abs(explanation) for threat, explanation in explained.items()}
    bundle.metadata["metrics"] = metrics
    bundle.metadata["baselines"] = baselines
    bundle.metadata["importance"] = importance
    bundle.metadata["slices"] = slices  # per office, origin and HS chapter, for the model page
    return FittedRun(
        bundle,
        metrics,
        baselines,
        slices,
        selection,
        importance,
        windows,
        skipped,
        calibration_rows,
        explained,
        rankings,
    )


@dataclass
class TrainingResult:
    """What `shiprisk train` reports: the metrics file content and where the model went."""

    metrics: dict[str, Any]
    run_id: str | None
    version: str | None
    bundle: ModelBundle


def train(
    config: TrainingConfig,
    *,
    tracking_uri: str,
    experiment: str = "shiprisk",
    model_name: str = "shiprisk",
    register: bool = True,
    config_path: Path | None = None,
    metrics_out: Path | None = None,
    dask_scheduler: str | None = None,
) -> TrainingResult:
    """Run the whole pipeline and track it in MLflow; register the bundle unless told not to.

    ``dask_scheduler`` (else the configuration's ``dask.scheduler``) runs feature building
    and model selection on that Dask cluster (`models.cluster.dask_client`).
    """
    from models import registry
    from training import tracking

    settings = FitSettings.from_config(config.model)
    dataset = load_dataset(config.source)
    scheduler = dask_scheduler or config.dask.scheduler
    if scheduler:
        from models.cluster import dask_client

        with dask_client(scheduler) as client:
            run = fit_run(config, dataset, settings, client=client)
    else:
        run = fit_run(config, dataset, settings)
    fingerprint = tracking.data_fingerprint(dataset.declarations, dataset.labels)
    run.bundle.metadata["data"] = fingerprint
    run.bundle.metadata["name"] = model_name

    tracking.configure(tracking_uri)
    experiment_id = tracking.ensure_experiment(experiment, tracking_uri)
    import mlflow

    with tempfile.TemporaryDirectory(prefix="shiprisk-run-") as tmp:
        work = Path(tmp)
        bundle_dir = work / "bundle"
        run.bundle.save(bundle_dir)
        with mlflow.start_run(experiment_id=experiment_id) as active:
            run_id = active.info.run_id
            mlflow.log_params(_params(config, settings, run))
            mlflow.set_tags(
                {
                    "shiprisk.data_sha256": fingerprint["sha256"],
                    "shiprisk.dask": scheduler or "none",
                }
            )
            mlflow.log_dict(config.model_dump(mode="json"), "config/config.json")
            if config_path is not None:
                mlflow.log_artifact(str(config_path), "config")
            mlflow.log_dict(_json_safe(fingerprint), "data_fingerprint.json")
            mlflow.log_metrics(tracking.flatten_metrics({"test": run.metrics["threats"]}))
            mlflow.log_metrics(tracking.flatten_metrics({"baseline": run.baselines}))
            rates = list(config.evaluation.inspection_rates)
            plots = work / "plots"
            plots.mkdir()
            mlflow.log_artifact(
                str(report.plot_rates(run.metrics, run.baselines, plots / "rates.png")), "plots"
            )
            mlflow.log_artifact(
                str(report.plot_calibration(run.metrics, plots / "calibration.png")), "plots"
            )
            mlflow.log_artifact(
                str(report.plot_shap_summary(run.importance, plots / "shap_summary.png")), "plots"
            )
            # shap.Explanation objects (npz + JSON, loadable with
            # training.explanations.load_explanation) and their beeswarm/dependence plots.
            write_explanations(run.explanations, work / "shap")
            mlflow.log_artifacts(str(work / "shap"), "shap")
            card = report.model_card(
                name=model_name,
                windows={n: w.as_dict() for n, w in run.windows.items()},
                fingerprint=fingerprint,
                metrics=run.metrics,
                baselines=run.baselines,
                slices=run.slices,
                selection=run.selection,
                rates=rates,
                skipped_threats=run.skipped_threats,
            )
            mlflow.log_text(card, "model_card.md")
            mlflow.log_dict(_json_safe(run.slices), "metrics/slices.json")
            mlflow.log_dict(_json_safe(run.baselines), "metrics/baselines.json")
            mlflow.log_dict(_json_safe(run.selection), "metrics/selection.json")
            version = None
            if register:
                version = registry.log_bundle(bundle_dir, registered_model_name=model_name)
            else:
                mlflow.log_artifacts(str(bundle_dir), "bundle")
            metrics_file = {
                "model": {"name": model_name, "version": version, "run_id": run_id},
                **run.metrics,
                # The same measures for the baselines, so every run shows its gain over both.
                "baselines": run.baselines,
            }
            mlflow.log_dict(_json_safe(metrics_file), "metrics/metrics.json")
    if metrics_out is not None:
        metrics_out.parent.mkdir(parents=True, exist_ok=True)
        metrics_out.write_text(json.dumps(_json_safe(metrics_file), indent=2) + "\n")
    return TrainingResult(metrics_file, run_id, version, run.bundle)


def _params(config: TrainingConfig, settings: FitSettings, run: FittedRun) -> dict[str, Any]:
    params: dict[str, Any] = {
        "seed": settings.seed,
        "propensity_weights": settings.propensity_weights,
        "inspection_rates": ",".join(f"{r:g}" for r in config.evaluation.inspection_rates),
        "threats": ",".join(run.selection),
        "skipped_threats": ",".join(run.skipped_threats) or "none",
    }
    for name, window in run.windows.items():
        params[f"{name}_window"] = f"{window.start}..{window.end}"
    for threat, choice in run.selection.items():
        params[f"{threat}.size"] = choice["size"]
        params[f"{threat}.dropped_groups"] = ",".join(choice["dropped_groups"]) or "none"
        params[f"{threat}.n_features"] = choice["n_features"]
    return params


def _json_safe(value: Any) -> Any:
    """NaN and infinities become null: JSON has no such numbers."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
