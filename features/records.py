"""Canonical declarations from typed records, without building a frame.

The API receives declarations that pydantic has already type-checked (strings, numbers,
datetimes, lists). Turning a handful of them into a pandas frame, validating it column by
column and reading the columns back out costs several milliseconds of fixed pandas overhead
per request, far more than the rules themselves. This module applies the rules of `features.rules` (the same ones
`features.validation.validate_declarations` applies to frames) value by value, and hands the
result to the features as `DeclarationColumns.from_arrays`.

It is a fast path, not a second validator: whenever a value is not plainly valid (a missing
required value, an unknown code, a value over its cap, a date outside the accepted years,
whitespace Arrow and Python might trim differently, a repeated id, an extra ``x_`` field),
`canonical_records` returns None and the caller validates a frame with
`validate_declarations`, which gives the verdict and the error message. For every input it
accepts, the columns and rows equal what the frame path gives
(tests/serving/test_canonical_records.py and tests/features/test_one_rule_set.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from features.columns import DeclarationColumns
from features.rules import MISSING_TOKENS, canonical_text, in_window, number_check, too_long
from features.schema import DECLARATION_FIELDS, Field

# Whitespace that Python's str.strip and Arrow's utf8_trim_whitespace both remove; text with
# any other leading or trailing whitespace goes to the frame path.
_PLAIN_WHITESPACE = " \t\n\r\x0b\x0c"
_TEXT_KINDS = frozenset({"string", "category", "country", "hs_code", "itinerary"})
_NUMBER_KINDS = frozenset({"number", "count"})
_FIELD_NAMES = frozenset(spec.name for spec in DECLARATION_FIELDS)


class _NotPlain(Exception):
    """A value the fast path leaves to `validate_declarations`."""


@dataclass(frozen=True)
class CanonicalRecords:
    """Canonical declarations as feature columns and as one mapping per declaration.

    ``rows`` hold what a canonical frame's ``to_dict(orient="records")`` holds: text or
    ``None``, float (NaN when missing), ``lodged_at`` as a UTC ``pd.Timestamp``; reason texts
    and the operational store read them.
    """

    columns: DeclarationColumns
    rows: list[dict[str, Any]]
    extras: tuple[str, ...] = ()  # extra ``x_`` feature columns: numbers or text codes

    def __len__(self) -> int:
        return len(self.rows)

    @classmethod
    def from_frame(cls, declarations: pd.DataFrame) -> CanonicalRecords:
        """The same for a canonical frame (what `validate_declarations` returns)."""
        text = {spec.name for spec in DECLARATION_FIELDS if spec.kind in _TEXT_KINDS}
        rows = [
            {
                str(name): None if name in text and not isinstance(value, str) else value
                for name, value in row.items()
            }
            for row in declarations.to_dict(orient="records")
        ]
        extras = tuple(str(name) for name in declarations.columns if name not in _FIELD_NAMES)
        return cls(DeclarationColumns(declarations), rows, extras)

    @classmethod
    def concat(cls, parts: Sequence[CanonicalRecords]) -> CanonicalRecords:
        """Several requests' declarations as one batch (rows never influence each other)."""
        if len(parts) == 1:
            return parts[0]
        extras = parts[0].extras
        if any(part.extras != extras for part in parts):
            raise ValueError("declarations with different extra feature columns")
        strings, numbers, nanoseconds = {}, {}, {}
        for name in extras:
            if all(_numeric_extra(part.columns, name) for part in parts):
                numbers[name] = np.concatenate([part.columns.numbers(name) for part in parts])
            else:  # a categorical extra feature (text codes)
                strings[name] = np.concatenate([part.columns.strings(name) for part in parts])
        arrays = [part.columns for part in parts]
        for spec in DECLARATION_FIELDS:
            if spec.kind in _TEXT_KINDS:
                strings[spec.name] = np.concatenate([c.strings(spec.name) for c in arrays])
            elif spec.kind in _NUMBER_KINDS:
                numbers[spec.name] = np.concatenate([c.numbers(spec.name) for c in arrays])
            else:
                nanoseconds[spec.name] = np.concatenate([c.nanoseconds(spec.name) for c in arrays])
        rows = [row for part in parts for row in part.rows]
        columns = DeclarationColumns.from_arrays(
            len(rows), strings=strings, numbers=numbers, nanoseconds=nanoseconds
        )
        return cls(columns, rows, extras)


