"""Issue 14: risk is a rate over all declarations, measured against the hidden truth.

The session's synthetic declarations are inspected again as intelligence-led selection would
(`bench.bench_calibration.intelligence_outcomes`): a declaration that truly carries a threat
is 20 times likelier to be inspected, for reasons no feature shows, and every probability is
recorded. Calibrated on the inspected declarations as they are, the risk is the rate among
the inspected, many times the rate in ordinary traffic; weighted by inverse selection
probability it is the rate over every declaration of the test window, inspected or not.

Each test declaration is scored with the history it had at lodging, as the service scores it.
Scored against an empty store (as this test did until issue 14's follow-up), every importer,
vehicle and carrier looked new to boosters that never saw that, and migrants' corrected ratio
wandered between 0.3 and 3.2 over four inspection draws: the 3.06 that had widened the
tolerance to 4.

What remains is inherent, measured in bench/RESULTS.md: (1) the test window's migrants rate is
1.9 times the valid window's, because the generator's last fifth opens a new route the model
never saw (a scheme absent from the training window); no weighting of earlier inspections can
carry it, so the ratio is read against the cases of schemes the training window held
(`known_scheme_truth`), and against every case it is about half of that for migrants;
(2) the valid window's weighted rate rests on a handful of inspected positives (4 to 11 for
weapons and migrants), whose Horvitz-Thompson estimate is within about a factor 2 of the truth
(relative standard error ~1/sqrt(positives)): hence a tolerance of 2, not tighter.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.bench_calibration import against_truth, intelligence_outcomes, scored_test_window
from models.calibration import Calibrator

from ..conftest import FAST_MODEL, SYNTH_SPLIT

pytestmark = pytest.mark.slow
# Mean risk over all test declarations within this factor of the true rate of known schemes.
# Measured over four inspection draws (bench/RESULTS.md): without the correction 5.4 to 14;
# with it weapons 0.83-1.17, revenue 0.97-1.20, migrants 0.55-1.35 (0.29-0.71 against every
# case, the new route included). This draw: 1.17, 1.15, 1.20.
RATIO_TOLERANCE = 2.0


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
    scored = scored_test_window(
        tables, truth, SYNTH_SPLIT, {**FAST_MODEL, "bootstrap_resamples": 0}
    )
    return scored.run, scored.margins, scored.known


def test_risk_is_the_rate_over_all_declarations(corrected) -> None:
    run, margins, truth = corrected
    assert run.bundle.metadata["risk_basis"] == "all_declarations"
    risk = {t: run.bundle.calibrators[t].predict(m) for t, m in margins.items()}
    measured = against_truth(risk, truth)
    for threat, values in measured.items():
        assert 1 / RATIO_TOLERANCE < values["ratio"] < RATIO_TOLERANCE, (threat, values)


def test_the_weighted_calibration_is_anchored_on_the_whole_valid_window(corrected) -> None:
    """Its mean risk over every valid declaration is the weighted rate of the inspected ones."""
    run, _, _ = corrected
    for threat, rows in run.calibration_rows.items():
        calibrator = run.bundle.calibrators[threat]
        weights = 1.0 / rows.selection_probability
        rate = np.average(rows.labels, weights=weights)
        # Platt's smoothed targets pull the anchor a little below the raw weighted rate.
        assert calibrator.anchored_rate_ == pytest.approx(rate, rel=0.1), threat
        assert calibrator.anchored_rate_ < rows.labels.mean() / 3, threat  # not the inspected rate


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
