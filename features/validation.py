"""Validation at the edge: turn any raw frame into the canonical frame of features.schema.

One function per table (declarations, inspection outcomes, watchlist). Each coerces types,
normalises codes (HS codes, countries, transport modes, enumerations, itineraries) and
collects *every* problem it finds before raising one `DataValidationError` whose message
names the source, the column, the first offending rows and values, and how to fix them.
Code downstream trusts the frames returned here and does not check them again.

The work is vectorised: string clean-up runs on the distinct values of a column (codes,
countries and routes repeat a lot), so a million declarations validate in a few seconds.
Columns travel between the checks as NumPy and Arrow arrays and become one pandas frame at
the end: the service validates one declaration per request, and building a pandas Series per
intermediate step used to cost more than all the checks together.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.rules import (
    DATE_DOES_NOT_PARSE,
    DATE_OUTSIDE_WINDOW,
    EARLIEST,
    END,
    MISSING_TOKENS,
    NOT_A_NUMBER,
    NOT_WHOLE,
    NOT_YES_NO,
    Check,
    above_maximum,
    canonical_text,
    is_listlike,
    negative,
    required_empty,
    too_long_check,
    value_check,
    yes_no,
)
from features.schema import DECLARATION_FIELDS, OUTCOME_FIELDS, WATCHLIST_FIELDS, Field

# Canonical datetime dtype: pandas 3 parses strings to microseconds; every table uses the same
# unit so that point-in-time joins (merge_asof) between tables never meet mismatched dtypes.
DATETIME_DTYPE: Final = "datetime64[us, UTC]"

MAX_ROWS_SHOWN = 5
_MAX_VALUE_CHARS = 40

_MISSING_TOKENS_ARROW = pa.array(MISSING_TOKENS, type=pa.large_string())


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input table: where, what, and how to fix it."""

    source: str
    column: str | None
    message: str
    fix: str
    rows: tuple[int, ...] = ()
    values: tuple[str, ...] = ()

    def describe(self) -> str:
        """One readable paragraph: source, column, rows with their values, problem and fix."""
        where = self.source if self.column is None else f"{self.source}, column '{self.column}'"
        text = f"{where}: {self.message}"
        if self.rows:
            rows = ", ".join(str(row) for row in self.rows)
            text += f"; first rows {rows} with values {', '.join(self.values)}"
        elif self.values:
            text += f"; values {', '.join(self.values)}"
        return f"{text}. Fix: {self.fix}"


