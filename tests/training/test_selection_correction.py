"""Issue 14: risk is a rate over all declarations, measured against the hidden truth.

The session's synthetic declarations are inspected again as intelligence-led selection would
(`bench.bench_calibration.intelligence_outcomes`): a declaration that truly carries a threat
is 20 times likelier to be inspected, for reasons no feature shows, and every probability is
recorded. Calibrated on the inspected declarations as they are, the risk is the rate among
the inspected, many times the rate in ordinary traffic; weighted by inverse selection
probability it is the rate over every declaration of the test window, inspected or not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.bench_calibration import against_truth, intelligence_outcomes
from features.dataset import load_dataset
from models.calibration import Calibrator
from training.config import TrainingConfig
from training.fit import FitSettings
from training.pipeline import fit_run
from training.splits import split_positions, windows_from_config
from training.synthetic import training_config

from ..conftest import FAST_MODEL, SYNTH_SPLIT

pytestmark = pytest.mark.slow
# Mean risk over all test declarations within this factor of the true rate. Without the
# correction the ratio is 7 to 13 on these data; with it 0.7 to 1.9 before the entity history
# became live (point in time from the store), 0.7 to 3.1 since (migrants 3.06: an open
# question, issue 14). 4 still fails every threat of the uncorrected fit.
RATIO_TOLERANCE = 4.0


@pytest.fixture(scope="module")
def corrected(synthetic_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    declarations = pd.read_parquet(synthetic_dir / "declarations.parquet")
    truth = pd.read_parquet(synthetic_dir / "truth.parquet")
    outcomes = tmp_path_factory.mktemp("intelligence") / "outcomes.parquet"
    intelligence_outcomes(declarations, truth, seed=1).to_parquet(outcomes)
    tables = {
        "declarations": synthetic_dir / "declarations.parquet",
        "outcomes": outcomes,
        "watchlist": synthetic_dir / "watchlist.parquet",
    }
    model = {**FAST_MODEL, "bootstrap_resamples": 0}
    config = TrainingConfig.model_validate(training_config(tables, SYNTH_SPLIT, model=model))
    dataset = load_dataset(config.source)
    run = fit_run(config, dataset, FitSettings.from_config(config.model))
    windows = windows_from_config(config.split)
    test = split_positions(dataset.declarations, dataset.labels, windows)["test"]
    window = dataset.declarations.iloc[test]
    hidden = truth.set_index("declaration_id").loc[window["declaration_id"]]
    return run, run.bundle.margins(window), hidden


def test_risk_is_the_rate_over_all_declarations(corrected) -> None:
    run, margins, truth = corrected
    assert run.bundle.metadata["risk_basis"] == "all_declarations"
    risk = {t: run.bundle.calibrators[t].predict(m) for t, m in margins.items()}
    measured = against_truth(risk, truth)
    for threat, values in measured.items():
        assert 1 / RATIO_TOLERANCE < values["ratio"] < RATIO_TOLERANCE, (threat, values)


def test_the_unweighted_calibration_fails_the_same_tolerance(corrected) -> None:
    """What the code before issue 14 fitted, on the same margins: many times too high."""
    run, margins, truth = corrected
    unweighted = {
        t: Calibrator().fit(rows.margin, rows.labels).predict(margins[t])
        for t, rows in run.calibration_rows.items()
    }
    weighted = {t: run.bundle.calibrators[t].predict(m) for t, m in margins.items()}
    before, after = against_truth(unweighted, truth), against_truth(weighted, truth)
    for threat in before:
        assert before[threat]["ratio"] > 2 * RATIO_TOLERANCE, (threat, before[threat])
        assert after[threat]["ece"] < before[threat]["ece"] / 3, threat


def test_metrics_carry_the_basis_and_weighted_calibration(corrected) -> None:
    run, _, _ = corrected
    assert run.metrics["risk_basis"] == "all_declarations"
    assert run.metrics["evaluation_basis"] == "all_declarations"
    for threat, values in run.metrics["threats"].items():
        curve = values["calibration"]
        assert sum(b["weight"] for b in curve) == pytest.approx(1.0)
        # Weighted, the observed rate is near the Horvitz-Thompson estimate, far below the
        # share of positives among the inspected.
        observed = sum(b["weight"] * b["observed"] for b in curve)
        inspected_share = values["positives"] / values["n"]
        assert observed < inspected_share / 3, threat
        assert np.isfinite(values["ece"]) and values["mean_risk"] > 0
