"""Declaration fields as numpy arrays, each read from the frame once per transform.

Serving scores one declaration per request, where every pandas operation costs tens of
microseconds; the features therefore read the fields they need through
:class:`DeclarationColumns`, which converts a field the first time it is asked for and
hands the same array to every later feature. Missing strings are ``None``, datetimes are
int64 nanoseconds (``NAT_NS`` when missing) and numbers float64 with NaN.

String work (id normalisation, prefixes, splits) runs once per distinct value through
:func:`per_distinct`: values repeat heavily across declarations, and a single declaration
has only one of each.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, TypeVar, cast

import numpy as np
import pandas as pd

HashableT = TypeVar("HashableT", bound=Hashable)
NAT_NS = np.iinfo(np.int64).min  # pandas' integer form of NaT
NANOSECONDS_PER_UNIT = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
NONE = np.array(None, dtype=object)  # compared element by element: which entries are None


def missing(values: np.ndarray) -> np.ndarray:
    """Which entries of an object array are ``None`` (missing strings, ids or keys)."""
    return np.equal(values, NONE)


def as_nanoseconds(times: pd.Series) -> np.ndarray:
    """UTC datetimes as int64 nanoseconds since the epoch; NaT becomes ``NAT_NS``.

    A datetime column is scaled from its own unit without building an index (this runs on
    every serving request); anything else, or a time outside the nanosecond range, goes
    through ``DatetimeIndex``, which parses it or raises pandas' out-of-bounds error.
    """
    values = times.array if isinstance(times, pd.Series) else None
    if isinstance(values, pd.arrays.DatetimeArray):
        raw = np.asarray(cast(Any, values).asi8, dtype=np.int64)
        scale = NANOSECONDS_PER_UNIT[values.unit]
        missing = raw == NAT_NS
        limit = np.iinfo(np.int64).max // scale
        if scale == 1 or not (np.abs(raw[~missing]) > limit).any():
            return np.where(missing, NAT_NS, raw * scale)
    return np.asarray(pd.DatetimeIndex(times).as_unit("ns").asi8, dtype=np.int64)


def per_distinct(values: np.ndarray, function: Callable[[str], Any]) -> np.ndarray:
    """``function`` of each string, computed once per distinct value; ``None`` stays ``None``."""
    results = {
        value: None if value is None else function(value)
        for value in dict.fromkeys(values.tolist())
    }
    return np.fromiter(map(results.__getitem__, values.tolist()), dtype=object, count=len(values))


def normalised_id(value: str) -> str | None:
    """Trimmed, inner whitespace collapsed to one space, case-folded; blank is ``None``.

    ``str.split()`` splits on exactly the characters pandas' ``str.strip`` and the regular
    expression ``\\s`` treat as whitespace (Unicode whitespace), so this equals
    ``strip -> replace(r"\\s+", " ") -> casefold`` on every string.
    """
    return " ".join(value.split()).casefold() or None


def normalised_ids(values: np.ndarray) -> np.ndarray:
    """:func:`normalised_id` of each value (object array, ``None`` when missing or blank)."""
    return per_distinct(values, normalised_id)


def prefixes(values: np.ndarray, length: int) -> np.ndarray:
    """The first ``length`` characters of each string (``None`` stays ``None``)."""
    return per_distinct(values, lambda value: value[:length])


class DeclarationColumns:
    """Read-only arrays of a declarations frame, each field converted on first use.

    The frame must not change while the columns are in use (transforms never change their
    input).
    """

    def __init__(self, declarations: pd.DataFrame) -> None:
        self.frame: pd.DataFrame | None = declarations
        self._rows = len(declarations)
        self._cache: dict[tuple[str, str], np.ndarray] = {}

    @classmethod
    def from_arrays(
        cls,
        rows: int,
        *,
        strings: Mapping[str, np.ndarray],
        numbers: Mapping[str, np.ndarray],
        nanoseconds: Mapping[str, np.ndarray],
    ) -> DeclarationColumns:
        """Columns already in their read form, with no frame behind them.

        For declarations that arrive as typed records (the API): the arrays are what the
        readers would return for the canonical frame of the same declarations (object
        arrays with ``None``, float64 with NaN, int64 nanoseconds), so every feature is
        computed by the same code without building a frame first. A field not given here
        cannot be read.
        """
        columns = cls.__new__(cls)
        columns.frame = None
        columns._rows = rows
        columns._cache = {}
        for kind, arrays in (
            ("strings", strings),
            ("numbers", numbers),
            ("nanoseconds", nanoseconds),
        ):
            for field, values in arrays.items():
                if len(values) != rows:
                    raise ValueError(f"{field}: {len(values)} values for {rows} declarations")
                columns._cache[(kind, field)] = values
        return columns

    def __len__(self) -> int:
        return self._rows

    def _column(self, field: str) -> pd.Series:
        if self.frame is None:
            raise KeyError(f"{field!r} was not given to DeclarationColumns.from_arrays")
        return self.frame[field]

    def _cached(self, kind: str, field: str, read: Callable[[], np.ndarray]) -> np.ndarray:
        key = (kind, field)
        if key not in self._cache:
            self._cache[key] = read()
        return self._cache[key]

    def derived(self, name: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """An array computed from these columns once (as split itineraries), then reused by
        every feature that needs it."""
        return self._cached("derived", name, compute)

    def strings(self, field: str) -> np.ndarray:
        """The field as strings (object array; missing is ``None``), as ``astype("str")``."""

        def read() -> np.ndarray:
            values = self._column(field)
            if not _is_default_string(values.dtype):
                values = values.astype("str")
            return cast(Any, values).to_numpy(dtype=object, na_value=None)

        return self._cached("strings", field, read)

    def ids(self, field: str) -> np.ndarray:
        """The field as normalised ids (see :func:`normalised_id`)."""
        return self._cached("ids", field, lambda: normalised_ids(self.strings(field)))

    def numbers(self, field: str) -> np.ndarray:
        """The field as float64 (NaN when missing)."""
        return self._cached(
            "numbers", field, lambda: self._column(field).to_numpy(dtype=np.float64)
        )

    def nanoseconds(self, field: str) -> np.ndarray:
        """A datetime field as int64 nanoseconds since the epoch, ``NAT_NS`` when missing."""
        return self._cached("nanoseconds", field, lambda: as_nanoseconds(self._column(field)))


def _is_default_string(dtype: Any) -> bool:
    return isinstance(dtype, pd.StringDtype) and dtype.na_value is np.nan


def factorised(values: Sequence[HashableT]) -> tuple[np.ndarray, list[HashableT]]:
    """Position of each value among the distinct values (in order of first appearance),
    and those distinct values."""
    positions: dict[HashableT, int] = {}
    codes = np.fromiter(
        (positions.setdefault(value, len(positions)) for value in values),
        dtype=np.int64,
        count=len(values),
    )
    return codes, list(positions)
