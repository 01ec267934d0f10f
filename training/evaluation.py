"""Evaluation of a run on its test window: the bundle's metrics at the inspection rates with
bootstrap intervals and slices, both baselines, the rankings a paired comparison needs and the
global SHAP explanations.

The bundle scores the test window exactly as the service does, with the live inputs each
declaration had at lodging, so what training reports is what serving will show.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from features.columns import DeclarationColumns
from features.dataset import Dataset
from features.live import LiveInputs, live_point_in_time
from features.schema import label_column
from models.bundle import ModelBundle
from training.baselines import (
    DEFAULT_LOGISTIC_C,
    LOGISTIC_C_GRID,
    RuleProfileBaseline,
    finite,
    select_logistic_baseline,
)
from training.explanations import global_explanations
from training.fit import FitSettings, ThreatModel
from training.hit_rates import hit_rates
from training.intervals import Bootstrap, with_intervals
from training.metrics import selection_score, sliced_metrics, threat_metrics
from training.selection import MIN_VALID_POSITIVES
from training.weighting import INSPECTED_ONLY, RISK_BASIS_KEY, basis_weights, risk_basis

SLICE_DIMENSIONS = ("office_id", "origin_country", "hs_chapter")
IMPORTANCE_SAMPLE_ROWS = 2000


def labelled_positions(
    labels: pd.DataFrame, threat: str, positions: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Positions (into the frame) of rows labelled for a threat, and their 0/1 labels."""
    y = labels[label_column(threat)].to_numpy(dtype=float)[positions]
    mask = ~np.isnan(y)
    return positions[mask], y[mask]