class DataValidationError(ValueError):
    """Every problem found in one or more input tables; raised once, after all checks ran."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__(self._render())

    def _render(self) -> str:
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        lines = [f"{count} {noun} in the input data; nothing was loaded:"]
        lines += [f"  {number}. {p.describe()}" for number, p in enumerate(self.problems, 1)]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Text form of raw values
# ---------------------------------------------------------------------------------------------


def _show(value: Any) -> str:
    """A value as the user would recognise it in their file, quoted and shortened."""
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
    return pd.Series(_str_array(_source_text_arrow(values)), index=values.index, copy=False)


_STR_DTYPE: Final = pd.StringDtype(na_value=np.nan)
# Up to this many rows, distinct values are found with a Python dict instead of Arrow kernels.
_SMALL_COLUMN: Final = 64  # pandas' default "str" dtype
_NULL_TEXT: Final = pa.scalar(None, type=pa.large_string())


def _str_array(text: pa.Array) -> pd.api.extensions.ExtensionArray:
    """A pandas "str" array over Arrow text (nulls become NaN), without copying the strings."""
    return _STR_DTYPE.__from_arrow__(text)  # type: ignore[attr-defined]  # present at run time, absent from pandas-stubs


def _as_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _missing(text: pa.Array) -> np.ndarray:
    """Boolean mask of the null entries of an Arrow array."""
    if text.null_count == 0:
        return np.zeros(len(text), dtype=bool)
    return np.asarray(text.is_null().to_numpy(zero_copy_only=False), dtype=bool)


def _source_text_arrow(values: pd.Series) -> pa.Array:
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
        strings = _take_text([_text_of_object(u) for u in uniques], codes)
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


def _take_text(distinct: Sequence[Any], codes: np.ndarray) -> pa.Array:
    """Arrow text from distinct texts (NaN/None = missing) and factorize codes (-1 = missing).

    Built with Arrow's take, which is far faster than converting a million Python strings.
    """
    texts = [None if (d is None or (isinstance(d, float) and np.isnan(d))) else d for d in distinct]
    if len(codes) <= _SMALL_COLUMN:
        return pa.array([texts[c] if c >= 0 else None for c in codes], type=pa.large_string())
    table = pa.array([*texts, None], type=pa.large_string())
    positions = np.where(codes < 0, len(distinct), codes)
    return table.take(pa.array(positions))


def _distinct(text: pa.Array) -> tuple[np.ndarray, list[str]]:
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


def _map_distinct(text: pa.Array, rule: Callable[[str], str | None]) -> tuple[pa.Array, np.ndarray]:
    """Apply a per-value rule to the distinct non-missing values of a text column.

    `rule` returns the canonical text ("" for no value), or None when the value is invalid.
    Returns the mapped column (null for missing or invalid) and a boolean mask of invalid rows.
    """
    codes, uniques = _distinct(text)
    mapped = [rule(u) for u in uniques]
    invalid_unique = np.array([m is None for m in mapped] + [False], dtype=bool)
    return _take_text([m or None for m in mapped], codes), invalid_unique[codes]


def _mask_text(text: pa.Array, mask: np.ndarray, replacement: str | None = None) -> pa.Array:
    """``text`` with the rows of ``mask`` replaced (by a null when ``replacement`` is None)."""
    if not mask.any():
        return text
    return pc.if_else(pa.array(mask), pa.scalar(replacement, type=pa.large_string()), text)


# ---------------------------------------------------------------------------------------------
# Table validation
# ---------------------------------------------------------------------------------------------


# A canonical column between the checks: Arrow text (null = missing) for text kinds, NumPy
# float64 or bool for numbers and flags, a pandas DatetimeArray for datetimes.
_Values: TypeAlias = pa.Array | np.ndarray | pd.api.extensions.ExtensionArray


class _TableCheck:
    """Collects problems for one table; each check adds at most one problem per column."""

    def __init__(self, raw: pd.DataFrame, source: str) -> None:
        index = raw.index
        plain = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
        self.raw = raw if plain else raw.reset_index(drop=True)
        # All columns in one pass (cheaper than one lookup per field); a repeated name is left
        # to `column`, which reports it.
        self._columns: dict[Any, pd.Series] = (
            dict(self.raw.items()) if self.raw.columns.is_unique else {}
        )
        self.source = source
        self.problems: list[Problem] = []
        self.n_rows = len(self.raw)

    def add(self, column: str | None, message: str, fix: str) -> None:
        self.problems.append(Problem(self.source, column, message, fix))

    def flag(
        self,
        column: str,
        bad: np.ndarray | pd.Series,
        shown: pd.Series,
        what: str,
        fix: str,
    ) -> None:
        """Record a problem for the rows where `bad` holds, showing their raw values."""
        mask = np.asarray(bad, dtype=bool)
        positions = np.flatnonzero(mask)
        if positions.size == 0:
            return
        first = positions[:MAX_ROWS_SHOWN]
        count = positions.size
        rows_word = "row" if count == 1 else "rows"
        self.problems.append(
            Problem(
                source=self.source,
                column=column,
                message=f"{what} in {count} {rows_word}",
                fix=fix,
                rows=tuple(int(p) + 1 for p in first),
                values=tuple(_show(shown.iloc[p]) for p in first),
            )
        )

    def flag_check(
        self, column: str, bad: np.ndarray | pd.Series, shown: pd.Series, check: Check
    ) -> None:
        """`flag` with a rule's message and its fix as a file states it."""
        self.flag(column, bad, shown, check.message, check.file_fix())

    def column(self, name: str) -> pd.Series | None:
        """The raw column for a canonical name; exact match first, then ignoring case/spaces."""
        if name in self._columns:
            return self._columns[name]
        if name in self.raw.columns:
            found = self.raw[name]
            if isinstance(found, pd.DataFrame):
                self.add(name, "the column appears more than once", "keep one column of that name")
                return None
            return found
        matches = [c for c in self.raw.columns if str(c).strip().lower() == name]
        if len(matches) == 1:
            return self.raw[matches[0]]
        return None

    # -- one canonical field -------------------------------------------------------------

    def field(self, spec: Field, date_format: str | None) -> _Values:
        raw = self.column(spec.name)
        if raw is None:
            if spec.required:
                self.add(
                    spec.name,
                    "required column is missing",
                    f"add a '{spec.name}' column, or map a source column to it in the "
                    "configuration (source.columns) or give a constant in source.defaults",
                )
            return self._absent(spec)
        if not spec.required and _all_missing(raw):
            # An optional field left out of every record (a JSON payload without it): the same
            # column as when the field is absent, without parsing a column of nothing.
            return self._absent(spec)
        coerce = _COERCERS[spec.kind]
        values, missing = coerce(self, spec, raw, date_format)
        if spec.default is not None:
            if not isinstance(values, pa.Array):
                raise TypeError(f"a default is only defined for text fields, not {spec.name!r}")
            values = _mask_text(values, missing, spec.default)
        elif spec.required:
            self.flag_check(spec.name, missing, raw, required_empty(spec))
        return values

    def _absent(self, spec: Field) -> _Values:
        n = self.n_rows
        if spec.kind == "datetime":
            return _no_datetimes(n)
        if spec.kind in ("number", "count"):
            return np.full(n, np.nan, dtype=np.float64)
        if spec.kind == "bool":
            return np.zeros(n, dtype=bool)
        if spec.default is None:
            return pa.nulls(n, type=pa.large_string())
        return _take_text([spec.default], np.zeros(n, dtype=np.intp))


