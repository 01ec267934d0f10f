"""Metrics as customs measures them: what a ranking finds at a given inspection rate.

An administration inspects a small share of declarations; what matters is how many
irregularities (and how much additional duty) the top of the ranking holds. All metrics here
are computed on labelled (inspected) declarations only: an uninspected declaration is
unlabelled, never a negative.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

MIN_SLICE_ROWS = 30


def rate_key(rate: float) -> str:
    """The JSON key of an inspection rate: 0.05 -> "0.05", 0.10 -> "0.1"."""
    return f"{rate:g}"


def top_k_count(rate: float, n: int) -> int:
    """How many of ``n`` declarations an inspection rate selects: ceil(rate x n), at least 1."""
    if n <= 0:
        return 0
    return min(n, max(1, math.ceil(rate * n - 1e-9)))


def ranking(scores: np.ndarray) -> np.ndarray:
    """Indices from highest to lowest score; ties keep input order so results are reproducible."""
    return np.argsort(-np.asarray(scores, dtype=float), kind="stable")


def precision_at(y: np.ndarray, scores: np.ndarray, rate: float) -> float:
    """Share of positives among the top ceil(rate x N) declarations by score."""
    k = top_k_count(rate, len(y))
    if k == 0:
        return float("nan")
    top = ranking(scores)[:k]
    return float(np.asarray(y, dtype=float)[top].mean())


def recall_at(y: np.ndarray, scores: np.ndarray, rate: float) -> float:
    """Share of all positives that the top ceil(rate x N) declarations hold."""
    y = np.asarray(y, dtype=float)
    positives = y.sum()
    k = top_k_count(rate, len(y))
    if positives == 0 or k == 0:
        return float("nan")
    top = ranking(scores)[:k]
    return float(y[top].sum() / positives)


def revenue_at(duty: np.ndarray, scores: np.ndarray, rate: float) -> float:
    """Share of all additional duty assessed that the top ceil(rate x N) declarations hold."""
    duty = np.nan_to_num(np.asarray(duty, dtype=float), nan=0.0)
    total = duty.sum()
    k = top_k_count(rate, len(duty))
    if total <= 0 or k == 0:
        return float("nan")
    top = ranking(scores)[:k]
    return float(duty[top].sum() / total)


def _weights(weights: np.ndarray | None, n: int) -> np.ndarray:
    return np.ones(n) if weights is None else np.asarray(weights, dtype=float)


def brier_score(
    y: np.ndarray, probabilities: np.ndarray, weights: np.ndarray | None = None
) -> float:
    """(Weighted) mean squared error of calibrated probabilities against 0/1 outcomes."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(probabilities, dtype=float)
    if not len(y):
        return float("nan")
    return float(np.average((p - y) ** 2, weights=_weights(weights, len(y))))


def calibration_curve(
    y: np.ndarray, probabilities: np.ndarray, bins: int = 10, weights: np.ndarray | None = None
) -> list[dict[str, float]]:
    """Mean predicted vs observed rate in equal-count bins of the predicted probability.

    Equal-count bins keep every point meaningful when almost all probabilities are tiny.
    With ``weights`` (inverse selection probabilities) both means are weighted, so the
    observed rate is an estimate over every declaration the inspected ones stand for;
    ``count`` stays the number of rows, ``weight`` is the bin's share of the total weight.
    """
    y = np.asarray(y, dtype=float)
    p = np.asarray(probabilities, dtype=float)
    if len(y) == 0:
        return []
    w = _weights(weights, len(y))
    total = w.sum()
    order = np.argsort(p, kind="stable")
    curve = []
    for chunk in np.array_split(order, min(bins, len(y))):
        if len(chunk) == 0 or w[chunk].sum() <= 0:
            continue
        curve.append(
            {
                "predicted": float(np.average(p[chunk], weights=w[chunk])),
                "observed": float(np.average(y[chunk], weights=w[chunk])),
                "count": float(len(chunk)),
                "weight": float(w[chunk].sum() / total),
            }
        )
    return curve


