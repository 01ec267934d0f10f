"""Properties of validation: junk in -> DataValidationError out (never another error type);
valid frames survive a round trip through validation, text and validation again."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.schema import COUNTRY_CODES, DECLARATION_FIELDS, TRANSPORT_MODES
from features.validation import (
    DataValidationError,
    validate_declarations,
    validate_outcomes,
    validate_watchlist,
)

PROPERTY_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
COUNTRIES = sorted(COUNTRY_CODES)

# Anything a spreadsheet, a JSON payload or a careless join can put in a cell.
junk_cell = st.one_of(
    st.none(),
    st.just(np.nan),
    st.text(max_size=12),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 1, 1)),
    st.lists(st.sampled_from(["GR", "MK", "??", ""]), max_size=3),
    st.sampled_from(["", "NA", "null", "930510", "9305.10", "road", "3", "-1", "1e400"]),
)


@st.composite
def junk_frame(draw: st.DrawFn, columns: tuple[str, ...]) -> pd.DataFrame:
    n = draw(st.integers(min_value=0, max_value=6))
    kept = draw(st.lists(st.sampled_from(columns), unique=True, max_size=len(columns)))
    data = {name: [draw(junk_cell) for _ in range(n)] for name in kept}
    return pd.DataFrame(data, index=range(n), dtype=object)


DECLARATION_NAMES = tuple(f.name for f in DECLARATION_FIELDS)


@PROPERTY_SETTINGS
@given(junk_frame((*DECLARATION_NAMES, "unrelated")))
def test_junk_declarations_raise_only_data_validation_errors(raw: pd.DataFrame) -> None:
    try:
        frame = validate_declarations(raw)
    except DataValidationError as error:
        assert error.problems, "an error must carry at least one problem"
        assert all(p.fix for p in error.problems)
    else:
        assert list(frame.columns) == list(DECLARATION_NAMES)
        assert len(frame) == len(raw)


@PROPERTY_SETTINGS
@given(
    junk_frame(
        (
            "declaration_id",
            "inspected_at",
            "result",
            "weapons_found",
            "migrants_found",
            "selection_probability",
        )
    )
)
def test_junk_outcomes_raise_only_data_validation_errors(raw: pd.DataFrame) -> None:
    try:
        validate_outcomes(raw, known_declaration_ids=["D1"])
    except DataValidationError as error:
        assert error.problems


@PROPERTY_SETTINGS
@given(junk_frame(("entity_type", "entity_id", "threat", "valid_from", "valid_to")))
def test_junk_watchlist_raises_only_data_validation_errors(raw: pd.DataFrame) -> None:
    try:
        validate_watchlist(raw)
    except DataValidationError as error:
        assert error.problems


@st.composite
def valid_declarations(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(min_value=1, max_value=6))
    ids = draw(
        st.lists(
            st.from_regex(r"[A-Z]{1,3}[0-9]{1,6}", fullmatch=True),
            min_size=n,
            max_size=n,
            unique=True,
        )
    )
    moments = draw(
        st.lists(
            st.datetimes(min_value=dt.datetime(2015, 1, 1), max_value=dt.datetime(2030, 1, 1)),
            min_size=n,
            max_size=n,
        )
    )
    cell = {
        "office_id": st.from_regex(r"[A-Z]{2}[0-9]{2}", fullmatch=True),
        "transport_mode": st.sampled_from(TRANSPORT_MODES),
        "declarant_id": st.from_regex(r"D[0-9]{1,4}", fullmatch=True),
        "importer_id": st.from_regex(r"I[0-9]{1,4}", fullmatch=True),
        "origin_country": st.sampled_from(COUNTRIES),
        "dispatch_country": st.sampled_from(COUNTRIES),
        "itinerary": st.lists(st.sampled_from(COUNTRIES), min_size=1, max_size=4).map(">".join),
        "hs_code": st.from_regex(r"[0-9]{6}|[0-9]{8}|[0-9]{10}", fullmatch=True),
        "packages": st.integers(min_value=0, max_value=10_000).map(float),
        "net_mass_kg": st.floats(min_value=0, max_value=1e7).map(lambda v: round(v, 3)),
        "customs_value_eur": st.floats(min_value=0, max_value=1e9).map(lambda v: round(v, 2)),
    }
    data: dict[str, object] = {
        "declaration_id": ids,
        "lodged_at": pd.to_datetime(moments).tz_localize("UTC").as_unit("us"),
    }
    for name, strategy in cell.items():
        data[name] = [draw(strategy) for _ in range(n)]
    return pd.DataFrame(data)


@settings(PROPERTY_SETTINGS, max_examples=20)
@given(valid_declarations())
def test_valid_frames_round_trip(raw: pd.DataFrame) -> None:
    first = validate_declarations(raw)
    again = validate_declarations(first)
    pd.testing.assert_frame_equal(again, first)

    # Through text, as a CSV export would carry it: same canonical frame.
    text = io.StringIO()
    first.to_csv(text, index=False, date_format="%Y-%m-%dT%H:%M:%S.%f%z")
    text.seek(0)
    from_csv = pd.read_csv(text, dtype=str, keep_default_na=False, na_values=[""])
    pd.testing.assert_frame_equal(validate_declarations(from_csv), first)

    assert first["hs_code"].tolist() == raw["hs_code"].tolist()
    assert first["itinerary"].tolist() == raw["itinerary"].tolist()


@settings(PROPERTY_SETTINGS, max_examples=25)
@given(
    valid_declarations(),
    st.sampled_from(
        [
            ("hs_code", "12"),
            ("origin_country", "QQ"),
            ("transport_mode", "boat"),
            ("net_mass_kg", -1.0),
            ("lodged_at", "not a date"),
            ("declaration_id", None),
        ]
    ),
    st.data(),
)
def test_one_bad_cell_is_reported_at_its_row(
    raw: pd.DataFrame, bad: tuple[str, object], data: st.DataObject
) -> None:
    column, value = bad
    row = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    broken = raw.astype({column: object})
    broken.loc[row, column] = value
    with pytest.raises(DataValidationError) as error:
        validate_declarations(broken)
    assert [(p.column, p.rows) for p in error.value.problems] == [(column, (row + 1,))]
