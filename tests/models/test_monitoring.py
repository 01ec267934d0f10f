"""Drift figures: PSI by hand, missing values as their own bin, lane shares, the report files,
and the reference the bundle keeps (plain JSON, hashed like every bundle file)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models import monitoring
from models.bundle import DRIFT_REFERENCE_FILE, BundleIntegrityError, ModelBundle, verify_bundle
from models.monitoring import (
    PSI_MAJOR,
    DriftSummary,
    MissingDriftReference,
    ReferenceBins,
    bundle_reference,
    drift_reference,
    drift_summary,
    lane_shares,
    population_stability_index,
    write_drift_report,
)
from tests.models.test_bundle import load, make_bundle, make_declarations


def test_psi_of_a_categorical_shift_by_hand() -> None:
    reference = np.array([0.0] * 50 + [1.0] * 50)
    current = np.array([0.0] * 25 + [1.0] * 75)
    # (0.25 - 0.5) ln(0.25 / 0.5) + (0.75 - 0.5) ln(0.75 / 0.5); the empty missing bin adds 0
    expected = -0.25 * np.log(0.5) + 0.25 * np.log(1.5)
    assert population_stability_index(reference, current, categorical=True) == pytest.approx(
        expected
    )


def test_same_distribution_is_stable_and_a_shift_is_major() -> None:
    rng = np.random.default_rng(0)
    reference = rng.normal(size=20_000)
    assert population_stability_index(reference, rng.normal(size=20_000)) < 0.01
    assert population_stability_index(reference, rng.normal(loc=1.0, size=20_000)) > 0.25


def test_values_arriving_empty_count_as_drift() -> None:
    reference = np.arange(100, dtype=float)
    current = np.arange(100, dtype=float)
    current[:50] = np.nan
    # deciles: each reference bin 10%; current: the upper five 10% each, missing 50%
    expected = 5 * (1e-4 - 0.1) * np.log(1e-4 / 0.1) + (0.5 - 1e-4) * np.log(0.5 / 1e-4)
    assert population_stability_index(reference, current) == pytest.approx(expected)


def test_lane_shares() -> None:
    assert lane_shares(["red", "green", "green", "yellow"]) == {
        "red": 0.25,
        "yellow": 0.25,
        "green": 0.5,
    }


def test_report_files(tmp_path: Path) -> None:
    summary = DriftSummary(
        model={"name": "shiprisk", "version": "4"},
        reference_window={"start": "2024-01-01", "end": "2024-01-31"},
        recent_window={"start": "2024-05-01", "end": "2024-05-08"},
        reference_rows=1000,
        recent_rows=200,
        feature_psi={"unit_value_vs_hs_median": 0.31, "hour_of_day": 0.02},
        score_psi={"risk_revenue": 0.12, "overall": 0.05},
        lane_shares={
            "reference": {"red": 0.02, "yellow": 0.08, "green": 0.9},
            "recent": {"red": 0.05, "yellow": 0.1, "green": 0.85},
        },
        alerts=["feature unit_value_vs_hs_median: PSI 0.31 (major shift)"],
    )
    markdown, png, data = write_drift_report(summary, tmp_path / "report")
    text = markdown.read_text()
    assert "| unit_value_vs_hs_median | 0.310 | major shift |" in text
    assert "| risk_revenue | 0.120 | moderate shift |" in text
    assert "| red | 2.0% | 5.0% |" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(data.read_text())["feature_psi"]["hour_of_day"] == 0.02


def json_round_trip(bins: ReferenceBins) -> ReferenceBins:
    return ReferenceBins.from_dict(json.loads(json.dumps(bins.to_dict(), allow_nan=False)))


def test_a_category_the_reference_never_had_is_its_own_bin() -> None:
    bins = json_round_trip(ReferenceBins.of(np.array([0.0, 0.0, 1.0, 1.0]), categorical=True))
    assert (bins.edges, bins.shares) == ((0.0, 1.0), (0.5, 0.5, 0.0))
    # current: all in category 2; categories 0 and 1 and the missing bin are empty (floored)
    expected = 2 * (1e-4 - 0.5) * np.log(1e-4 / 0.5) + (1 - 1e-4) * np.log(1 / 1e-4)
    assert bins.psi(np.array([2.0] * 4)) == pytest.approx(expected)


@pytest.mark.filterwarnings("ignore:invalid value encountered in subtract")  # inf - inf
@pytest.mark.parametrize(
    ("reference", "current", "categorical"),
    [
        (
            np.r_[np.arange(50.0), [np.inf] * 30, [np.nan] * 20],
            np.r_[np.arange(20.0), np.inf],
            False,
        ),
        (np.array([np.nan] * 5), np.array([1.0, np.nan]), False),
        (np.array([3.0, 3.0, 7.0, np.nan]), np.array([7.0, 9.0, np.nan, np.nan]), True),
        (
            np.random.default_rng(1).lognormal(size=500),
            np.random.default_rng(2).lognormal(size=90),
            False,
        ),
    ],
)
def test_bins_survive_strict_json_and_give_the_same_psi(
    reference: np.ndarray, current: np.ndarray, categorical: bool
) -> None:
    bins = ReferenceBins.of(reference, categorical=categorical)
    read = json_round_trip(bins)
    assert read.to_dict() == bins.to_dict()  # (an edge may be NaN: quantiles among infinities)
    assert read.psi(current) == population_stability_index(
        reference, current, categorical=categorical
    )
    assert sum(read.shares) == pytest.approx(1.0)


def test_shares_that_do_not_fit_the_edges_are_refused() -> None:
    with pytest.raises(ValueError, match="3 shares do not fit 2 bin edges"):
        ReferenceBins.from_dict(
            {"categorical": False, "edges": [1.0, 2.0], "shares": [0.5, 0.5, 0]}
        )


def bundle_with_reference() -> tuple[ModelBundle, pd.DataFrame]:
    """The tiny stand-in bundle of the bundle tests, with the reference training would add."""
    bundle, declarations = make_bundle(300, seed=7)
    bundle.drift_reference = drift_reference(bundle, declarations, window=WINDOW).to_dict()
    return bundle, declarations


WINDOW = {"start": "2024-01-01", "end": "2024-06-30"}


def test_the_reference_travels_in_the_bundle_and_verification_covers_it(tmp_path: Path) -> None:
    bundle, _ = bundle_with_reference()
    bundle.save(tmp_path / "bundle")
    assert DRIFT_REFERENCE_FILE in verify_bundle(tmp_path / "bundle").files
    reference = bundle_reference(load(tmp_path / "bundle"))
    assert reference == bundle_reference(bundle)
    assert (reference.window, reference.rows) == (WINDOW, 300)
    assert list(reference.features) == bundle.features
    assert list(reference.scores) == ["risk_weapons", "risk_migrants", "risk_revenue", "overall"]
    assert sum(reference.lanes.values()) == pytest.approx(1.0)

    path = tmp_path / "bundle" / DRIFT_REFERENCE_FILE
    data = json.loads(path.read_text())
    data["lanes"]["red"] += 0.01
    path.write_text(json.dumps(data, indent=2) + "\n")
    with pytest.raises(BundleIntegrityError) as error:
        load(tmp_path / "bundle")
    assert error.value.problems == [
        f"{DRIFT_REFERENCE_FILE}: sha256 does not match the manifest (file changed)"
    ]


def test_drift_from_the_reference_equals_psi_against_the_training_rows() -> None:
    bundle, training = bundle_with_reference()
    recent = make_declarations(80, seed=11)
    recent["customs_value_eur"] *= 3  # declared values drift upwards
    scores = bundle.risk_frame(recent)
    summary = drift_summary(
        bundle, recent, scores, model={"name": "shiprisk"}, recent_window=WINDOW
    )
    train_matrix, recent_matrix = bundle.matrix(training), bundle.matrix(recent)
    assert summary.feature_psi == {
        feature: population_stability_index(
            train_matrix[:, i], recent_matrix[:, i], categorical=feature == "transport_mode_code"
        )
        for i, feature in enumerate(bundle.features)
    }
    training_scores = bundle.risk_frame(training)
    assert summary.score_psi == {
        name: population_stability_index(training_scores[name], scores[name])
        for name in ["risk_weapons", "risk_migrants", "risk_revenue", "overall"]
    }
    assert summary.lane_shares["reference"] == lane_shares(training_scores["lane"].tolist())
    assert summary.feature_psi["log_value_per_kg"] > PSI_MAJOR
    assert "feature log_value_per_kg" in " ".join(summary.alerts)


def test_a_bundle_saved_without_a_reference_asks_for_retraining(tmp_path: Path) -> None:
    bundle, declarations = make_bundle(300, seed=7)
    bundle.save(tmp_path / "old")
    assert DRIFT_REFERENCE_FILE not in verify_bundle(tmp_path / "old").files
    old = load(tmp_path / "old")
    assert old.drift_reference is None
    with pytest.raises(MissingDriftReference, match="retrain it"):
        drift_summary(
            old, declarations, old.risk_frame(declarations), model={}, recent_window=WINDOW
        )


def test_a_large_training_window_is_sampled_the_same_way_each_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(monitoring, "REFERENCE_SAMPLE_ROWS", 120)
    bundle, declarations = make_bundle(300, seed=7)
    reference = drift_reference(bundle, declarations, window=WINDOW)
    assert reference.rows == 120
    overall = bundle.risk_frame(declarations.sample(120, random_state=0))["overall"].to_numpy()
    assert reference.scores["overall"] == ReferenceBins.of(overall)
    assert reference.scores["overall"] != ReferenceBins.of(
        bundle.risk_frame(declarations)["overall"].to_numpy()
    )
    assert drift_reference(bundle, declarations, window=WINDOW) == reference
