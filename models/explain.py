"""Exact SHAP explanations of each threat's booster, and the plain-language reasons shown to officers.

Contributions are exact TreeSHAP values: per row, one contribution per feature plus the base
value, summing to the raw margin. They come from ``models.treeshap`` (the same numbers as
LightGBM's ``pred_contrib=True`` to 1e-9, several times faster; its tables are built once per
booster, ``prepare``), or from ``pred_contrib`` itself for a booster that kernel does not cover.
Contributions are in margin (log-odds) units, so they add up across features and can be
compared across threats.
An officer sees the top (threat, feature) pairs that pushed the risk up, each with the feature
value and a sentence; a data scientist can also read the same contributions grouped by the raw
declaration fields the features are computed from.
"""

from __future__ import annotations

import functools
import math
import os
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from models.treeshap import TreeShap

ReasonText = Callable[[str, Any, Mapping[str, Any]], str]


@dataclass
class Reason:
    """One reason a declaration scored high: a feature that raised one threat's risk."""

    threat: str
    feature: str
    value: float | None  # the feature value the model saw; None when missing
    contribution: float  # SHAP contribution to the threat's raw margin (log-odds)
    text: str
    fields: list[str] = field(default_factory=list)  # canonical fields the feature comes from
    kind: str = "model"  # model (SHAP), watchlist (a live watchlist hit), profile (a rule)
    source_agency: str | None = None  # watchlist: the providing agency
    handling_code: str | None = None  # watchlist: SIENA handling code (H0-H3)
    profile_id: str | None = None  # profile: the risk profile that matched
    title: str | None = None  # profile: its title
    rationale: str | None = None  # profile: why it exists, as its owner wrote it

    def to_dict(self) -> dict[str, Any]:
        """The reason as the API answers it and the store keeps it: every field but `fields`,
        in order, the value None when missing or not finite (JSON has no NaN)."""
        value = self.value
        return {
            "threat": self.threat,
            "feature": self.feature,
            "value": None if value is None or not math.isfinite(value) else float(value),
            "contribution": float(self.contribution),
            "text": self.text,
            "kind": self.kind,
            "source_agency": self.source_agency,
            "handling_code": self.handling_code,
            "profile_id": self.profile_id,
            "title": self.title,
            "rationale": self.rationale,
        }


@dataclass
class ThreatExplanation:
    """Exact SHAP values of one threat's booster for a batch of declarations."""

    base_value: NDArray[np.float64]  # (rows,) expected margin, the same on every row
    contributions: pd.DataFrame  # rows x features, margin units

    def margin(self) -> NDArray[np.float64]:
        """Base value plus contributions: the booster's raw margin, row by row."""
        return self.base_value + self.contributions.to_numpy().sum(axis=1)


def usable_threads(num_threads: int) -> int:
    """At least one thread, never more than the machine's cores (shared with other work)."""
    return max(1, min(int(num_threads), _cores()))


@functools.cache
def _cores() -> int:
    # Asked once: os.cpu_count reads the system's CPU list on every call.
    return os.cpu_count() or 1


_KERNELS: weakref.WeakKeyDictionary[lgb.Booster, tuple[tuple[int, int], TreeShap | None]] = (
    weakref.WeakKeyDictionary()
)
_KERNELS_LOCK = threading.Lock()


def tree_shap(booster: lgb.Booster) -> TreeShap | None:
    """The booster's TreeSHAP kernel, built on first use and kept while the booster lives.

    None when ``models.treeshap`` does not cover the booster (``pred_contrib`` is used then).
    Rebuilt if the booster gained trees or a best iteration since.
    """
    key = (booster.current_iteration(), booster.best_iteration)
    with _KERNELS_LOCK:
        known = _KERNELS.get(booster)
        if known is not None and known[0] == key:
            return known[1]
        kernel = TreeShap.from_booster(booster)
        _KERNELS[booster] = (key, kernel)
        return kernel


def prepare(boosters: Iterable[lgb.Booster]) -> None:
    """Build the boosters' kernels and run each once, so no request pays for it.

    The first run in a process loads the compiled kernel from numba's cache (or compiles it
    once, when the cache is cold); bundles call this when they are loaded.
    """
    for booster in boosters:
        kernel = tree_shap(booster)
        if kernel is not None:
            kernel.contributions(np.zeros((1, kernel.num_features)))