def calibrated_risk(bundle: ModelBundle, margins: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each threat's calibrated risk from its raw margins."""
    return {t: bundle.calibrators[t].predict(m) for t, m in margins.items()}


def _slice_dimensions(declarations: pd.DataFrame) -> dict[str, np.ndarray]:
    return {
        "office_id": declarations["office_id"].astype(str).to_numpy(),
        "origin_country": declarations["origin_country"].astype(str).to_numpy(),
        "hs_chapter": declarations["hs_code"].astype(str).str[:2].to_numpy(),
    }


def bundle_metrics(
    bundle: ModelBundle,
    dataset: Dataset,
    positions: np.ndarray,
    rates: Sequence[float],
    *,
    live: LiveInputs | None = None,
    num_threads: int = 1,
    bootstrap: Bootstrap | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Metrics and slices of a bundle on the declarations at ``positions`` (labelled ones count).

    The bundle scores the declarations exactly as the service does, with the entity history
    and watchlist hits each had at lodging (``live``, row for row with the whole dataset;
    default: rebuilt point in time from the dataset), so evaluation and serving agree. Ranking
    metrics are read on the labelled declarations as they are (DESIGN.md); calibration (Brier
    score, curve, expected calibration error) is weighted by inverse selection probability
    where the window's probabilities allow it (``evaluation_basis``), so it measures the risk
    against the rate over all declarations. ``mean_risk`` is the mean risk over every
    declaration of the window, to read beside the Horvitz-Thompson ``hit_rates``. With
    ``bootstrap``, every rate metric gets its interval (``precision_at_interval`` ...).
    """
    declarations, labels = dataset.declarations, dataset.labels
    if live is None:
        live = live_point_in_time(
            DeclarationColumns(declarations),
            labels,
            list(bundle.builder.threats),
            dataset.watchlist,
        )
    window = declarations.iloc[positions]
    risk = calibrated_risk(
        bundle, bundle.margins(window, live=live.take(positions), num_threads=num_threads)
    )
    return risk_metrics(bundle, dataset, positions, risk, rates, bootstrap=bootstrap)


def risk_metrics(
    bundle: ModelBundle,
    dataset: Dataset,
    positions: np.ndarray,
    risk: dict[str, np.ndarray],
    rates: Sequence[float],
    *,
    bootstrap: Bootstrap | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`bundle_metrics` of risks already scored (``risk``: per threat, one value per
    declaration at ``positions``), so a run that scored its test window measures it as is."""
    labels = dataset.labels
    window = dataset.declarations.iloc[positions]
    duty = labels["additional_duty_eur"].to_numpy(dtype=float)[positions]
    probability = labels["selection_probability"].to_numpy(dtype=float)[positions]
    evaluation_basis = risk_basis(labels, positions)
    dimensions = _slice_dimensions(window)
    threats_out: dict[str, Any] = {}
    slices: dict[str, Any] = {}
    for threat in risk:
        if label_column(threat) not in labels:
            continue
        y_all = labels[label_column(threat)].to_numpy(dtype=float)[positions]
        mask = ~np.isnan(y_all)
        y, score = y_all[mask], risk[threat][mask]
        weights = basis_weights(probability[mask], evaluation_basis)
        measured = threat_metrics(
            y, score, rates, probabilities=score, duty=duty[mask], weights=weights
        )
        measured["mean_risk"] = float(np.mean(risk[threat])) if len(risk[threat]) else None
        threats_out[threat] = with_intervals(measured, y, score, rates, bootstrap, duty=duty[mask])
        slices[threat] = {
            name: sliced_metrics(y, score, values[mask], rates, duty=duty[mask])
            for name, values in dimensions.items()
        }
    metrics = {
        "n_test": int(labels["inspected"].to_numpy(dtype=bool)[positions].sum()),
        "n_test_declarations": len(positions),
        # What the bundle's risk is a rate of, and how this window's calibration was read.
        RISK_BASIS_KEY: bundle.metadata.get(RISK_BASIS_KEY, INSPECTED_ONLY),
        "evaluation_basis": evaluation_basis,
        "threats": threats_out,
        # How often past selection found something, and the unbiased rate its random picks
        # allow: the ground a model's precision should be read against.
        "hit_rates": {
            threat: rates_.as_dict()
            for threat, rates_ in hit_rates(labels.iloc[positions], list(threats_out)).items()
        },
    }
    if bootstrap is not None:
        metrics["intervals"] = bootstrap.as_dict()
    return metrics, slices


def evaluate_test(
    bundle: ModelBundle,
    dataset: Dataset,
    test: np.ndarray,
    train: np.ndarray,
    valid: np.ndarray,
    X_history: pd.DataFrame,
    models: dict[str, ThreatModel],
    rates: Sequence[float],
    settings: FitSettings,
    test_live: LiveInputs,
) -> tuple[
    dict[str, Any],
    dict[str, dict[str, Any]],
    dict[str, Any],
    dict[str, Any],
    dict[str, dict[str, np.ndarray]],
]:
    """Metrics of the bundle and of both baselines, slices, SHAP explanations and rankings.

    The rankings (`FittedRun.test_rankings`) hold, per ranking and threat, the scores of every
    test declaration, and under ``labels`` their labels (NaN where not inspected): what a
    paired comparison of the model with a baseline needs. ``X_history`` holds the
    point-in-time features of (at least) the labelled training and validation declarations,
    indexed by position; ``test_live`` the live inputs of the ``test`` rows, in that order.
    """
    declarations, labels = dataset.declarations, dataset.labels
    bootstrap = settings.bootstrap()
    test_declarations = declarations.iloc[test]
    # The test window's features and risks are built once; the model's metrics, the
    # baselines, the rankings and the explanations all read them.
    X_test = bundle.builder.transform(test_declarations, test_live)
    model_risk = calibrated_risk(
        bundle, bundle.margins(test_declarations, live=test_live, num_threads=settings.threads())
    )
    metrics, slices = risk_metrics(bundle, dataset, test, model_risk, rates, bootstrap=bootstrap)
    duty = labels["additional_duty_eur"].to_numpy(dtype=float)[test]
    categorical = bundle.builder.categorical_features_
    # The logistic baseline picks its features (the model's groups or all) and its penalty on
    # validation (training.baselines.select_logistic_baseline), as the model picked its own.
    features = list(bundle.builder.feature_names_)
    baselines: dict[str, dict[str, Any]] = {"logistic_regression": {}, "rules": {}}
    rankings: dict[str, dict[str, np.ndarray]] = {
        "labels": {},
        "shiprisk": {},
        "logistic_regression": {},
        "rules": {},
    }
    for threat, model in models.items():
        y_all = labels[label_column(threat)].to_numpy(dtype=float)[test]
        mask = ~np.isnan(y_all)
        y = y_all[mask]
        rankings["labels"][threat] = y_all
        rankings["shiprisk"][threat] = model_risk[threat]
        train_rows, y_train = labelled_positions(labels, threat, train)
        valid_rows, y_valid = labelled_positions(labels, threat, valid)
        # With too few validation positives to choose anything the model skips its selection,
        # and so does the baseline: the model's features at the default penalty.
        choose = np.nansum(y_valid) >= MIN_VALID_POSITIVES
        logistic, logistic_features, _ = select_logistic_baseline(
            X_history.loc[train_rows],
            y_train,
            X_history.loc[valid_rows],
            y_valid,
            [model.features, features] if choose else [model.features],
            categorical,
            lambda truth, scores: selection_score(threat_metrics(truth, scores, rates)),
            penalties=LOGISTIC_C_GRID if choose else (DEFAULT_LOGISTIC_C,),
            seed=settings.seed,
        )
        logistic_score = logistic.predict_proba(finite(X_test[logistic_features]))[:, 1]
        rules = RuleProfileBaseline().fit(declarations.iloc[train_rows], y_train)
        for name, every in (
            ("logistic_regression", logistic_score),
            ("rules", rules.score(test_declarations)),
        ):
            rankings[name][threat] = every
            score = every[mask]
            baselines[name][threat] = with_intervals(
                threat_metrics(y, score, rates, duty=duty[mask]),
                y,
                score,
                rates,
                bootstrap,
                duty=duty[mask],
            )
    explained = global_explanations(
        {t: m.booster for t, m in models.items()},
        {t: m.features for t, m in models.items()},
        X_test,
        sample_rows=IMPORTANCE_SAMPLE_ROWS,
    )
    return metrics, baselines, slices, explained, rankings
