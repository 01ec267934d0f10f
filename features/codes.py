"""Low-cardinality codes as LightGBM categoricals, with vocabularies fitted on the fit rows.

The ``top_k`` most frequent values of a field get their own code (0 = most frequent);
other values seen at fit time share one "other" code; values never seen, and missing
values, are NaN so the model treats them as unknown rather than as a rare known value.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from features.entities import normalise_ids

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


def code_values(declarations: pd.DataFrame, field: str) -> pd.Series:
    """The value of a categorical field as it enters its vocabulary (ids normalised)."""
    if field == "hs_chapter":
        return declarations["hs_code"].astype("str").str.slice(0, 2)
    values = declarations[field]
    if field in ("office_id", "procedure_code") or field.startswith("x_"):
        return normalise_ids(values)
    return values.astype("str")


def fit_vocabulary(values: pd.Series, top_k: int) -> dict[str, int]:
    """Map each value seen to its code: rank by frequency (ties by value) below ``top_k``, else ``top_k``."""
    counts = values.dropna().value_counts()
    ranked = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
    return {str(value): min(rank, top_k) for rank, (value, _) in enumerate(ranked)}


def encode(values: pd.Series, vocabulary: dict[str, int]) -> np.ndarray:
    """Integer codes as float64; unseen or missing values are NaN."""
    positions, distinct = pd.factorize(values)
    distinct_codes = np.array(
        [vocabulary.get(str(value), np.nan) for value in distinct], dtype=np.float64
    )
    result = np.full(len(values), np.nan)
    result[positions >= 0] = distinct_codes[positions[positions >= 0]]
    return result


def fit_vocabularies(
    declarations: pd.DataFrame, fields: Sequence[str], top_k: int
) -> dict[str, dict[str, int]]:
    """One vocabulary per categorical field."""
    return {field: fit_vocabulary(code_values(declarations, field), top_k) for field in fields}
