"""One rule set: the API's pydantic models, the records fast path and frame validation agree.

The same table of good and bad values per field goes to all three paths. A good value must be
accepted by each, with the same canonical value; a bad one refused by pydantic and by
`validate_declarations` (naming the field), and declined by `canonical_records` (which then
leaves the verdict to the frame path).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

from features.records import canonical_records
from features.schema import DECLARATION_FIELDS
from features.validation import DataValidationError, validate_declarations, validate_outcomes
from serving.inspections.schemas import Outcome
from serving.scoring.schemas import Declaration
from tests.serving.test_schemas import MINIMAL

REFUSED = object()
NAN = math.nan

# The minimal valid declaration, with a datetime as the API's model hands it over.
BASE: dict[str, Any] = {**MINIMAL, "lodged_at": datetime(2024, 3, 1, 12, 0)}

CASES: list[tuple[str, Any, Any]] = [
    # ids and free text: stripped, missing tokens are no value, capped
    ("declaration_id", "  D7 ", "D7"),
    ("declaration_id", "x" * 200, "x" * 200),
    ("declaration_id", "x" * 201, REFUSED),
    ("declaration_id", "null", REFUSED),
    ("declarant_id", "", REFUSED),
    ("office_id", "o" * 201, REFUSED),
    ("carrier_id", "n/a", None),
    ("exporter_id", " EXP 1 ", "EXP 1"),
    ("importer_id", "i" * 201, REFUSED),
    ("procedure_code", "4000", "4000"),
    ("vehicle_id", "v" * 201, REFUSED),
    ("goods_description", "  pistol parts ", "pistol parts"),
    ("goods_description", "g" * 2000, "g" * 2000),
    ("goods_description", "g" * 2001, REFUSED),
    # HS codes: punctuation stripped, lost leading zeros put back
    ("hs_code", "9305.10", "930510"),
    ("hs_code", "9305 10 00", "93051000"),
    ("hs_code", " 9305100000 ", "9305100000"),
    ("hs_code", "93051", "093051"),
    ("hs_code", "930510.0", "930510"),
    ("hs_code", "9305.1", REFUSED),
    ("hs_code", "12", REFUSED),
    ("hs_code", "SECRET-CODE", REFUSED),
    ("hs_code", "93051000000", REFUSED),
    # countries: upper-cased, ISO alpha-2 plus XK and ZZ
    ("origin_country", "tr", "TR"),
    ("dispatch_country", " gr", "GR"),
    ("destination_country", "xk", "XK"),
    ("destination_country", "zz", "ZZ"),
    ("origin_country", "00", REFUSED),
    ("origin_country", "QQ", REFUSED),
    ("origin_country", "TUR", REFUSED),
    # itineraries: codes joined by '>', an empty route is no route
    ("itinerary", ["gr", "MK", "rs"], "GR>MK>RS"),
    ("itinerary", "GR > MK-RS", "GR>MK>RS"),
    ("itinerary", "", None),
    ("itinerary", "GR>QX", REFUSED),
    ("itinerary", ">".join(["GR"] * 67), ">".join(["GR"] * 67)),  # 200 characters
    ("itinerary", ">".join(["GR"] * 68), REFUSED),  # 203 characters
    # enumerations: any case, WCO transport-mode digits mapped
    ("transport_mode", "3", "road"),
    ("transport_mode", "30", "road"),
    ("transport_mode", "1", "sea"),
    ("transport_mode", "6", "unknown"),
    ("transport_mode", "Inland Water", "inland_water"),
    ("transport_mode", " AIR ", "air"),
    ("transport_mode", "teleport", REFUSED),
    ("transport_mode", "123", REFUSED),
    ("flow", "Transit", "transit"),
    ("flow", None, "import"),
    ("flow", "smuggle", REFUSED),
    ("vehicle_type", "TRUCK", "truck"),
    ("vehicle_type", "boat", REFUSED),
    # numbers: finite, 0 or more, capped; NaN is no value
    ("net_mass_kg", 0.001, 0.001),
    ("net_mass_kg", 1e10, 1e10),
    ("net_mass_kg", -1.0, REFUSED),
    ("net_mass_kg", 1.5e10, REFUSED),
    ("net_mass_kg", NAN, REFUSED),
    ("net_mass_kg", math.inf, REFUSED),
    ("gross_mass_kg", NAN, NAN),
    ("gross_mass_kg", -math.inf, REFUSED),
    ("customs_value_eur", 1e12, 1e12),
    ("customs_value_eur", 1e13, REFUSED),
    ("customs_value_eur", -0.01, REFUSED),
    ("duty_rate", 2.5, 2.5),
    ("duty_rate", 10001.0, REFUSED),
    ("packages", 3, 3.0),
    ("packages", 2.5, REFUSED),
    ("packages", -1, REFUSED),
    ("packages", 2 * 10**9, REFUSED),
    # dates: 1990 to 2100 in UTC, naive = UTC
    ("lodged_at", datetime(1990, 1, 1), pd.Timestamp("1990-01-01", tz="UTC")),
    (
        "lodged_at",
        datetime(2024, 3, 1, 14, 30, tzinfo=timezone(timedelta(hours=1))),
        pd.Timestamp("2024-03-01T13:30", tz="UTC"),
    ),
    ("lodged_at", datetime(2100, 12, 31, 23, 59), pd.Timestamp("2100-12-31T23:59", tz="UTC")),
    ("lodged_at", datetime(1989, 12, 31, 23, 59), REFUSED),
    ("lodged_at", datetime(1, 1, 1), REFUSED),
    ("lodged_at", datetime(9999, 12, 31), REFUSED),
    ("lodged_at", datetime(2100, 12, 31, 20, 0, tzinfo=timezone(timedelta(hours=-5))), REFUSED),
]


def case_id(case: tuple[str, Any, Any]) -> str:
    field, value, expected = case
    shown = repr(value) if len(repr(value)) < 40 else f"{repr(value)[:12]}...({len(repr(value))})"
    return f"{field}={shown}->{'refused' if expected is REFUSED else 'ok'}"


def test_every_declaration_field_has_cases() -> None:
    covered = {field for field, _, _ in CASES}
    names = {spec.name for spec in DECLARATION_FIELDS}
    assert covered == names


def api_value(record: dict[str, Any], field: str) -> Any:
    """The field as the API's pydantic model holds it, or REFUSED (the error names the field)."""
    try:
        declaration = Declaration.model_validate(record)
    except ValidationError as error:
        assert [item["loc"] for item in error.errors()] == [(field,)]
        assert "SECRET" not in error.errors()[0]["msg"]  # never echoes the value
        return REFUSED
    return getattr(declaration, field)