def _all_missing(raw: pd.Series) -> bool:
    """True for an object column holding only None/NaN (how absent JSON fields arrive)."""
    return raw.dtype == object and bool(pd.isna(raw.to_numpy()).all())


def _no_datetimes(n: int) -> pd.api.extensions.ExtensionArray:
    return pd.array(np.full(n, np.datetime64("NaT", "us")), dtype=DATETIME_DTYPE)


def _column_array(values: _Values) -> Any:
    """A canonical column as the array the output frame holds."""
    return _str_array(values) if isinstance(values, pa.Array) else values


# Each coercer returns (canonical values, mask of rows with no value) and flags bad values.
_Coercer = Callable[[_TableCheck, Field, pd.Series, "str | None"], tuple[_Values, np.ndarray]]


def _coerce_text(
    check: _TableCheck, spec: Field, raw: pd.Series, date_format: str | None
) -> tuple[_Values, np.ndarray]:
    """Text kinds: stripped source text, capped, then made canonical by the field's rule."""
    if spec.kind == "itinerary" and raw.dtype == object:
        text = _source_text_arrow(raw.map(lambda v: ">".join(map(str, v)) if is_listlike(v) else v))
    else:
        text = _source_text_arrow(raw)
    if spec.max_chars is not None and len(text) > 0:
        lengths = pc.fill_null(pc.utf8_length(text), 0).to_numpy(zero_copy_only=False)
        check.flag_check(spec.name, lengths > spec.max_chars, raw, too_long_check(spec))
    if spec.kind == "string":
        return text, _missing(text)
    values, bad = _map_distinct(text, lambda value: canonical_text(spec, value))
    if spec.kind == "hs_code" and pd.api.types.is_float_dtype(raw.dtype):
        # 9305.1 in a float column may have been 9305.10 or 9305.01: never guess.
        floats = raw.to_numpy(dtype=float, na_value=np.nan)
        fractional = np.isfinite(floats) & (np.floor(floats) != floats)
        values = _mask_text(values, fractional)
        bad = bad | fractional
    check.flag_check(spec.name, bad, raw, value_check(spec))
    return values, _missing(values) & ~bad


def _parse_datetimes(
    raw: pd.Series, date_format: str | None
) -> tuple[pd.api.extensions.ExtensionArray, np.ndarray]:
    """UTC datetimes (naive = UTC, a date alone = midnight UTC) and the mask of unparseable rows."""
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        utc = raw.dt.tz_localize("UTC") if raw.dt.tz is None else raw.dt.tz_convert("UTC")
        return utc.astype(DATETIME_DTYPE).array, np.zeros(len(raw), dtype=bool)
    text = _str_array(_source_text_arrow(raw))
    present = ~np.asarray(pd.isna(text), dtype=bool)
    parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    values = pd.array(parsed, dtype=DATETIME_DTYPE)
    failed = present & np.asarray(pd.isna(values), dtype=bool)
    if date_format is not None and failed.any():
        retried = pd.to_datetime(text[failed], utc=True, errors="coerce", format=date_format)
        values = values.copy()
        values[failed] = pd.array(retried, dtype=DATETIME_DTYPE)
        failed = present & np.asarray(pd.isna(values), dtype=bool)
    return values, failed


