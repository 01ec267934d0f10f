"""The risk basis a run can claim, and the inverse-probability weights behind it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.weighting import (
    ALL_DECLARATIONS,
    INSPECTED_ONLY,
    basis_weights,
    inverse_probability_weights,
    risk_basis,
)


def labels(probability: list[float | None], inspected: list[bool]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "inspected": inspected,
            "selection_probability": [np.nan if p is None else p for p in probability],
        }
    )


@pytest.mark.parametrize(
    ("probability", "inspected", "expected"),
    [
        # Uninspected rows do not count.
        ([0.03, 1.0, 0.5, None, None], [True, True, True, False, False], ALL_DECLARATIONS),
        # A legacy export: no probability at all.
        ([None, None, None], [True, True, True], INSPECTED_ONLY),
        # No pick below 1: declarations no rule picked could not be inspected at all.
        ([1.0, 1.0, 1.0], [True, True, True], INSPECTED_ONLY),
        # 95% of the inspections known (an officer's pick among them), then 90%.
        ([0.03] * 19 + [None], [True] * 20, ALL_DECLARATIONS),
        ([0.03] * 18 + [None, None], [True] * 20, INSPECTED_ONLY),
    ],
)
def test_risk_basis(probability: list[float | None], inspected: list[bool], expected: str) -> None:
    frame = labels(probability, inspected)
    assert risk_basis(frame, np.arange(len(frame))) == expected


def test_weights_stand_for_declarations_and_unknown_counts_once() -> None:
    weights = inverse_probability_weights(np.array([0.5, 0.02, 1.0, np.nan, 0.0]))
    np.testing.assert_allclose(weights, [2.0, 50.0, 1.0, 1.0, 1.0])
    assert basis_weights(np.array([0.5]), INSPECTED_ONLY) is None


def test_weighted_rate_recovers_the_population_rate() -> None:
    """Self-normalised Horvitz-Thompson: positives picked 20 times likelier count 20 times less."""
    rng = np.random.default_rng(0)
    y = (rng.random(200_000) < 0.01).astype(float)
    p = np.where(y > 0, 0.4, 0.02)
    picked = rng.random(len(y)) < p
    w = inverse_probability_weights(p[picked])
    assert y[picked].mean() > 0.1  # the inspected are mostly positives
    assert np.average(y[picked], weights=w) == pytest.approx(y.mean(), rel=0.15)
