"""Metric functions on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from training import metrics

# Ten labelled declarations, scores already in descending order for readability.
Y = np.array([1, 0, 1, 1, 0, 0, 0, 1, 0, 0])
SCORES = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
DUTY = np.array([100.0, 0.0, 50.0, 0.0, 0.0, 0.0, 0.0, 850.0, 0.0, 0.0])


@pytest.mark.parametrize(
    ("rate", "n", "expected"),
    [
        (0.01, 10, 1),
        (0.1, 10, 1),
        (0.15, 10, 2),
        (0.3, 10, 3),
        (0.05, 8481, 425),
        (1.0, 3, 3),
        (0.5, 0, 0),
    ],
)
def test_top_k_count_is_ceiling_of_rate_times_n(rate: float, n: int, expected: int) -> None:
    assert metrics.top_k_count(rate, n) == expected


@pytest.mark.parametrize(
    ("rate", "precision", "recall", "revenue"),
    [
        (0.1, 1.0, 0.25, 0.1),  # top 1: one hit of four, 100 of 1000 duty
        (0.2, 0.5, 0.25, 0.1),  # top 2: hit, miss
        (0.4, 0.75, 0.75, 0.15),  # top 4: three hits, 150 of 1000
        (0.8, 0.5, 1.0, 1.0),  # top 8: all four hits, all duty
    ],
)
def test_precision_recall_revenue_at_rate(
    rate: float, precision: float, recall: float, revenue: float
) -> None:
    assert metrics.precision_at(Y, SCORES, rate) == pytest.approx(precision)
    assert metrics.recall_at(Y, SCORES, rate) == pytest.approx(recall)
    assert metrics.revenue_at(DUTY, SCORES, rate) == pytest.approx(revenue)


def test_ranking_does_not_depend_on_input_order() -> None:
    order = np.random.default_rng(0).permutation(len(Y))
    assert metrics.precision_at(Y[order], SCORES[order], 0.4) == pytest.approx(0.75)


def test_ties_are_broken_by_input_order() -> None:
    y = np.array([0, 1])
    scores = np.array([0.5, 0.5])
    assert metrics.precision_at(y, scores, 0.5) == 0.0


def test_threat_metrics_shape_and_values() -> None:
    probabilities = SCORES
    result = metrics.threat_metrics(Y, SCORES, [0.1, 0.4], probabilities=probabilities, duty=DUTY)
    assert result["n"] == 10
    assert result["positives"] == 4
    # 4 positives x 6 negatives = 24 pairs; positive scores .9,.7,.6,.2 beat 6,5,5,2 negatives.
    assert result["roc_auc"] == pytest.approx(18 / 24)
    # Average precision: mean of precision at each positive: 1/1, 2/3, 3/4, 4/8.
    assert result["pr_auc"] == pytest.approx((1 + 2 / 3 + 3 / 4 + 4 / 8) / 4)
    assert result["precision_at"] == {"0.1": 1.0, "0.4": 0.75}
    assert result["revenue_at"]["0.4"] == pytest.approx(0.15)
    expected_brier = float(np.mean((SCORES - Y) ** 2))
    assert result["brier"] == pytest.approx(expected_brier)


def test_revenue_at_is_absent_when_no_duty_is_known() -> None:
    result = metrics.threat_metrics(Y, SCORES, [0.1], duty=np.full(10, np.nan))
    assert "revenue_at" not in result
    nothing_assessed = metrics.threat_metrics(Y, SCORES, [0.1], duty=np.zeros(10))
    assert math.isnan(nothing_assessed["revenue_at"]["0.1"])


def test_auc_is_nan_for_a_single_class() -> None:
    result = metrics.threat_metrics(np.zeros(5), np.arange(5.0), [0.2])
    assert math.isnan(result["roc_auc"])
    assert math.isnan(result["recall_at"]["0.2"])


def test_calibration_curve_uses_equal_count_bins() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.3, 0.6, 0.8])
    curve = metrics.calibration_curve(y, p, bins=2)
    assert curve == [
        {"predicted": pytest.approx(0.2), "observed": 0.0, "count": 2.0, "weight": 0.5},
        {"predicted": pytest.approx(0.7), "observed": 1.0, "count": 2.0, "weight": 0.5},
    ]


def test_sliced_metrics_skip_small_slices() -> None:
    y = np.array([1, 0] * 20 + [1, 0])
    scores = np.linspace(1, 0, len(y))
    groups = np.array(["A"] * 40 + ["B"] * 2)
    result = metrics.sliced_metrics(y, scores, groups, [0.05], min_rows=30)
    assert list(result) == ["A"]
    assert result["A"]["n"] == 40


def test_rate_key_matches_json_shape() -> None:
    assert [metrics.rate_key(r) for r in (0.01, 0.05, 0.10)] == ["0.01", "0.05", "0.1"]


def test_weighted_calibration_reads_the_population_the_weights_stand_for() -> None:
    """One inspected positive picked with probability 0.5 and negatives picked with 0.01:
    weighted, the observed rate is 2 / (2 + 300), not the 1 / 4 of the inspected rows."""
    y = np.array([1.0, 0.0, 0.0, 0.0])
    p = np.full(4, 0.01)
    weights = np.array([2.0, 100.0, 100.0, 100.0])
    (only_bin,) = metrics.calibration_curve(y, p, bins=1, weights=weights)
    assert only_bin["observed"] == pytest.approx(2 / 302)
    assert only_bin["weight"] == 1.0 and only_bin["count"] == 4.0
    assert metrics.expected_calibration_error(y, p, bins=1) == pytest.approx(0.24)
    assert metrics.expected_calibration_error(y, p, bins=1, weights=weights) == pytest.approx(
        abs(0.01 - 2 / 302)
    )
    assert metrics.brier_score(y, p, weights) < metrics.brier_score(y, p)