def _numeric_extra(columns: DeclarationColumns, name: str) -> bool:
    """Whether an extra column of records made from a frame holds numbers (else text)."""
    frame = columns.frame
    return frame is None or bool(pd.api.types.is_numeric_dtype(frame[name].dtype))


def canonical_records(records: Sequence[Mapping[str, Any]]) -> CanonicalRecords | None:
    """Canonical declarations from typed records, or None to leave them to the frame path.

    Records map canonical field names to ``str``, ``int``, ``float``, ``datetime``, a list of
    country codes (itinerary) or ``None``; absent fields count as ``None``. Any other key (an
    extra ``x_`` feature) or any value that is not plainly valid returns None.
    """
    if not records:
        return None
    try:
        rows = []
        for record in records:
            if not _FIELD_NAMES.issuperset(record):
                raise _NotPlain
            rows.append(
                {spec.name: _canonical(spec, record.get(spec.name)) for spec in DECLARATION_FIELDS}
            )
    except _NotPlain:
        return None
    ids = [row["declaration_id"] for row in rows]
    if len(set(ids)) != len(ids):
        return None
    strings, numbers, nanoseconds = {}, {}, {}
    for spec in DECLARATION_FIELDS:
        values = [row[spec.name] for row in rows]
        if spec.kind in _TEXT_KINDS:
            strings[spec.name] = np.array(values, dtype=object)
        elif spec.kind in _NUMBER_KINDS:
            numbers[spec.name] = np.array(values, dtype=np.float64)
        else:
            nanoseconds[spec.name] = np.array(
                [_nanoseconds(value) for value in values], dtype=np.int64
            )
    columns = DeclarationColumns.from_arrays(
        len(rows), strings=strings, numbers=numbers, nanoseconds=nanoseconds
    )
    return CanonicalRecords(columns, rows)


def _canonical(spec: Field, value: Any) -> Any:
    """One field's canonical value; raises `_NotPlain` for anything not plainly valid."""
    if spec.kind in _NUMBER_KINDS:
        number = _number(spec, value)
        if math.isnan(number) and spec.required:
            raise _NotPlain
        return number
    if spec.kind == "datetime":
        return _timestamp(value, spec.required)
    if spec.kind == "itinerary" and isinstance(value, list):
        value = ">".join(map(str, value))
    text = _text(value)
    if text is None:
        if spec.default is not None:
            return spec.default
        if spec.required:
            raise _NotPlain
        return None
    if too_long(spec, text):
        raise _NotPlain
    canonical = canonical_text(spec, text)
    if canonical is None:
        raise _NotPlain
    return canonical or None  # an empty itinerary is a missing one


def _text(value: Any) -> str | None:
    """Source text as `features.source_text.source_text` reads it (stripped, tokens missing)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _NotPlain
    text = value.strip(_PLAIN_WHITESPACE)
    if text.strip() != text:
        raise _NotPlain
    return None if text.lower() in MISSING_TOKENS else text


def _number(spec: Field, value: Any) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _NotPlain
    number = float(value)
    if math.isnan(number):  # no value, as in a frame
        return number
    if number_check(spec, number) is not None:
        raise _NotPlain
    return number


def _timestamp(value: Any, required: bool) -> pd.Timestamp | None:
    if value is None:
        if required:
            raise _NotPlain
        return None
    if not isinstance(value, datetime) or not in_window(value):
        raise _NotPlain
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return pd.Timestamp(utc).as_unit("us")


def _nanoseconds(stamp: pd.Timestamp | None) -> int:
    return int(np.iinfo(np.int64).min) if stamp is None else int(stamp.as_unit("ns").value)
