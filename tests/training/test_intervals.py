"""Bootstrap intervals at inspection rates: the vectorised resampling agrees with a plain loop."""

from __future__ import annotations

import numpy as np
import pytest

from training import metrics
from training.intervals import (
    Bootstrap,
    paired_precision_difference,
    rate_intervals,
    resampled_precision,
)


def case(n: int = 400, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.1).astype(float)
    scores = y * 0.4 + rng.random(n)
    duty = np.where(y > 0, rng.gamma(2.0, 500.0, n), 0.0)
    return y, scores, duty


def test_counts_are_resamples_of_every_declaration() -> None:
    counts = Bootstrap(resamples=50, seed=3).counts(120)
    assert counts.shape == (50, 120)
    assert (counts.sum(axis=1) == 120).all()
    np.testing.assert_array_equal(counts, Bootstrap(resamples=50, seed=3).counts(120))
    assert not np.array_equal(counts, Bootstrap(resamples=50, seed=4).counts(120))


def test_vectorised_precision_equals_recomputing_each_resample() -> None:
    y, scores, _ = case()
    counts = Bootstrap(resamples=40, seed=1).counts(len(y))
    fast = resampled_precision(counts, y, scores, 0.05)
    for row, draws in enumerate(counts):
        rows = np.repeat(np.arange(len(y)), draws)
        # Ties inside a resample (a declaration drawn twice) fall in input order.
        assert fast[row] == pytest.approx(metrics.precision_at(y[rows], scores[rows], 0.05))


def test_one_resample_of_each_declaration_gives_the_metric_itself() -> None:
    y, scores, _ = case()
    ones = np.ones((1, len(y)), dtype=np.int32)
    for rate in (0.01, 0.05, 0.2):
        assert resampled_precision(ones, y, scores, rate)[0] == pytest.approx(
            metrics.precision_at(y, scores, rate)
        )


def test_intervals_hold_the_estimate_and_shrink_with_more_data() -> None:
    bootstrap = Bootstrap(resamples=300, seed=0)
    small = case(300, seed=2)
    large = case(6000, seed=2)
    widths = []
    for y, scores, duty in (small, large):
        out = rate_intervals(y, scores, [0.05, 0.1], bootstrap, duty=duty)
        assert set(out) == {"precision_at_interval", "recall_at_interval", "revenue_at_interval"}
        for key, name in (("precision_at", "precision"), ("recall_at", "recall")):
            fn = getattr(metrics, f"{name}_at")
            lo, hi = out[f"{key}_interval"]["0.05"]
            assert lo <= fn(y, scores, 0.05) <= hi
        lo, hi = out["revenue_at_interval"]["0.1"]
        assert lo <= metrics.revenue_at(duty, scores, 0.1) <= hi
        lo, hi = out["precision_at_interval"]["0.05"]
        widths.append(hi - lo)
    assert widths[1] < widths[0] / 2


def test_no_duty_no_revenue_interval_and_no_rows_no_numbers() -> None:
    y, scores, _ = case(100)
    assert "revenue_at_interval" not in rate_intervals(y, scores, [0.1], Bootstrap(resamples=20))
    empty = rate_intervals(np.zeros(0), np.zeros(0), [0.1], Bootstrap(resamples=20))
    assert empty["precision_at_interval"] == {"0.1": [None, None]}


def test_paired_difference_of_a_ranking_with_itself_is_exactly_zero() -> None:
    y, scores, _ = case()
    same = paired_precision_difference(y, scores, scores, [0.05, 0.1], Bootstrap(resamples=200))
    assert same["difference"] == 0.0 and same["interval"] == [0.0, 0.0]
    noise = np.random.default_rng(9).random(len(y))
    worse = paired_precision_difference(y, noise, scores, [0.05, 0.1], Bootstrap(resamples=200))
    assert worse["interval"][1] < 0 < worse["champion"] - worse["candidate"]
