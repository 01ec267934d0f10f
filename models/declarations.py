"""Declarations as scoring reads them, from a canonical frame or from the API's typed records.

Scoring needs two views of the same declarations: the fields as arrays for the features
(`features.columns.DeclarationColumns`) and one mapping per declaration for the reason
texts. `DeclarationBatch.of` gives both, whichever form the declarations came in, so
`models.bundle.ModelBundle` scores every caller (API, batch files, training, drift) through
one code path:

- a canonical frame (`features.validation.validate_declarations`): its columns, and
  `DeclarationRows`, which reads a field the first time a reason text asks for it;
- canonical records (`features.records.CanonicalRecords`, or anything with ``columns`` and
  ``rows``): taken as they are.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from features.columns import DeclarationColumns

__all__ = ["DeclarationBatch", "DeclarationRows", "RecordsLike"]


class RecordsLike(Protocol):
    """Declarations already read into feature columns and row mappings (`CanonicalRecords`)."""

    @property
    def columns(self) -> DeclarationColumns: ...

    @property
    def rows(self) -> Sequence[Mapping[str, Any]]: ...


@dataclass(frozen=True)
class DeclarationBatch:
    """Declarations as scoring reads them.

    ``rows`` must hold the values a canonical frame's ``tolist`` gives (reason texts read
    them); ``index`` labels the rows of the frames scoring returns (the input frame's
    index, or positions for records).
    """

    columns: DeclarationColumns
    rows: Sequence[Mapping[str, Any]]
    index: pd.Index

    @classmethod
    def of(cls, declarations: pd.DataFrame | RecordsLike) -> DeclarationBatch:
        """The batch of a canonical frame, of canonical records, or the batch itself."""
        if isinstance(declarations, DeclarationBatch):
            return declarations
        if isinstance(declarations, pd.DataFrame):
            return cls(
                DeclarationColumns(declarations),
                DeclarationRows(declarations),
                declarations.index,
            )
        return cls(declarations.columns, declarations.rows, pd.RangeIndex(len(declarations.rows)))

    def __len__(self) -> int:
        return len(self.rows)

    def ids(self) -> list[str]:
        """Declaration ids, as text."""
        return [str(value) for value in self.columns.strings("declaration_id").tolist()]

    def office_ids(self) -> np.ndarray:
        """The office of each declaration (object array)."""
        return self.columns.strings("office_id")


class DeclarationRows(Sequence[Mapping[str, Any]]):
    """Declarations as read-only row mappings for reason texts, read column by column on use.

    A reason text reads one or two fields of its declaration; converting every column of the
    frame to Python objects for every scored row cost more than the texts themselves. A
    column is converted (``tolist``, the same values as ``DataFrame.to_dict``) the first time
    any row reads it, then shared by all rows.
    """

    def __init__(self, declarations: pd.DataFrame) -> None:
        self._frame = declarations
        self._names = frozenset(declarations.columns)
        self._values: dict[str, list[Any]] = {}

    def __len__(self) -> int:
        return len(self._frame)

    def __getitem__(self, row: int) -> Mapping[str, Any]:  # type: ignore[override]
        if not -len(self) <= row < len(self):
            raise IndexError(row)
        return _DeclarationRow(self, row + len(self) if row < 0 else row)

    def value(self, column: str, row: int) -> Any:
        """One field of one declaration, as a Python object."""
        if column not in self._values:
            if column not in self._names:
                raise KeyError(column)
            self._values[column] = self._frame[column].tolist()
        return self._values[column][row]

    def columns(self) -> list[str]:
        """Column names, in frame order."""
        return [str(c) for c in self._frame.columns]


class _DeclarationRow(Mapping[str, Any]):
    """One declaration of a `DeclarationRows`, read field by field."""

    def __init__(self, rows: DeclarationRows, row: int) -> None:
        self._rows = rows
        self._row = row

    def __getitem__(self, column: str) -> Any:
        return self._rows.value(column, self._row)

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows.columns())

    def __len__(self) -> int:
        return len(self._rows.columns())
