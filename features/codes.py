"""Low-cardinality codes as LightGBM categoricals, with vocabularies fitted on the fit rows.

The ``top_k`` most frequent values of a field get their own code (0 = most frequent);
other values seen at fit time share one "other" code; values never seen, and missing
values, are NaN so the model treats them as unknown rather than as a rare known value.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from features.columns import DeclarationColumns, missing, per_distinct, prefixes

# Categorical features read from canonical fields (the HS chapter is derived from hs_code).
CODE_FIELDS: tuple[str, ...] = (
    "office_id",
    "flow",
    "procedure_code",
    "transport_mode",
    "vehicle_type",
    "origin_country",
    "dispatch_country",
    "destination_country",
    "hs_chapter",
)


def code_values(columns: DeclarationColumns, field: str) -> np.ndarray:
    """The value of a categorical field as it enters its vocabulary (ids normalised;
    ``None`` when missing)."""
    if field == "hs_chapter":
        return prefixes(columns.strings("hs_code"), 2)
    if field in ("office_id", "procedure_code") or field.startswith("x_"):
        return columns.ids(field)
    return columns.strings(field)


def fit_vocabulary(values: np.ndarray, top_k: int) -> dict[str, int]:
    """Map each value seen to its code: rank by frequency (ties by value) below ``top_k``, else ``top_k``."""
    counts = pd.Series(values, dtype="str").dropna().value_counts()
    ranked = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
    return {str(value): min(rank, top_k) for rank, (value, _) in enumerate(ranked)}


def encode(values: np.ndarray, vocabulary: dict[str, int]) -> np.ndarray:
    """Integer codes as float64; unseen or missing values are NaN."""
    codes = per_distinct(values, lambda value: vocabulary.get(value, np.nan))
    codes[missing(codes)] = np.nan
    return codes.astype(np.float64)


def fit_vocabularies(
    columns: DeclarationColumns, fields: Sequence[str], top_k: int
) -> dict[str, dict[str, int]]:
    """One vocabulary per categorical field."""
    return {field: fit_vocabulary(code_values(columns, field), top_k) for field in fields}
