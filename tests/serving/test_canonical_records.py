"""The records fast path (`features.records`) gives exactly what frame validation gives.

The score route makes a request's declarations canonical with `canonical_records` and falls
back to `validate_declarations` only when the fast path declines. For every payload the fast
path accepts, every column the features read and every row the reasons and the store read
must equal the frame path's; for every value it is unsure of, it must decline.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.records import CanonicalRecords, canonical_records
from features.schema import DECLARATION_FIELDS
from features.validation import validate_declarations
from serving.scoring.schemas import Declaration, declarations_frame
from serving.store.scores import declaration_record
from tests.serving.test_schemas import MINIMAL

READERS = {"number": "numbers", "count": "numbers", "datetime": "nanoseconds"}


def payload(records: list[dict[str, Any]]) -> list[Declaration]:
    return [Declaration.model_validate(record) for record in records]


def both_paths(declarations: list[Declaration]) -> tuple[CanonicalRecords, CanonicalRecords]:
    fast = canonical_records([dict(d) for d in declarations])
    assert fast is not None, "the fast path declined a plain payload"
    frame = validate_declarations(declarations_frame(declarations), source="request")
    return fast, CanonicalRecords.from_frame(frame)


def assert_same(fast: CanonicalRecords, slow: CanonicalRecords) -> None:
    for spec in DECLARATION_FIELDS:
        reader = READERS.get(spec.kind, "strings")
        got = getattr(fast.columns, reader)(spec.name)
        want = getattr(slow.columns, reader)(spec.name)
        assert got.dtype == want.dtype, spec.name
        if reader == "numbers":
            np.testing.assert_array_equal(got, want, err_msg=spec.name)
        else:
            assert got.tolist() == want.tolist(), spec.name
    assert [declaration_record(row) for row in fast.rows] == [
        declaration_record(row) for row in slow.rows
    ]
    for got_row, want_row in zip(fast.rows, slow.rows, strict=True):
        assert list(got_row) == list(want_row)
        for name, want_value in want_row.items():
            got_value = got_row[name]
            if isinstance(want_value, float) and math.isnan(want_value):
                assert isinstance(got_value, float) and math.isnan(got_value), name
            elif want_value is None or (
                not isinstance(want_value, float | int) and pd.isna(want_value)
            ):
                assert got_value is None, name
            else:
                assert got_value == want_value, name
                assert type(got_value) is type(want_value), name


def test_synthetic_declarations_read_the_same_on_both_paths(synthetic_dir: Path) -> None:
    frame = pd.read_parquet(synthetic_dir / "declarations.parquet").head(400)
    records = []
    for row in frame.to_dict(orient="records"):
        record: dict[str, Any] = {}
        for name, value in row.items():
            if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
                continue
            record[str(name)] = value.isoformat() if isinstance(value, pd.Timestamp) else value
        records.append(record)
    fast, slow = both_paths(payload(records))
    assert len(fast) == 400
    assert_same(fast, slow)


@pytest.mark.parametrize(
    "changes",
    [
        {"transport_mode": " Road "},
        {"transport_mode": "3"},
        {"transport_mode": "Inland_Water"},
        {"flow": "Transit"},
        {"flow": None},
        {"vehicle_type": "TRUCK"},
        {"origin_country": "tr", "dispatch_country": " gr"},
        {"destination_country": "xk"},
        {"itinerary": ["gr", "MK", "rs"]},
        {"itinerary": "GR > MK-RS"},
        {"itinerary": ""},
        {"itinerary": []},
        {"hs_code": " 9305100000 "},
        {"hs_code": "930510"},
        {"goods_description": "  pistol parts  "},
        {"goods_description": "NULL"},
        {"goods_description": "n/a"},
        {"goods_description": ""},
        {"vehicle_id": " none "},
        {"carrier_id": "nan"},
        {"lodged_at": "2024-03-01T14:30:00"},
        {"lodged_at": "2024-03-01T14:30:00.123456+01:00"},
        {"lodged_at": "2024-03-01T00:30:00-05:00"},
        {"lodged_at": "2024-12-31T23:59:59Z"},
        {"packages": 3, "gross_mass_kg": 0, "duty_rate": 2.5},
        {"net_mass_kg": 0.001, "customs_value_eur": 10**9},
    ],
)
def test_values_are_made_canonical_as_validation_makes_them(changes: dict[str, Any]) -> None:
    records = [{**MINIMAL, **changes}, {**MINIMAL, "declaration_id": "D2"}]
    fast, slow = both_paths(payload(records))
    assert_same(fast, slow)


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"declarant_id": "null"}, "a required id written as a missing token"),
        ({"goods_description": "\u00a0pistol"}, "whitespace Arrow and Python may trim apart"),
        ({"lodged_at": datetime(1850, 1, 1)}, "outside the accepted years"),
        ({"itinerary": "GR>QX"}, "an unknown country in the route"),
        ({"x_fleet_size": 3}, "an extra feature column"),
    ],
)
def test_unsure_values_are_left_to_frame_validation(changes: dict[str, Any], why: str) -> None:
    # Typed records as the route hands them over, with the value pydantic would refuse or
    # change (the fast path must not rely on pydantic having run).
    typed = dict(payload([MINIMAL])[0])
    assert canonical_records([typed | changes]) is None, why


def test_records_the_api_cannot_send_are_declined() -> None:
    typed = dict(payload([MINIMAL])[0])
    assert canonical_records([typed]) is not None
    assert canonical_records([]) is None
    assert canonical_records([typed, dict(typed)]) is None  # a repeated declaration id
    assert canonical_records([typed | {"packages": True}]) is None
    assert canonical_records([typed | {"net_mass_kg": -1.0}]) is None
    assert canonical_records([typed | {"net_mass_kg": math.inf}]) is None
    assert canonical_records([typed | {"office_id": 12}]) is None
    assert canonical_records([typed | {"lodged_at": "2024-03-01"}]) is None  # text, not a datetime
    assert canonical_records([typed | {"unknown": "x"}]) is None


def test_batches_concatenate_column_by_column() -> None:
    first = canonical_records([dict(d) for d in payload([MINIMAL])])
    second = canonical_records(
        [dict(d) for d in payload([{**MINIMAL, "declaration_id": "D2", "packages": 4}])]
    )
    assert first is not None and second is not None
    both = CanonicalRecords.concat([first, second])
    assert both.columns.strings("declaration_id").tolist() == ["D1", "D2"]
    np.testing.assert_array_equal(both.columns.numbers("packages"), [np.nan, 4.0])
    assert [row["declaration_id"] for row in both.rows] == ["D1", "D2"]
