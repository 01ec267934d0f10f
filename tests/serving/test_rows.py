"""Dataclasses to and from the store's rows by field name (`serving.store.rows`)."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from serving.store.rows import from_row, row_values


@dataclass(frozen=True)
class Parcel:
    parcel_id: str
    offices: tuple[str, ...] | None
    weight_kg: float = 0.0


def test_a_row_is_read_by_field_name_with_conversions_taken_as_given() -> None:
    row = SimpleNamespace(parcel_id="p1", offices=["A", "B"], weight_kg=2.5, extra="ignored")
    parcel = from_row(Parcel, row, offices=tuple(row.offices))
    assert parcel == Parcel("p1", ("A", "B"), 2.5)


def test_values_name_every_field_and_conversions_replace_theirs() -> None:
    parcel = Parcel("p1", ("A",), 1.0)
    assert row_values(parcel, offices=["A"], stored_as="extra") == {
        "parcel_id": "p1",
        "offices": ["A"],
        "weight_kg": 1.0,
        "stored_as": "extra",
    }


def test_a_round_trip_gives_the_same_dataclass() -> None:
    parcel = Parcel("p2", None, 3.0)
    assert from_row(Parcel, SimpleNamespace(**row_values(parcel))) == parcel
