"""Weighted random draws and per-row membership tests that several simulation steps share.

Every draw takes the run's one generator as its first argument: which step draws what, and in
which order, is decided by the caller (see `training.synthetic.simulation`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def zipf_weights(size: int, exponent: float) -> np.ndarray:
    """Activity weights of a pool: a few large traders, many small ones."""
    weights = 1.0 / np.arange(1, size + 1, dtype=float) ** exponent
    return weights / weights.sum()


def weighted_choice(
    rng: np.random.Generator, options: tuple[tuple[str, float], ...], n: int
) -> np.ndarray:
    """Draw `n` values from (value, weight) pairs."""
    values = np.array([value for value, _ in options], dtype=object)
    weights = np.array([weight for _, weight in options], dtype=float)
    return values[rng.choice(len(values), n, p=weights / weights.sum())]


def bernoulli_by_weight(
    rng: np.random.Generator, weights: np.ndarray, expected: float
) -> np.ndarray:
    """Rows drawn independently with probability proportional to `weights`, `expected` in total."""
    total = weights.sum()
    if total <= 0 or expected <= 0:
        return np.zeros(len(weights), dtype=bool)
    probability = np.minimum(1.0, weights * (expected / total))
    return rng.random(len(weights)) < probability


def contains_leg(routes: np.ndarray, legs: tuple[str, ...]) -> np.ndarray:
    """Whether each route string (e.g. "GR>MK>RS") passes any of the legs (e.g. "MK>RS")."""
    codes, distinct = pd.factorize(routes)
    passes = np.array([any(leg in str(route) for leg in legs) for route in distinct], dtype=bool)
    return passes[codes] if len(distinct) else np.zeros(len(routes), dtype=bool)


def among(values: np.ndarray, options: object) -> np.ndarray:
    """Whether each value is one of `options` (hash lookup: fast on text arrays)."""
    return pd.Series(values, dtype=object, copy=False).isin(list(options)).to_numpy()  # type: ignore[call-overload]
