"""Validation at the edge: turn any raw frame into the canonical frame of features.schema.

One function per table (declarations, inspection outcomes, watchlist). Each coerces types,
normalises codes (HS codes, countries, transport modes, enumerations, itineraries) and
collects *every* problem it finds before raising one `DataValidationError` whose message
names the source, the column, the first offending rows and values, and how to fix them.
Code downstream trusts the frames returned here and does not check them again.

The column checks live below this module: `features.source_text` reads the text of a raw
column, `features.coercion` makes one column canonical by its field's kind. This module
finds the columns, turns what the checks refuse into `Problem`s and adds the checks across
rows (duplicate ids, unknown declarations, validity windows).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from features.coercion import COERCERS, Values, absent_column, all_missing, column_array
from features.rules import Check, required_empty
from features.schema import DECLARATION_FIELDS, OUTCOME_FIELDS, WATCHLIST_FIELDS, Field
from features.source_text import distinct_codes, mask_text, show_value, source_text_arrow, str_array

MAX_ROWS_SHOWN = 5


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
                values=tuple(show_value(shown.iloc[p]) for p in first),
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

    def field(self, spec: Field, date_format: str | None) -> Values:
        """The canonical column of one field; what it refuses is recorded, not raised."""
        raw = self.column(spec.name)
        if raw is None:
            if spec.required:
                self.add(
                    spec.name,
                    "required column is missing",
                    f"add a '{spec.name}' column, or map a source column to it in the "
                    "configuration (source.columns) or give a constant in source.defaults",
                )
            return absent_column(spec, self.n_rows)
        if not spec.required and all_missing(raw):
            # An optional field left out of every record (a JSON payload without it): the same
            # column as when the field is absent, without parsing a column of nothing.
            return absent_column(spec, self.n_rows)
        coerced = COERCERS[spec.kind](spec, raw, date_format)
        for bad, rule in coerced.broken:
            self.flag_check(spec.name, bad, raw, rule)
        values, missing = coerced.values, coerced.missing
        if spec.default is not None:
            if not isinstance(values, pa.Array):
                raise TypeError(f"a default is only defined for text fields, not {spec.name!r}")
            values = mask_text(values, missing, spec.default)
        elif spec.required:
            self.flag_check(spec.name, missing, raw, required_empty(spec))
        return values


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
    columns: dict[str, Any] = {f.name: column_array(check.field(f, date_format)) for f in fields}
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
            columns[name] = str_array(source_text_arrow(extra))
    # Every column is an array made here: no copy, no index alignment.
    frame = pd.DataFrame(columns, index=pd.RangeIndex(check.n_rows), copy=False)
    return frame, check


def _duplicated(text: pa.Array) -> np.ndarray:
    """Rows whose non-missing value occurs more than once (pandas' duplicated(keep=False))."""
    if len(text) < 2:
        return np.zeros(len(text), dtype=bool)
    codes, uniques = distinct_codes(text)
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
