"""Validation of the one or few declarations of an API request: the same answers as for files.

Small frames take shortcuts (optional fields left out of every record skip parsing, distinct
values found without Arrow kernels); these tests pin that the shortcuts change nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.schema import DECLARATION_COLUMNS
from features.validation import DataValidationError, validate_declarations

RECORD = {
    "declaration_id": "D1",
    "lodged_at": "2024-03-01T14:30:00+01:00",
    "office_id": "MK-TAB",
    "transport_mode": "3",
    "declarant_id": "DC1",
    "importer_id": "IM1",
    "origin_country": "tr",
    "dispatch_country": "BG",
    "hs_code": "9305.10",
    "net_mass_kg": 12.5,
    "customs_value_eur": 900.0,
}


def request_frame(*records: dict[str, object]) -> pd.DataFrame:
    """What the service builds from JSON: every canonical column, None where a field is left out."""
    return pd.DataFrame.from_records(list(records), columns=list(DECLARATION_COLUMNS))


def test_optional_fields_left_out_give_the_columns_of_a_table_without_them() -> None:
    from_request = validate_declarations(request_frame(RECORD))
    without_columns = validate_declarations(pd.DataFrame([RECORD]))
    pd.testing.assert_frame_equal(from_request, without_columns)
    row = from_request.iloc[0]
    assert row["flow"] == "import"  # the default, as for an absent column
    assert row["hs_code"] == "930510"
    assert row["origin_country"] == "TR"
    assert row["transport_mode"] == "road"
    assert row["lodged_at"] == pd.Timestamp("2024-03-01T13:30:00Z")
    assert np.isnan(row["packages"]) and pd.isna(row["itinerary"])
    assert from_request["itinerary"].dtype == "str"
    assert from_request["packages"].dtype == "float64"


def test_a_required_field_left_out_is_reported_with_its_row() -> None:
    with pytest.raises(DataValidationError) as error:
        validate_declarations(
            request_frame(RECORD, {**RECORD, "declaration_id": "D2", "importer_id": None})
        )
    assert [(p.column, p.message, p.rows, p.values) for p in error.value.problems] == [
        ("importer_id", "required value is empty in 1 row", (2,), ("(empty)",))
    ]


def test_duplicate_ids_among_a_few_declarations_are_reported() -> None:
    with pytest.raises(DataValidationError) as error:
        validate_declarations(request_frame(RECORD, {**RECORD, "declaration_id": "D2"}, RECORD))
    assert [(p.column, p.message, p.rows, p.values) for p in error.value.problems] == [
        ("declaration_id", "duplicate declaration id in 2 rows", (1, 3), ("'D1'", "'D1'"))
    ]


def test_a_few_rows_and_many_rows_validate_alike() -> None:
    """Above 64 rows distinct values come from Arrow; below, from a dict: same frame."""
    records = [
        {**RECORD, "declaration_id": f"D{i}", "itinerary": ["GR", "MK"] if i % 2 else "GR>MK>RS"}
        for i in range(70)
    ]
    many = validate_declarations(request_frame(*records))
    few = pd.concat(
        [validate_declarations(request_frame(*records[i : i + 3])) for i in range(0, 70, 3)],
        ignore_index=True,
    )
    pd.testing.assert_frame_equal(many, few)
    assert many["itinerary"].tolist()[:2] == ["GR>MK>RS", "GR>MK"]
