"""Hit rates: the model's own rate, and the Horvitz-Thompson estimate from known probabilities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.hit_rates import hit_rates, horvitz_thompson_rate


def test_horvitz_thompson_by_hand() -> None:
    # 10 declarations; a certain pick that hit, a 1/4 pick that hit, a 1/4 pick that missed:
    # hits stand for 1 + 4 = 5 declarations -> rate 0.5. The uncertain picks hit at a
    # weighted rate r = 4 / 8 = 0.5: variance 2 x (1 - 1/4) x 16 x r (1 - r) = 6.
    estimate = horvitz_thompson_rate(np.array([1, 1, 0]), np.array([1.0, 0.25, 0.25]), 10)
    assert estimate.rate == pytest.approx(0.5)
    assert estimate.standard_error == pytest.approx(np.sqrt(6) / 10)


def test_certain_picks_alone_have_no_sampling_error() -> None:
    estimate = horvitz_thompson_rate(np.array([1, 0, 1]), np.array([1.0, 1.0, 1.0]), 6)
    assert (estimate.rate, estimate.standard_error) == (pytest.approx(2 / 6), 0.0)


def test_probabilities_must_be_positive() -> None:
    with pytest.raises(ValueError, match=r"every selection probability must lie in \(0, 1\]"):
        horvitz_thompson_rate(np.array([1]), np.array([0.0]), 5)


def labels_frame() -> pd.DataFrame:
    """8 declarations: 2 model picks (one hit), 2 random picks at 1/3 (one hit), 1 officer pick."""
    return pd.DataFrame(
        {
            "inspected": [True, True, True, True, True, False, False, False],
            "selection_reason": ["model", "model", "random", "random", "officer", None, None, None],
            "selection_probability": [1.0, 1.0, 1 / 3, 1 / 3, np.nan, np.nan, np.nan, np.nan],
            "label_revenue": [1.0, 0.0, 1.0, 0.0, 1.0, np.nan, np.nan, np.nan],
        }
    )


def test_model_rate_and_unbiased_estimate_side_by_side() -> None:
    rates = hit_rates(labels_frame(), ["revenue"])["revenue"]
    assert rates.model_selected_hit_rate == 0.5
    assert rates.random_hit_rate == 0.5
    # (1 + 3) hits-equivalent over 8 declarations; the officer pick has no probability
    assert rates.estimated_rate == pytest.approx(0.5)
    assert rates.unknown_probability == 1
    assert (rates.declarations, rates.inspected, rates.model_selected, rates.random_selected) == (
        8,
        5,
        2,
        2,
    )


def test_no_random_inspection_no_estimate() -> None:
    labels = labels_frame()
    labels.loc[[2, 3], "selection_reason"] = "model"
    labels.loc[[2, 3], "selection_probability"] = 1.0
    rates = hit_rates(labels, ["revenue"])["revenue"]
    assert rates.estimated_rate is None
    assert rates.random_hit_rate is None
    assert rates.model_selected_hit_rate == 0.5
