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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
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
    which other rows are in the batch. The pairs are picked for the whole batch at once and
    each distinct sentence is written once (`BatchSentences`).
    """
    threats = list(contributions)
    n_features = len(features)
    if not threats or top_k <= 0 or len(declarations) == 0:
        return [[] for _ in declarations]
    # rows x (threat, feature), threat-major: column j is threat j // F, feature j % F.
    stacked = np.concatenate([contributions[t] for t in threats], axis=1)
    order, chosen = _top_columns(stacked, min(top_k, stacked.shape[1]))
    # Sorted largest first, so each row's positive contributions come first.
    positive = chosen > 0.0
    rows, _ = np.nonzero(positive)
    columns = order[positive]
    feature_of = columns % n_features
    values = matrix[rows, feature_of]
    row_list, feature_list = rows.tolist(), feature_of.tolist()
    texts = BatchSentences(reason_text, features, declarations).texts(
        feature_list, values, row_list
    )
    threat_names = [threats[column // n_features] for column in range(len(threats) * n_features)]
    fields = [list(feature_fields.get(feature, [])) for feature in features]
    found = [
        Reason(
            threat=threat_names[column],
            feature=features[feature],
            value=None if value != value else value,  # NaN: the feature was missing
            contribution=contribution,
            text=text,
            fields=fields[feature].copy(),
        )
        for column, feature, value, contribution, text in zip(
            columns.tolist(),
            feature_list,
            values.tolist(),
            chosen[positive].tolist(),
            texts,
            strict=True,
        )
    ]
    ends = np.cumsum(positive.sum(axis=1)).tolist()
    return [found[begin:end] for begin, end in zip([0, *ends[:-1]], ends, strict=True)]


def _top_columns(
    stacked: NDArray[np.float64], k: int
) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """Per row, the columns of the ``k`` largest values, largest first (equal values in
    column order, as a stable sort has them), and those values; NaN counts as -inf.

    ``k`` passes of ``argmax``, which picks the first of equal values, instead of sorting
    every row: a batch asks for 5 of several hundred pairs. Once a row has no value above
    -inf left, its further columns are arbitrary (their values are -inf).
    """
    remaining = np.where(np.isnan(stacked), -np.inf, stacked)
    everywhere = np.arange(len(stacked))
    order = np.empty((len(stacked), k), dtype=np.intp)
    chosen = np.empty((len(stacked), k), dtype=np.float64)
    for rank in range(k):
        column = remaining.argmax(axis=1)
        order[:, rank] = column
        chosen[:, rank] = remaining[everywhere, column]
        remaining[everywhere, column] = -np.inf
    return order, chosen


_ABSENT = object()  # a field the declaration does not have


def _exact(value: Any) -> tuple[Any, ...]:
    """A key equal for two field values only when any sentence reads them alike: typed (1,
    1.0 and True differ), floats by their bits (-0.0 is not 0.0), datetimes with their zone
    (equal instants may read differently). Raises TypeError for an unhashable value."""
    if isinstance(value, float):
        return (type(value), value.hex())
    if isinstance(value, datetime):
        return (type(value), value.isoformat())
    hash(value)
    return (type(value), value)


class _ReadFields(Mapping[str, Any]):
    """A declaration that notes the fields a sentence reads, in the order it reads them."""

    def __init__(self, declaration: Mapping[str, Any]) -> None:
        self._declaration = declaration
        self.read: dict[str, None] = {}
        self.iterated = False  # read as a whole: every field may matter

    def __getitem__(self, name: str) -> Any:
        self.read[name] = None
        return self._declaration[name]

    def __iter__(self) -> Iterator[str]:
        self.iterated = True
        return iter(self._declaration)

    def __len__(self) -> int:
        self.iterated = True
        return len(self._declaration)


class BatchSentences:
    """The reason sentences of one batch, each distinct sentence written once.

    A sentence depends on its feature, the value and the few declaration fields its family
    reads (an HS code, a country, the customs value), and a batch asks for the same ones
    again and again (an office, a count, a chapter). The first sentence of a feature is
    written with the declaration behind a view that notes the fields read; later ones look
    up (value, those fields) and are written only for a pair not seen yet. Exact for a
    deterministic ``reason_text`` that reads the declaration by field name: with the same
    value and the same fields it takes the same path (a feature whose sentence reads a new
    field starts its table again with that field in the key). A sentence that iterates
    over the declaration is written every time.
    """

    def __init__(
        self,
        reason_text: ReasonText,
        features: Sequence[str],
        declarations: Sequence[Mapping[str, Any]],
    ) -> None:
        self._reason_text = reason_text
        self._features = features
        self._declarations = declarations
        self._reads: dict[int, tuple[str, ...]] = {}  # fields a feature's sentences read
        self._whole: set[int] = set()  # features whose sentence read the whole declaration
        self._written: dict[int, dict[tuple[Any, ...], str]] = {}

    def texts(
        self, features: Sequence[int], values: NDArray[np.float64], rows: Sequence[int]
    ) -> list[str]:
        """The sentence of ``features[i]`` (a position in the batch's feature list) with
        ``values[i]`` for the declaration at ``rows[i]``, for every ``i``."""
        numbers = np.asarray(values, dtype=np.float64)
        bits = numbers.view(np.int64).tolist()  # -0.0 and 0.0 may be written apart
        return [
            self.text(feature, value, key, row)
            for feature, value, key, row in zip(features, numbers.tolist(), bits, rows, strict=True)
        ]

    def text(self, feature: int, value: float, bits: int, row: int) -> str:
        """One sentence; ``bits``: the value's float64 bit pattern."""
        name = self._features[feature]
        if feature in self._whole:
            return self._reason_text(name, value, self._declarations[row])
        reads = self._reads.get(feature, ())
        declaration = self._declarations[row] if reads else None
        key = _sentence_key(bits, reads, declaration)
        written = self._written.setdefault(feature, {})
        if key is not None and (text := written.get(key)) is not None:
            return text
        view = _ReadFields(self._declarations[row] if declaration is None else declaration)
        text = self._reason_text(name, value, view)
        if view.iterated:
            self._whole.add(feature)
            del self._written[feature]
            return text
        if not view.read.keys() <= set(reads):
            reads = (*reads, *(field for field in view.read if field not in reads))
            self._reads[feature] = reads
            written = self._written[feature] = {}
            key = _sentence_key(bits, reads, view)
        if key is not None:
            written[key] = text
        return text


def _sentence_key(
    bits: int, reads: tuple[str, ...], declaration: Mapping[str, Any] | None
) -> tuple[Any, ...] | None:
    """What a sentence depends on: the value's bits and the fields its feature reads; None
    when a field's value cannot be a key."""
    if not reads or declaration is None:
        return (bits,)
    try:
        return (bits, *[_exact(declaration.get(field, _ABSENT)) for field in reads])
    except TypeError:
        return None
