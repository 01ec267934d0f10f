"""The text a person reads in a raw column, as Arrow arrays: the ground floor of validation.

Every text-like field is checked on this text: strings stripped, integral numbers without
'.0' (codes and ids read from numeric columns equal the same code read as text), tokens such
as "null" or "n/a" missing. Clean-up runs on the distinct values of a column (codes,
countries and routes repeat a lot), so a million declarations validate in a few seconds.
Columns stay Arrow arrays between the checks: the service validates one declaration per
request, and building a pandas Series per intermediate step used to cost more than all the
checks together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.rules import MISSING_TOKENS, is_listlike

_MAX_VALUE_CHARS = 40
_MISSING_TOKENS_ARROW = pa.array(MISSING_TOKENS, type=pa.large_string())


def show_value(value: Any) -> str:
    """A raw value as the user would recognise it in their file, quoted and shortened."""
    if (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float) and np.isnan(value))
    ):
        text = "(empty)"
    else:
        text = repr(value) if isinstance(value, str) else str(value)
    if len(text) > _MAX_VALUE_CHARS:
        text = text[: _MAX_VALUE_CHARS - 3] + "..."
    return text


def _text_of_object(value: Any) -> Any:
    """Text of one Python object; integral floats lose their '.0' (ids and codes from Excel)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return np.nan
    if isinstance(value, float | np.floating):
        if not np.isfinite(value):
            return np.nan
        number = float(value)
        if number.is_integer() and abs(number) < 1e15:
            return str(int(number))
        return repr(float(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _float_text(values: np.ndarray) -> np.ndarray:
    """Text of floats: integral values without '.0', NaN stays missing."""
    out = np.full(values.shape, np.nan, dtype=object)
    finite = np.isfinite(values)
    integral = finite & (np.abs(values) < 1e15) & (np.floor(values) == values)
    out[integral] = values[integral].astype(np.int64).astype(str)
    other = finite & ~integral
    out[other] = [repr(float(v)) for v in values[other]]
    return out


def source_text(values: pd.Series) -> pd.Series:
    """The text a person would read in a raw column, with missing values as NaN.

    Strings are stripped; integers and integral floats lose any '.0' (so codes and ids read
    from numeric columns compare equal to the same code read as text); tokens such as
    "null" or "n/a" count as missing. Used for every text-like field and for recodings.
    """
    return pd.Series(str_array(source_text_arrow(values)), index=values.index, copy=False)


_STR_DTYPE: Final = pd.StringDtype(na_value=np.nan)  # pandas' default "str" dtype
# Up to this many rows, distinct values are found with a Python dict instead of Arrow kernels.
_SMALL_COLUMN: Final = 64
_NULL_TEXT: Final = pa.scalar(None, type=pa.large_string())


def str_array(text: pa.Array) -> pd.api.extensions.ExtensionArray:
    """A pandas "str" array over Arrow text (nulls become NaN), without copying the strings."""
    return _STR_DTYPE.__from_arrow__(text)  # type: ignore[attr-defined]  # present at run time, absent from pandas-stubs


def _as_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous Arrow array."""
    """One contiguous Arrow array."""
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def missing_mask(text: pa.Array) -> np.ndarray:
    """Boolean mask of the null entries of an Arrow array."""
    if text.null_count == 0:
        return np.zeros(len(text), dtype=bool)
    return np.asarray(text.is_null().to_numpy(zero_copy_only=False), dtype=bool)


def source_text_arrow(values: pd.Series) -> pa.Array:
    """`source_text` as an Arrow large_string array (null = missing)."""
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        words = values.astype(object).map({True: "true", False: "false"}).astype("str")
        return _as_array(pa.array(words.array, type=pa.large_string()))
    if pd.api.types.is_integer_dtype(dtype) and not isinstance(
        dtype, pd.api.extensions.ExtensionDtype
    ):
        return pa.array(values.to_numpy().astype(str), type=pa.large_string())
    if pd.api.types.is_numeric_dtype(dtype):
        floats = values.to_numpy(dtype=float, na_value=np.nan)
        return pa.array(_float_text(floats), type=pa.large_string(), from_pandas=True)
    if pd.api.types.is_datetime64_any_dtype(dtype):
        text = values.astype(object).map(lambda v: np.nan if pd.isna(v) else v.isoformat())
        return pa.array(text.to_numpy(dtype=object), type=pa.large_string(), from_pandas=True)
    if isinstance(dtype, pd.StringDtype):
        strings = _as_array(pa.array(values.array, type=pa.large_string()))
    else:
        codes, uniques = _factorize(values)
        strings = take_text([_text_of_object(u) for u in uniques], codes)
    # Arrow kernels directly: pandas' string methods cost more than the work on small frames.
    trimmed = pc.utf8_trim_whitespace(strings)
    missing = pc.is_in(pc.utf8_lower(trimmed), value_set=_MISSING_TOKENS_ARROW)
    return pc.if_else(missing, _NULL_TEXT, trimmed)


def _factorize(values: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """Codes and distinct values; unhashable values (lists) are factorized by their text."""
    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    except TypeError:
        as_text = values.map(lambda v: ">".join(map(str, v)) if is_listlike(v) else v)
        codes, uniques = pd.factorize(as_text, use_na_sentinel=True)
    return codes, list(uniques)


def take_text(distinct: Sequence[Any], codes: np.ndarray) -> pa.Array:
    """Arrow text from distinct texts (NaN/None = missing) and factorize codes (-1 = missing).

    Built with Arrow's take, which is far faster than converting a million Python strings.
    """
    texts = [None if (d is None or (isinstance(d, float) and np.isnan(d))) else d for d in distinct]
    if len(codes) <= _SMALL_COLUMN:
        return pa.array([texts[c] if c >= 0 else None for c in codes], type=pa.large_string())
    table = pa.array([*texts, None], type=pa.large_string())
    positions = np.where(codes < 0, len(distinct), codes)
    return table.take(pa.array(positions))


def distinct_codes(text: pa.Array) -> tuple[np.ndarray, list[str]]:
    """Codes (-1 = missing) and the distinct non-missing values of an Arrow text array."""
    if len(text) <= _SMALL_COLUMN:  # a request's few rows: a dict costs less than Arrow calls
        first_seen: dict[str, int] = {}
        small_codes = [
            -1 if value is None else first_seen.setdefault(value, len(first_seen))
            for value in text.to_pylist()
        ]
        return np.array(small_codes, dtype=np.intp), list(first_seen)
    encoded = pc.dictionary_encode(text)
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.intp)
    return codes, encoded.dictionary.to_pylist()


def map_distinct(text: pa.Array, rule: Callable[[str], str | None]) -> tuple[pa.Array, np.ndarray]:
    """Apply a per-value rule to the distinct non-missing values of a text column.

    `rule` returns the canonical text ("" for no value), or None when the value is invalid.
    Returns the mapped column (null for missing or invalid) and a boolean mask of invalid rows.
    """
    codes, uniques = distinct_codes(text)
    mapped = [rule(u) for u in uniques]
    invalid_unique = np.array([m is None for m in mapped] + [False], dtype=bool)
    return take_text([m or None for m in mapped], codes), invalid_unique[codes]


def mask_text(text: pa.Array, mask: np.ndarray, replacement: str | None = None) -> pa.Array:
    """``text`` with the rows of ``mask`` replaced (by a null when ``replacement`` is None)."""
    if not mask.any():
        return text
    return pc.if_else(pa.array(mask), pa.scalar(replacement, type=pa.large_string()), text)