_EARLIEST = pd.Timestamp(EARLIEST).as_unit("us")
_END = pd.Timestamp(END).as_unit("us")


def _coerce_datetime(
    check: _TableCheck, spec: Field, raw: pd.Series, date_format: str | None
) -> tuple[_Values, np.ndarray]:
    values, bad = _parse_datetimes(raw, date_format)
    if date_format is None:
        hint = ", or set source.date_format (e.g. '%d.%m.%Y') in the configuration"
    else:
        hint = f", or in the configured source.date_format '{date_format}'"
    check.flag_check(spec.name, bad, raw, replace(DATE_DOES_NOT_PARSE, file_hint=hint))
    missing = np.asarray(pd.isna(values), dtype=bool)
    if not missing.all():
        stamps = pd.DatetimeIndex(values)
        inside = np.asarray((stamps >= _EARLIEST) & (stamps < _END), dtype=np.bool_)
        outside = ~missing & ~inside
        check.flag_check(spec.name, outside, raw, DATE_OUTSIDE_WINDOW)
    return values, missing & ~bad


def _parse_numbers(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Float values and the mask of rows whose value is not a number."""
    if pd.api.types.is_bool_dtype(raw.dtype):
        return raw.to_numpy(dtype=float, na_value=np.nan), np.zeros(len(raw), dtype=bool)
    if pd.api.types.is_numeric_dtype(raw.dtype):
        values = raw.to_numpy(dtype=float, na_value=np.nan, copy=True)
        bad = np.isinf(values)
        values[bad] = np.nan
        return values, bad
    text = _source_text_arrow(raw)
    values = _text_to_floats(text)
    bad = np.isinf(values)
    values[bad] = np.nan
    return values, bad | (~_missing(text) & np.isnan(values))


def _text_to_floats(text: pa.Array) -> np.ndarray:
    """Floats from a text column, NaN where missing or not a number.

    Arrow's cast is tried first (about 20 times faster than to_numeric on a million rows);
    it refuses the whole column when one value is not a number, then to_numeric finds which.
    """
    try:
        cast = pc.cast(text, pa.float64())
        return np.asarray(cast.to_numpy(zero_copy_only=False), dtype=float).copy()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, TypeError):
        parsed = pd.to_numeric(pd.Series(_str_array(text), copy=False), errors="coerce")
        return parsed.to_numpy(dtype=float, na_value=np.nan, copy=True)


def _coerce_number(
    check: _TableCheck, spec: Field, raw: pd.Series, date_format: str | None
) -> tuple[_Values, np.ndarray]:
    """Numbers and counts: finite, 0 or more, at most the field's cap; counts whole."""
    values, bad = _parse_numbers(raw)
    check.flag_check(spec.name, bad, raw, NOT_A_NUMBER)
    with np.errstate(invalid="ignore"):
        check.flag_check(spec.name, values < 0, raw, negative(spec))
        if spec.maximum is not None:
            check.flag_check(spec.name, values > spec.maximum, raw, above_maximum(spec))
        if spec.kind == "count":
            fractional = np.isfinite(values) & (np.floor(values) != values)
            check.flag_check(spec.name, fractional, raw, NOT_WHOLE)
    missing = np.isnan(values) & ~bad
    return values, missing


def _coerce_bool(
    check: _TableCheck, spec: Field, raw: pd.Series, date_format: str | None
) -> tuple[_Values, np.ndarray]:
    """Flags: True/False, yes/no, 1/0; a missing flag means nothing of that kind was recorded."""
    if pd.api.types.is_bool_dtype(raw.dtype) and raw.dtype == bool:
        return raw.to_numpy(dtype=bool, copy=True), np.zeros(len(raw), dtype=bool)
    text = _source_text_arrow(raw)
    mapped, bad = _map_distinct(text, yes_no)
    check.flag_check(spec.name, bad, raw, NOT_YES_NO)
    flags = pc.fill_null(pc.equal(mapped, "1"), False)
    return np.asarray(flags.to_numpy(zero_copy_only=False), dtype=bool), np.zeros(
        len(raw), dtype=bool
    )


_COERCERS: dict[str, _Coercer] = {
    "string": _coerce_text,
    "category": _coerce_text,
    "country": _coerce_text,
    "hs_code": _coerce_text,
    "itinerary": _coerce_text,
    "datetime": _coerce_datetime,
    "number": _coerce_number,
    "count": _coerce_number,
    "bool": _coerce_bool,
}


def _validate_table(
    raw: pd.DataFrame,
    fields: Sequence[Field],
    source: str,
    date_format: str | None,
    extra_columns: Sequence[str] = (),
) -> tuple[pd.DataFrame, _TableCheck]:
    """Canonical columns in schema order, then the extra columns; problems left in the check."""
    if not isinstance(raw, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame for {source}, got {type(raw).__name__}")
    check = _TableCheck(raw, source)
    columns: dict[str, Any] = {f.name: _column_array(check.field(f, date_format)) for f in fields}
    for name in extra_columns:
        extra = check.column(name)
        if extra is None:
            check.add(
                name,
                "extra feature column is missing",
                "add the column or remove it from source.extra_features",
            )
            columns[name] = np.full(check.n_rows, np.nan, dtype=np.float64)
        elif pd.api.types.is_numeric_dtype(extra.dtype):
            columns[name] = extra.to_numpy(dtype=float, na_value=np.nan, copy=True)
        else:
            columns[name] = _str_array(_source_text_arrow(extra))
    # Every column is an array made here: no copy, no index alignment.
    frame = pd.DataFrame(columns, index=pd.RangeIndex(check.n_rows), copy=False)
    return frame, check


def _duplicated(text: pa.Array) -> np.ndarray:
    """Rows whose non-missing value occurs more than once (pandas' duplicated(keep=False))."""
    if len(text) < 2:
        return np.zeros(len(text), dtype=bool)
    codes, uniques = _distinct(text)
    # One extra slot, always 0, that missing values (code -1) index.
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques) + 1)
    return counts[codes] > 1


