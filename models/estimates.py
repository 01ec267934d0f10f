"""Rate estimates from inspections: Horvitz-Thompson with known selection probabilities, and
the Wilson interval of a plain hit rate.

Shared by training (`training.hit_rates`, test-window figures) and serving (the performance
monitor over stored outcomes, `serving.model.performance`), so both read a rate the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

WILSON_Z = 1.959963984540054  # the 97.5% normal quantile: a 95% interval


@dataclass(frozen=True)
class RateEstimate:
    """A Horvitz-Thompson estimate of a rate, with its standard error."""

    rate: float
    standard_error: float


def horvitz_thompson_rate(
    hits: np.ndarray, probabilities: np.ndarray, population: int
) -> RateEstimate:
    """Estimated share of positives among ``population`` declarations from a probability sample.

    Args:
        hits: 0/1 outcome of each inspected declaration.
        probabilities: inclusion probability of each (0 < p <= 1).
        population: number of declarations the sample was drawn from.

    The standard error is the Poisson-sampling variance ``sum((1 - p) / p^2 * y^2)`` with
    ``y^2`` replaced by its expectation ``r (1 - r)``, ``r`` the weighted hit rate of the
    uncertain picks: with rare threats a few random hits would otherwise give intervals far
    too narrow (or none at all). Certain picks (p = 1) add no sampling variance.
    """
    y = np.asarray(hits, dtype=float)
    p = np.asarray(probabilities, dtype=float)
    if y.shape != p.shape:
        raise ValueError(f"{y.shape[0]} hits but {p.shape[0]} probabilities")
    if population <= 0:
        raise ValueError(f"population must be positive, got {population}")
    if np.any(~np.isfinite(p) | (p <= 0) | (p > 1)):
        raise ValueError("every selection probability must lie in (0, 1]")
    total = float(np.sum(y / p))
    uncertain = p < 1
    variance = 0.0
    if uncertain.any():
        weights = 1.0 / p[uncertain]
        rate = float(np.sum(y[uncertain] * weights) / np.sum(weights))
        variance = float(np.sum((1.0 - p[uncertain]) * weights**2) * rate * (1.0 - rate))
    return RateEstimate(total / population, math.sqrt(variance) / population)


def wilson_interval(hits: int, n: int, *, z: float = WILSON_Z) -> tuple[float, float] | None:
    """The Wilson score interval (95% by default) of a hit rate ``hits / n``; None when n = 0.

    Unlike the normal approximation it stays inside [0, 1] and is not empty at 0 hits, which
    matters for rare threats: 0 hits in 40 random picks still allows a rate up to about 9%.
    """
    if n <= 0:
        return None
    if not 0 <= hits <= n:
        raise ValueError(f"hits must lie between 0 and n = {n}, got {hits}")
    share = hits / n
    denominator = 1.0 + z * z / n
    centre = (share + z * z / (2 * n)) / denominator
    half = z * math.sqrt(share * (1.0 - share) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def picked_rate(hits: np.ndarray, chosen: np.ndarray) -> dict[str, Any]:
    """``n``, ``hits`` and ``rate`` (None without picks) of the chosen rows' 0/1 hits."""
    n, found = int(chosen.sum()), int(hits[chosen].sum())
    return {"n": n, "hits": found, "rate": found / n if n else None}


def picked_rate_interval(hits: np.ndarray, chosen: np.ndarray) -> dict[str, Any]:
    """`picked_rate` with its 95% Wilson ``interval`` (None without picks): how the service
    shows a hit rate of inspections (the monitor's random picks, a risk profile's picks)."""
    picks = picked_rate(hits, chosen)
    interval = wilson_interval(picks["hits"], picks["n"])
    picks["interval"] = None if interval is None else list(interval)
    return picks
