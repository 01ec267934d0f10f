"""Dataclasses read from and written to rows of the store, field by field, by name.

A dataclass whose fields bear the names of a table's columns is read from a row (an ORM
object or a Core row) and written as a row's values without listing its fields again: only
the values that change type on the way (a tuple stored as a list, an enum as its value) are
given. Field by field, not `dataclasses.asdict`: that deep-copies every value.

`declaration_rows` reads a declaration's rows of one table (its scorings, its outcomes, its
waiver and addition), the one query those reads share.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

T = TypeVar("T")


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:  # once per class: fields() builds a new tuple on every call
        names = _FIELD_NAMES[cls] = tuple(item.name for item in fields(cls))
    return names


def from_row(cls: type[T], row: Any, **converted: Any) -> T:
    """A ``cls`` with each field read from the row's attribute of that name, or taken from
    ``converted`` where given there."""
    values = {name: getattr(row, name) for name in _field_names(cls) if name not in converted}
    return cast(Any, cls)(**values, **converted)


def row_values(instance: Any, **converted: Any) -> dict[str, Any]:
    """The dataclass ``instance``'s fields by name, ``converted`` given instead where given."""
    values = {name: getattr(instance, name) for name in _field_names(type(instance))}
    values.update(converted)
    return values


def declaration_rows(session: Session, table: type[T], declaration_id: str, order: Any) -> list[T]:
    """The rows of ``table`` (a mapped class with a ``declaration_id`` column) that belong to
    ``declaration_id``, ordered by ``order`` (a column of ``table``)."""
    of_declaration = cast(Any, table).declaration_id == declaration_id
    return list(session.scalars(select(table).where(of_declaration).order_by(order)))