def validate_declarations(
    raw: pd.DataFrame,
    *,
    source: str = "declarations",
    extra_columns: Sequence[str] = (),
    date_format: str | None = None,
) -> pd.DataFrame:
    """Canonical declarations from a raw frame, or a DataValidationError listing every problem.

    `extra_columns` (already renamed with the x_ prefix) are kept after the canonical
    columns; `date_format` (strftime) is tried for dates that are not ISO 8601.
    """
    frame, check = _validate_table(raw, DECLARATION_FIELDS, source, date_format, extra_columns)
    duplicated = _duplicated(pa.array(frame["declaration_id"].array, type=pa.large_string()))
    if duplicated.any():
        check.flag(
            "declaration_id",
            duplicated,
            frame["declaration_id"],
            "duplicate declaration id",
            "give every declaration a unique id (amendments replace the original row)",
        )
    if check.problems:
        raise DataValidationError(check.problems)
    return frame


def validate_outcomes(
    raw: pd.DataFrame,
    *,
    source: str = "outcomes",
    known_declaration_ids: Collection[str] | pd.Series | None = None,
    date_format: str | None = None,
) -> pd.DataFrame:
    """Canonical inspection outcomes; with `known_declaration_ids`, unknown ones are problems."""
    frame, check = _validate_table(raw, OUTCOME_FIELDS, source, date_format)
    if known_declaration_ids is not None:
        known = pd.Index(pd.Series(list(known_declaration_ids), dtype="object")).unique()
        ids = frame["declaration_id"]
        unknown = ids.notna() & ~ids.isin(known)
        check.flag(
            "declaration_id",
            unknown,
            ids,
            "outcome for a declaration that is not in the declarations",
            "remove these outcomes or add their declarations (check id formats match, e.g. "
            "leading zeros)",
        )
    if check.problems:
        raise DataValidationError(check.problems)
    return frame


def validate_watchlist(
    raw: pd.DataFrame, *, source: str = "watchlist", date_format: str | None = None
) -> pd.DataFrame:
    """Canonical watchlist entries; a validity window must not end before it starts."""
    frame, check = _validate_table(raw, WATCHLIST_FIELDS, source, date_format)
    frame["threat"] = frame["threat"].str.lower()
    ends_first = (frame["valid_to"] < frame["valid_from"]).to_numpy(dtype=bool, na_value=False)
    check.flag(
        "valid_to",
        ends_first,
        frame["valid_to"],
        "validity ends before it starts",
        "set valid_to on or after valid_from, or leave it empty for an open-ended entry",
    )
    if check.problems:
        raise DataValidationError(check.problems)
    return frame