def shap_values(
    booster: lgb.Booster, matrix: NDArray[np.float64], *, num_threads: int = 1
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per-row feature contributions ``(rows, features)`` and base values ``(rows,)``."""
    threads = usable_threads(num_threads)
    kernel = tree_shap(booster)
    if kernel is not None and np.ndim(matrix) == 2 and np.shape(matrix)[1] == kernel.num_features:
        values = kernel.contributions(matrix, num_threads=threads, pool_size=_cores())
    else:  # not covered, or a shape LightGBM should reject with its own message
        raw = booster.predict(matrix, pred_contrib=True, num_threads=threads)
        values = np.asarray(raw, dtype=np.float64)
    return values[:, :-1], values[:, -1]


def explain_threat(
    booster: lgb.Booster,
    matrix: NDArray[np.float64],
    features: Sequence[str],
    index: pd.Index,
    *,
    num_threads: int = 1,
) -> ThreatExplanation:
    """Exact SHAP explanation of one booster on a feature matrix (columns in ``features`` order)."""
    contributions, base = shap_values(booster, matrix, num_threads=num_threads)
    return ThreatExplanation(
        base_value=base,
        contributions=pd.DataFrame(contributions, index=index, columns=list(features)),
    )


def contributions_by_field(
    contributions: pd.DataFrame, feature_fields: Mapping[str, Sequence[str]]
) -> pd.DataFrame:
    """Contributions grouped by the raw canonical fields the features are computed from.

    A feature computed from several fields splits its contribution equally among them, so each
    row still sums to the total contribution (margin minus base value); a feature with no
    known field is kept under its own name.
    """
    columns: dict[str, NDArray[np.float64]] = {}
    for feature in contributions.columns:
        fields = list(dict.fromkeys(feature_fields.get(feature) or [feature]))
        share = contributions[feature].to_numpy(dtype=np.float64) / len(fields)
        for name in fields:
            columns[name] = columns[name] + share if name in columns else share.copy()
    return pd.DataFrame(columns, index=contributions.index)


def top_reasons(
    contributions: Mapping[str, NDArray[np.float64]],
    matrix: NDArray[np.float64],
    features: Sequence[str],
    declarations: Sequence[Mapping[str, Any]],
    *,
    top_k: int,
    reason_text: ReasonText,
    feature_fields: Mapping[str, Sequence[str]],
) -> list[list[Reason]]:
    """The ``top_k`` (threat, feature) pairs with the largest positive contribution, per row.

    ``contributions`` holds one ``rows x features`` array per threat, columns in ``features``
    order, the same order as ``matrix``.

    Only positive contributions are reasons: a feature that lowered the risk did not cause the
    selection. Ties keep threat order, then feature order, so the result does not depend on
    which other rows are in the batch.
    """
    threats = list(contributions)
    n_features = len(features)
    if not threats or top_k <= 0 or len(declarations) == 0:
        return [[] for _ in declarations]
    # rows x (threat, feature), threat-major: column j is threat j // F, feature j % F.
    stacked = np.concatenate([contributions[t] for t in threats], axis=1)
    k = min(top_k, stacked.shape[1])
    order = np.argsort(-stacked, axis=1, kind="stable")[:, :k]
    chosen = np.take_along_axis(stacked, order, axis=1)
    reasons: list[list[Reason]] = []
    for row, declaration in enumerate(declarations):
        row_reasons: list[Reason] = []
        for column, contribution in zip(order[row].tolist(), chosen[row].tolist(), strict=True):
            if not contribution > 0.0:  # sorted: the rest lowered the risk
                break
            threat, feature = threats[column // n_features], features[column % n_features]
            raw_value = matrix[row, column % n_features]
            value = None if np.isnan(raw_value) else float(raw_value)
            row_reasons.append(
                Reason(
                    threat=threat,
                    feature=feature,
                    value=value,
                    contribution=contribution,
                    text=reason_text(feature, float(raw_value), declaration),
                    fields=list(feature_fields.get(feature, [])),
                )
            )
        reasons.append(row_reasons)
    return reasons