def fast_value(record: dict[str, Any], field: str) -> Any:
    records = canonical_records([record])
    return REFUSED if records is None else records.rows[0][field]


def frame_value(record: dict[str, Any], field: str) -> Any:
    raw = pd.DataFrame.from_records([record], columns=list(record))
    try:
        frame = validate_declarations(raw)
    except DataValidationError as error:
        assert {problem.column for problem in error.problems} == {field}
        return REFUSED
    value = frame[field].iloc[0]
    return None if value is None or (not isinstance(value, float) and pd.isna(value)) else value


def same(got: Any, expected: Any) -> bool:
    if expected is REFUSED or got is REFUSED:
        return got is expected
    if expected is None or (isinstance(expected, float) and math.isnan(expected)):
        return got is None or (isinstance(got, float) and math.isnan(got))
    if isinstance(expected, pd.Timestamp) and isinstance(got, datetime):
        utc = got.replace(tzinfo=UTC) if got.tzinfo is None else got
        return pd.Timestamp(utc) == expected
    return bool(got == expected)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_the_api_the_fast_path_and_files_agree(case: tuple[str, Any, Any]) -> None:
    field, value, expected = case
    record = {**BASE, field: value}
    got = {
        "api": api_value(record, field),
        "records": fast_value(record, field),
        "frame": frame_value(record, field),
    }
    assert {path: same(value, expected) for path, value in got.items()} == {
        "api": True,
        "records": True,
        "frame": True,
    }, got


def test_the_fast_path_takes_what_the_api_makes_canonical() -> None:
    """The route hands pydantic's values to the fast path: every accepted case stays accepted."""
    for field, value, expected in CASES:
        if expected is REFUSED:
            continue
        typed = Declaration.model_validate({**BASE, field: value}).__dict__
        assert same(fast_value(typed, field), expected), (field, value)


OUTCOME_BASE: dict[str, Any] = {
    "declaration_id": "D1",
    "inspected_at": datetime(2024, 3, 2),
    "result": "clear",
}

OUTCOME_CASES: list[tuple[str, Any, Any]] = [
    ("result", "Irregular", "irregular"),
    ("result", "maybe", REFUSED),
    ("inspection_type", "SCAN", "scan"),
    ("inspection_type", None, "physical"),
    ("selection_reason", "Intelligence", "intelligence"),
    ("selection_probability", 0.05, 0.05),
    ("selection_probability", NAN, NAN),
    ("selection_probability", 1.5, REFUSED),
    ("selection_probability", math.inf, REFUSED),
    ("migrants_found", 4, 4.0),
    ("migrants_found", -1, REFUSED),
    ("migrants_found", 20_000, REFUSED),
    ("additional_duty_eur", 1e13, REFUSED),
    ("weapons_found", "yes", True),
    ("weapons_found", "maybe", REFUSED),
    ("notes", "n" * 2001, REFUSED),
    ("concealment", " fuel tank ", "fuel tank"),
    ("declaration_id", "d" * 201, REFUSED),
    ("inspected_at", datetime(1, 1, 1), REFUSED),
    ("inspected_at", datetime(9999, 12, 31), REFUSED),
]


@pytest.mark.parametrize("case", OUTCOME_CASES, ids=case_id)
def test_the_api_and_outcome_files_agree(case: tuple[str, Any, Any]) -> None:
    field, value, expected = case
    record = {**OUTCOME_BASE, field: value}
    try:
        api: Any = getattr(Outcome.model_validate(record), field)
    except ValidationError as error:
        assert [item["loc"] for item in error.errors()] == [(field,)]
        api = REFUSED
    try:
        frame: Any = validate_outcomes(pd.DataFrame.from_records([record], columns=list(record)))[
            field
        ].iloc[0]
    except DataValidationError as error:
        assert {problem.column for problem in error.problems} == {field}
        frame = REFUSED
    if frame is not REFUSED and not isinstance(frame, float | bool) and pd.isna(frame):
        frame = None
    assert (same(api, expected), same(frame, expected)) == (True, True), (api, frame)
