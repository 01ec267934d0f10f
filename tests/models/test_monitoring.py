"""Drift figures: PSI by hand, missing values as their own bin, lane shares, the report files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from models.monitoring import (
    DriftSummary,
    lane_shares,
    population_stability_index,
    write_drift_report,
)


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
