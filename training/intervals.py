"""Bootstrap intervals for what a ranking finds at an inspection rate, vectorised.

A test window holds a handful of weapons seizures: precision at 1% on it is a few hits out of
a few dozen picks, and the number alone says nothing about how far it could move on another
window. Resampling the labelled declarations with replacement (seeded) and recomputing the
metric on each resample gives a percentile interval.

Everything is computed on one ``(resamples, declarations)`` matrix of counts: each resample is
the multiset of declarations it drew, read in the ranking's order, so the top ``k`` of a
resample is the first ``k`` units of the cumulated counts. Nothing loops over resamples, and
two rankings of the same declarations share the counts (the paired bootstrap of promotion).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from training.metrics import ranking, rate_key, top_k_count

DEFAULT_RESAMPLES = 300
DEFAULT_LEVEL = 0.95
# Resamples per block: bounds memory at block x declarations counts.
_BLOCK_CELLS = 4_000_000


@dataclass(frozen=True)
class Bootstrap:
    """How intervals are drawn: number of resamples, confidence level and seed."""

    resamples: int = DEFAULT_RESAMPLES
    level: float = DEFAULT_LEVEL
    seed: int = 0

    def counts(self, n: int) -> np.ndarray:
        """``(resamples, n)`` counts: how often each declaration is drawn in each resample."""
        rng = np.random.default_rng(self.seed)
        out = np.empty((self.resamples, n), dtype=np.int32)
        block = max(1, _BLOCK_CELLS // max(n, 1))
        for start in range(0, self.resamples, block):
            stop = min(self.resamples, start + block)
            draws = rng.integers(0, n, size=(stop - start, n))
            offsets = (np.arange(stop - start) * n)[:, None]
            out[start:stop] = np.bincount(
                (draws + offsets).ravel(), minlength=(stop - start) * n
            ).reshape(stop - start, n)
        return out

    def interval(self, values: np.ndarray) -> list[float | None]:
        """The percentile interval of resampled values (NaN resamples left out)."""
        finite = np.asarray(values, dtype=float)
        finite = finite[np.isfinite(finite)]
        if len(finite) == 0:
            return [None, None]
        tail = (1.0 - self.level) / 2.0 * 100.0
        lo, hi = np.percentile(finite, [tail, 100.0 - tail])
        return [float(lo), float(hi)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": "bootstrap",
            "resamples": self.resamples,
            "level": self.level,
            "seed": self.seed,
        }


def top_k_shares(
    counts: np.ndarray, scores: np.ndarray, values: np.ndarray, rate: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per resample: the sum of ``values`` over the top ``rate`` share, and over all units.

    ``counts`` is ``(resamples, n)`` over the declarations in input order; the ranking is
    the one every metric uses (`training.metrics.ranking`).
    """
    order = ranking(scores)
    ranked = counts[:, order]
    ranked_values = np.asarray(values, dtype=float)[order]
    k = top_k_count(rate, counts.shape[1])
    before = np.cumsum(ranked, axis=1) - ranked
    inside = np.clip(k - before, 0, ranked)
    return inside @ ranked_values, ranked @ ranked_values


def resampled_precision(
    counts: np.ndarray, y: np.ndarray, scores: np.ndarray, rate: float
) -> np.ndarray:
    """Precision at ``rate`` on each resample."""
    k = top_k_count(rate, counts.shape[1])
    if k == 0:
        return np.full(counts.shape[0], np.nan)
    hits, _ = top_k_shares(counts, scores, y, rate)
    return hits / k


def _ratio(top: np.ndarray, total: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, top / np.where(total > 0, total, 1.0), np.nan)


def rate_intervals(
    y: np.ndarray,
    scores: np.ndarray,
    rates: Sequence[float],
    bootstrap: Bootstrap,
    *,
    duty: np.ndarray | None = None,
) -> dict[str, dict[str, list[float | None]]]:
    """Intervals of precision, recall (and revenue share when duty is known) at each rate.

    Keys as in the metrics file, with ``_interval``: ``precision_at_interval: {"0.05": [lo, hi]}``.
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    out: dict[str, dict[str, list[float | None]]] = {
        "precision_at_interval": {},
        "recall_at_interval": {},
    }
    with_duty = duty is not None and bool(np.isfinite(np.asarray(duty, dtype=float)).any())
    if with_duty:
        out["revenue_at_interval"] = {}
    if n == 0:
        for key in out:
            out[key] = {rate_key(r): [None, None] for r in rates}
        return out
    counts = bootstrap.counts(n)
    money = np.nan_to_num(np.asarray(duty, dtype=float), nan=0.0) if with_duty else None
    for rate in rates:
        key = rate_key(rate)
        k = top_k_count(rate, n)
        hits, positives = top_k_shares(counts, scores, y, rate)
        out["precision_at_interval"][key] = bootstrap.interval(hits / k)
        out["recall_at_interval"][key] = bootstrap.interval(_ratio(hits, positives))
        if money is not None:
            found, total = top_k_shares(counts, scores, money, rate)
            out["revenue_at_interval"][key] = bootstrap.interval(_ratio(found, total))
    return out


def paired_precision_difference(
    y: np.ndarray,
    candidate: np.ndarray,
    champion: np.ndarray,
    rates: Sequence[float],
    bootstrap: Bootstrap,
) -> dict[str, Any]:
    """Mean precision over ``rates`` of two rankings of the same declarations, and their difference.

    Both rankings are read on the same resamples (a paired bootstrap), so what the window's
    declarations have in common cancels and the interval is that of the difference itself.
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    if n == 0 or not rates:
        raise ValueError("a paired comparison needs labelled declarations and inspection rates")
    counts = bootstrap.counts(n)
    observed = np.ones((1, n), dtype=np.int32)

    def mean_precision(scores: np.ndarray, draws: np.ndarray) -> np.ndarray:
        return np.mean([resampled_precision(draws, y, scores, r) for r in rates], axis=0)

    candidate_value = float(mean_precision(candidate, observed)[0])
    champion_value = float(mean_precision(champion, observed)[0])
    difference = mean_precision(candidate, counts) - mean_precision(champion, counts)
    lo, hi = bootstrap.interval(difference)
    return {
        "candidate": candidate_value,
        "champion": champion_value,
        "difference": candidate_value - champion_value,
        "interval": [lo, hi],
        "n": n,
        "positives": int(y.sum()),
    }


def with_intervals(
    metrics: Mapping[str, Any],
    y: np.ndarray,
    scores: np.ndarray,
    rates: Sequence[float],
    bootstrap: Bootstrap | None,
    *,
    duty: np.ndarray | None = None,
) -> dict[str, Any]:
    """``metrics`` with the interval keys added (unchanged when ``bootstrap`` is None)."""
    if bootstrap is None:
        return dict(metrics)
    return {**metrics, **rate_intervals(y, scores, rates, bootstrap, duty=duty)}