def expected_calibration_error(
    y: np.ndarray, probabilities: np.ndarray, bins: int = 10, weights: np.ndarray | None = None
) -> float:
    """Sum over equal-count bins of |mean predicted - observed rate|, each bin by its weight."""
    curve = calibration_curve(y, probabilities, bins, weights)
    if not curve:
        return float("nan")
    return float(sum(b["weight"] * abs(b["predicted"] - b["observed"]) for b in curve))


def _safe_auc(fn: Any, y: np.ndarray, scores: np.ndarray) -> float:
    if len(np.unique(y)) < 2:
        return float("nan")
    return float(fn(y, scores))


def threat_metrics(
    y: np.ndarray,
    scores: np.ndarray,
    rates: Sequence[float],
    *,
    probabilities: np.ndarray | None = None,
    duty: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    curve_bins: int = 10,
) -> dict[str, Any]:
    """All ranking metrics of one threat on labelled declarations.

    Args:
        y: 0/1 labels of labelled declarations.
        scores: ranking scores (higher = inspect first).
        rates: inspection rates, e.g. [0.01, 0.05].
        probabilities: calibrated probabilities for Brier score and the calibration curve.
        duty: additional duty per declaration; revenue_at is present when any duty is known
            (NaN where no duty was assessed at all, as there is no share to hold).
        weights: weights of the calibration measures (inverse selection probabilities, see
            `training.weighting`); ranking metrics are never weighted.
    """
    y = np.asarray(y, dtype=float)
    scores = np.asarray(scores, dtype=float)
    result: dict[str, Any] = {
        "n": len(y),
        "positives": int(y.sum()),
        "roc_auc": _safe_auc(roc_auc_score, y, scores),
        "pr_auc": _safe_auc(average_precision_score, y, scores),
        "precision_at": {rate_key(r): precision_at(y, scores, r) for r in rates},
        "recall_at": {rate_key(r): recall_at(y, scores, r) for r in rates},
    }
    if duty is not None and np.isfinite(np.asarray(duty, dtype=float)).any():
        result["revenue_at"] = {rate_key(r): revenue_at(duty, scores, r) for r in rates}
    if probabilities is not None:
        result["brier"] = brier_score(y, probabilities, weights)
        result["calibration"] = calibration_curve(y, probabilities, curve_bins, weights)
        result["ece"] = expected_calibration_error(y, probabilities, curve_bins, weights)
    return result


def sliced_metrics(
    y: np.ndarray,
    scores: np.ndarray,
    groups: np.ndarray,
    rates: Sequence[float],
    *,
    duty: np.ndarray | None = None,
    min_rows: int = MIN_SLICE_ROWS,
) -> dict[str, dict[str, Any]]:
    """Per-slice ROC-AUC, PR-AUC and precision/recall at rates, for slices with enough rows.

    Small slices are left out rather than reported with numbers nobody should trust.
    """
    y = np.asarray(y, dtype=float)
    scores = np.asarray(scores, dtype=float)
    groups = np.asarray(groups, dtype=object)
    out: dict[str, dict[str, Any]] = {}
    for value in sorted({str(g) for g in groups if g is not None and g == g}):
        mask = groups.astype(str) == value
        if mask.sum() < min_rows:
            continue
        out[value] = threat_metrics(
            y[mask], scores[mask], rates, duty=None if duty is None else np.asarray(duty)[mask]
        )
    return out


def selection_score(metrics: Mapping[str, Any]) -> float:
    """One number to compare models of a threat: mean precision at the inspection rates.

    PR-AUC breaks ties (scaled down so it never outweighs a real precision gain).
    """
    precisions = [v for v in metrics["precision_at"].values() if not math.isnan(v)]
    precision = float(np.mean(precisions)) if precisions else 0.0
    pr_auc = metrics.get("pr_auc", float("nan"))
    return precision + 1e-3 * (0.0 if math.isnan(pr_auc) else pr_auc)
