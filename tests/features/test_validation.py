"""Canonical validation: coercion rules per field kind, and problems collected with rows and fixes."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from features.rules import normalize_hs_code, normalize_transport_mode, parse_itinerary
from features.schema import (
    DATETIME_DTYPE,
    DECLARATION_COLUMNS,
    OUTCOME_COLUMNS,
    WATCHLIST_COLUMNS,
)
from features.source_text import source_text
from features.validation import (
    DataValidationError,
    Problem,
    validate_declarations,
    validate_outcomes,
    validate_watchlist,
)


def raw_declarations(**overrides: list[object]) -> pd.DataFrame:
    """Three valid declarations as a CSV reader gives them (all text); columns overridable."""
    columns: dict[str, list[object]] = {
        "declaration_id": ["D1", "D2", "D3"],
        "lodged_at": ["2024-03-01", "2024-03-01T14:30:00+01:00", "2024-03-02 08:00"],
        "office_id": ["RS-HORGOS", "MK-TABANOVCE", "AL-DURRES"],
        "transport_mode": ["road", "3", "1"],
        "declarant_id": ["DEC1", "DEC2", "DEC3"],
        "importer_id": ["IMP1", "IMP2", "IMP3"],
        "origin_country": ["TR", "gr", "CN"],
        "dispatch_country": ["TR", "GR", "CN"],
        "hs_code": ["930510", "8708.99", "73181500"],
        "net_mass_kg": ["12.5", "1000", "0"],
        "customs_value_eur": ["250", "4000.75", "10"],
    }
    columns.update(overrides)
    return pd.DataFrame(columns)


def problems_of(error: pytest.ExceptionInfo[DataValidationError]) -> list[Problem]:
    return error.value.problems


# -- a valid table ---------------------------------------------------------------------------


def test_valid_declarations_are_coerced_to_the_canonical_frame() -> None:
    frame = validate_declarations(raw_declarations())

    assert list(frame.columns) == list(DECLARATION_COLUMNS)
    assert isinstance(frame.index, pd.RangeIndex)
    assert frame["lodged_at"].dtype == DATETIME_DTYPE
    assert frame["lodged_at"].tolist() == [
        pd.Timestamp("2024-03-01 00:00", tz="UTC"),  # a date alone is midnight UTC
        pd.Timestamp("2024-03-01 13:30", tz="UTC"),  # +01:00 converted
        pd.Timestamp("2024-03-02 08:00", tz="UTC"),  # naive is UTC
    ]
    assert frame["transport_mode"].tolist() == ["road", "road", "sea"]
    assert frame["origin_country"].tolist() == ["TR", "GR", "CN"]
    assert frame["hs_code"].tolist() == ["930510", "870899", "73181500"]
    assert frame["net_mass_kg"].tolist() == [12.5, 1000.0, 0.0]
    assert frame["customs_value_eur"].dtype == np.float64
    assert frame["flow"].tolist() == ["import"] * 3  # optional with a default
    assert frame["vehicle_type"].isna().all()  # optional without a default
    assert frame["packages"].isna().all() and frame["packages"].dtype == np.float64
    assert pd.api.types.is_string_dtype(frame["declaration_id"].dtype)


def test_row_order_is_kept_and_a_foreign_index_is_replaced() -> None:
    raw = raw_declarations().set_axis([10, 5, 7])
    frame = validate_declarations(raw)
    assert frame.index.tolist() == [0, 1, 2]
    assert frame["declaration_id"].tolist() == ["D1", "D2", "D3"]


def test_typed_columns_give_the_same_frame_as_text() -> None:
    typed = raw_declarations(
        declaration_id=[1, 2, 3],
        lodged_at=[
            dt.date(2024, 3, 1),
            pd.Timestamp("2024-03-01 14:30", tz="Europe/Belgrade"),
            dt.datetime(2024, 3, 2, 8, 0),
        ],
        transport_mode=[3, 3, 1],
        hs_code=[930510, 870899.0, 73181500],
        net_mass_kg=[12.5, 1000, 0],
        customs_value_eur=[250, 4000.75, 10],
    )
    frame = validate_declarations(typed)
    assert frame["declaration_id"].tolist() == ["1", "2", "3"]
    assert frame["lodged_at"].tolist()[1] == pd.Timestamp("2024-03-01 13:30", tz="UTC")
    assert frame["transport_mode"].tolist() == ["road", "road", "sea"]
    assert frame["hs_code"].tolist() == ["930510", "870899", "73181500"]


def test_datetime64_columns_are_read_as_utc() -> None:
    naive = pd.Series(pd.to_datetime(["2024-03-01 10:00", "2024-03-02 00:00", "2024-03-03 00:00"]))
    aware = naive.dt.tz_localize("Europe/Skopje")
    assert validate_declarations(raw_declarations(lodged_at=naive))["lodged_at"][0] == (
        pd.Timestamp("2024-03-01 10:00", tz="UTC")
    )
    assert validate_declarations(raw_declarations(lodged_at=aware))["lodged_at"][0] == (
        pd.Timestamp("2024-03-01 09:00", tz="UTC")
    )


def test_date_format_is_tried_for_dates_that_are_not_iso() -> None:
    raw = raw_declarations(lodged_at=["05.01.2024", "2024-01-06", "07.01.2024"])
    frame = validate_declarations(raw, date_format="%d.%m.%Y")
    assert frame["lodged_at"].dt.day.tolist() == [5, 6, 7]
    assert frame["lodged_at"].dt.month.tolist() == [1, 1, 1]


def test_extra_columns_follow_the_canonical_ones() -> None:
    raw = raw_declarations(x_import_type=["11", "21", None], x_tax_rate=[1.5, 2.0, np.nan])
    frame = validate_declarations(raw, extra_columns=("x_import_type", "x_tax_rate"))
    assert list(frame.columns) == [*DECLARATION_COLUMNS, "x_import_type", "x_tax_rate"]
    assert frame["x_import_type"].tolist()[:2] == ["11", "21"]
    assert pd.isna(frame["x_import_type"][2])
    assert frame["x_tax_rate"].dtype == np.float64


# -- field rules -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("930510", "930510"),
        ("9305.10", "930510"),
        ("9305 10 00", "93051000"),
        ("93.05.10", "930510"),
        ("930510.0", "930510"),  # a float column written as text
        ("93051", "093051"),  # lost its leading zero
        ("101210000", "0101210000"),  # HS10 through an integer column
        ("1012100", "01012100"),  # 8-digit national code, same loss
        ("8471300000", "8471300000"),
        ("12", None),
        ("9305", None),  # a heading is not enough
        ("93A510", None),
        ("9305.1", None),  # a float that lost a digit: 9305.10 or 9305.01?
        ("12345678901", None),
    ],
)
def test_hs_codes_are_normalised(raw: str, expected: str | None) -> None:
    assert normalize_hs_code(raw) == expected


def test_hs_codes_from_numeric_columns() -> None:
    raw = raw_declarations(hs_code=[930510.0, 101210000.0, 93051.0])
    assert validate_declarations(raw)["hs_code"].tolist() == ["930510", "0101210000", "093051"]
    raw_ints = raw_declarations(hs_code=[930510, 101210000, 93051])
    assert validate_declarations(raw_ints)["hs_code"].tolist() == [
        "930510",
        "0101210000",
        "093051",
    ]


def test_a_fractional_float_hs_code_is_a_problem_not_a_guess() -> None:
    with pytest.raises(DataValidationError) as error:
        validate_declarations(raw_declarations(hs_code=[930510.0, 9305.1, 870899.0]))
    (problem,) = problems_of(error)
    assert (problem.column, problem.rows, problem.values) == ("hs_code", (2,), ("9305.1",))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", "sea"),
        ("3", "road"),
        ("4", "air"),
        ("5", "postal"),
        ("6", "unknown"),
        ("10", "sea"),
        ("40", "air"),
        ("Road", "road"),
        ("Inland Water", "inland_water"),
        ("own-propulsion", "own_propulsion"),
        ("boat", None),
        ("123", None),
    ],
)
def test_transport_modes(raw: str, expected: str | None) -> None:
    assert normalize_transport_mode(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["GR", "MK", "RS"], "GR>MK>RS"),
        (("gr", "mk"), "GR>MK"),
        ("GR>MK>RS", "GR>MK>RS"),
        ("gr-mk-rs", "GR>MK>RS"),
        ("GR, MK, RS", "GR>MK>RS"),
        ("GR MK RS", "GR>MK>RS"),
        ("AL>ME>BA>XK", "AL>ME>BA>XK"),
        ([], ""),
        ("GR>QQ", None),
    ],
)
def test_itineraries(raw: object, expected: str | None) -> None:
    assert parse_itinerary(raw) == expected


def test_itinerary_column_from_lists_and_strings() -> None:
    raw = raw_declarations(itinerary=[["GR", "MK", "RS"], "al-me", None])
    frame = validate_declarations(raw)
    assert frame["itinerary"].tolist()[:2] == ["GR>MK>RS", "AL>ME"]
    assert pd.isna(frame["itinerary"][2])


def test_namibia_is_a_country_not_a_missing_value() -> None:
    frame = validate_declarations(raw_declarations(origin_country=["NA", "xk", "ZZ"]))
    assert frame["origin_country"].tolist() == ["NA", "XK", "ZZ"]


def test_enumerations_are_lower_cased_and_defaults_fill_gaps() -> None:
    raw = raw_declarations(flow=["Export", None, "TRANSIT"], vehicle_type=["Truck", "", "van"])
    frame = validate_declarations(raw)
    assert frame["flow"].tolist() == ["export", "import", "transit"]
    assert frame["vehicle_type"].tolist()[0] == "truck"
    assert pd.isna(frame["vehicle_type"][1])


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (pd.Series([930510, None], dtype="Int64"), ["930510", None]),
        (pd.Series([1.0, 2.5, np.nan]), ["1", "2.5", None]),
        (pd.Series([" a ", "null", "N/A", "NA"]), ["a", None, None, "NA"]),
        (pd.Series([True, False]), ["true", "false"]),
    ],
)
def test_source_text(values: pd.Series, expected: list[str | None]) -> None:
    text = source_text(values)
    assert [None if pd.isna(v) else v for v in text] == expected


# -- problems: every check names column, rows, values and a fix -----------------------------


def test_duplicate_declaration_ids() -> None:
    with pytest.raises(DataValidationError) as error:
        validate_declarations(raw_declarations(declaration_id=["D1", "D2", "D1"]), source="kcs.csv")
    assert problems_of(error) == [
        Problem(
            source="kcs.csv",
            column="declaration_id",
            message="duplicate declaration id in 2 rows",
            fix="give every declaration a unique id (amendments replace the original row)",
            rows=(1, 3),
            values=("'D1'", "'D1'"),
        )
    ]


def test_negative_masses_and_values() -> None:
    raw = raw_declarations(net_mass_kg=["1", "-5", "2"], customs_value_eur=["-1", "3", "-0.5"])
    with pytest.raises(DataValidationError) as error:
        validate_declarations(raw, source="kcs.csv")
    assert str(error.value) == (
        "2 problems in the input data; nothing was loaded:\n"
        "  1. kcs.csv, column 'net_mass_kg': negative value in 1 row; first rows 2 with "
        "values '-5'. Fix: 'net_mass_kg' must be 0 or more\n"
        "  2. kcs.csv, column 'customs_value_eur': negative value in 2 rows; first rows 1, 3 "
        "with values '-1', '-0.5'. Fix: 'customs_value_eur' must be 0 or more"
    )


def test_dates_that_do_not_parse() -> None:
    raw = raw_declarations(lodged_at=["2024-03-01", "01/03/2024", "yesterday"])
    with pytest.raises(DataValidationError) as error:
        validate_declarations(raw, source="kcs.csv")
    (problem,) = problems_of(error)
    assert problem.describe() == (
        "kcs.csv, column 'lodged_at': date does not parse in 2 rows; first rows 2, 3 with "
        "values '01/03/2024', 'yesterday'. Fix: write dates as ISO 8601, e.g. 2024-03-01 or "
        "2024-03-01T14:30:00+01:00, or set source.date_format (e.g. '%d.%m.%Y') in the "
        "configuration"
    )


def test_unknown_country_code() -> None:
    raw = raw_declarations(dispatch_country=["RS", "SRB", "XX"])
    with pytest.raises(DataValidationError) as error:
        validate_declarations(raw)
    (problem,) = problems_of(error)
    assert problem.column == "dispatch_country"
    assert problem.message == "unknown country code in 2 rows"
    assert (problem.rows, problem.values) == ((2, 3), ("'SRB'", "'XX'"))
    assert problem.fix.startswith("use ISO 3166-1 alpha-2 codes (e.g. RS, MK, DE), XK for Kosovo")
    assert "source.values.dispatch_country" in problem.fix


def test_unknown_transport_mode() -> None:
    with pytest.raises(DataValidationError) as error:
        validate_declarations(raw_declarations(transport_mode=["road", "boat", "camel"]))
    (problem,) = problems_of(error)
    assert (problem.column, problem.message) == (
        "transport_mode",
        "unknown transport mode in 2 rows",
    )
    assert (problem.rows, problem.values) == ((2, 3), ("'boat'", "'camel'"))
    assert "source.values.transport_mode" in problem.fix


def test_bad_hs_code() -> None:
    with pytest.raises(DataValidationError) as error:
        validate_declarations(raw_declarations(hs_code=["12", "930510", "93A510"]))
    (problem,) = problems_of(error)
    assert (problem.column, problem.message) == (
        "hs_code",
        "bad HS code (need 6 to 10 digits) in 2 rows",
    )
    assert (problem.rows, problem.values) == ((1, 3), ("'12'", "'93A510'"))
    assert "keep leading zeros" in problem.fix


def test_missing_required_column() -> None:
    raw = raw_declarations().drop(columns=["hs_code", "importer_id"])
    with pytest.raises(DataValidationError) as error:
        validate_declarations(raw, source="kcs.csv")
    assert [(p.column, p.message, p.rows) for p in problems_of(error)] == [
        ("importer_id", "required column is missing", ()),
        ("hs_code", "required column is missing", ()),
    ]
    assert problems_of(error)[1].describe() == (
        "kcs.csv, column 'hs_code': required column is missing. Fix: add a 'hs_code' column, "
        "or map a source column to it in the configuration (source.columns) or give a "
        "constant in source.defaults"
    )


def test_empty_required_values() -> None:
    with pytest.raises(DataValidationError) as error:
        validate_declarations(raw_declarations(office_id=["RS1", " ", None]))
    (problem,) = problems_of(error)
    assert (problem.column, problem.message) == ("office_id", "required value is empty in 2 rows")
    assert (problem.rows, problem.values) == ((2, 3), ("' '", "(empty)"))


def test_not_a_number() -> None:
    with pytest.raises(DataValidationError) as error:
        validate_declarations(raw_declarations(customs_value_eur=["1,5", "EUR 3", "4"]))
    (problem,) = problems_of(error)
    assert (problem.message, problem.rows) == ("not a number in 2 rows", (1, 2))


def test_every_problem_is_collected_and_rows_are_capped_at_five() -> None:
    n = 8
    raw = pd.DataFrame(
        {
            "declaration_id": [f"D{i}" for i in range(n)],
            "lodged_at": ["2024-01-01"] * n,
            "office_id": ["O1"] * n,
            "transport_mode": ["ship"] * n,
            "declarant_id": ["A"] * n,
            "importer_id": ["B"] * n,
            "origin_country": ["RS"] * n,
            "dispatch_country": ["RS"] * n,
            "hs_code": ["930510"] * n,
            "net_mass_kg": ["-1"] * n,
        }
    )
    with pytest.raises(DataValidationError) as error:
        validate_declarations(raw)
    problems = problems_of(error)
    assert [(p.column, p.message) for p in problems] == [
        ("transport_mode", "unknown transport mode in 8 rows"),
        ("net_mass_kg", "negative value in 8 rows"),
        ("customs_value_eur", "required column is missing"),
    ]
    assert problems[0].rows == (1, 2, 3, 4, 5)
    assert str(error.value).startswith("3 problems in the input data; nothing was loaded:\n  1. ")


def test_missing_extra_column_is_a_problem() -> None:
    with pytest.raises(DataValidationError) as error:
        validate_declarations(raw_declarations(), extra_columns=("x_import_type",))
    (problem,) = problems_of(error)
    assert (problem.column, problem.message) == ("x_import_type", "extra feature column is missing")


def test_count_must_be_whole() -> None:
    with pytest.raises(DataValidationError) as error:
        validate_declarations(raw_declarations(packages=["1", "2.5", ""]))
    (problem,) = problems_of(error)
    assert (problem.column, problem.message, problem.rows) == (
        "packages",
        "not a whole number in 1 row",
        (2,),
    )


# -- outcomes and watchlist ------------------------------------------------------------------


def raw_outcomes(**overrides: list[object]) -> pd.DataFrame:
    columns: dict[str, list[object]] = {
        "declaration_id": ["D1", "D2"],
        "inspected_at": ["2024-03-02T09:00:00Z", "2024-03-03"],
        "result": ["Irregular", "clear"],
        "weapons_found": ["yes", ""],
        "migrants_found": ["0", "3"],
        "revenue_irregularity": ["0", "TRUE"],
        "selection_reason": ["random", "model"],
        "selection_probability": ["0.05", ""],
    }
    columns.update(overrides)
    return pd.DataFrame(columns)


def test_valid_outcomes() -> None:
    frame = validate_outcomes(raw_outcomes(), known_declaration_ids=["D1", "D2", "D3"])
    assert list(frame.columns) == list(OUTCOME_COLUMNS)
    assert frame["inspected_at"].tolist() == [
        pd.Timestamp("2024-03-02 09:00", tz="UTC"),
        pd.Timestamp("2024-03-03", tz="UTC"),
    ]
    assert frame["result"].tolist() == ["irregular", "clear"]
    assert frame["inspection_type"].tolist() == ["physical", "physical"]  # default
    assert frame["weapons_found"].tolist() == [True, False]
    assert frame["weapons_found"].dtype == bool
    assert frame["revenue_irregularity"].tolist() == [False, True]
    assert frame["migrants_found"].tolist() == [0.0, 3.0]
    assert frame["selection_probability"].tolist()[0] == 0.05
    assert np.isnan(frame["selection_probability"][1])


def test_outcomes_for_unknown_declarations() -> None:
    with pytest.raises(DataValidationError) as error:
        validate_outcomes(raw_outcomes(), source="outcomes.csv", known_declaration_ids=["D2"])
    assert problems_of(error) == [
        Problem(
            source="outcomes.csv",
            column="declaration_id",
            message="outcome for a declaration that is not in the declarations in 1 row",
            fix="remove these outcomes or add their declarations (check id formats match, e.g. "
            "leading zeros)",
            rows=(1,),
            values=("'D1'",),
        )
    ]


def test_outcome_flags_and_probabilities_are_checked() -> None:
    raw = raw_outcomes(weapons_found=["maybe", "no"], selection_probability=["5", "0.1"])
    with pytest.raises(DataValidationError) as error:
        validate_outcomes(raw)
    assert [(p.column, p.message, p.values) for p in problems_of(error)] == [
        ("selection_probability", "probability above 1 in 1 row", ("'5'",)),
        ("weapons_found", "not a yes/no value in 1 row", ("'maybe'",)),
    ]


def test_watchlist() -> None:
    raw = pd.DataFrame(
        {
            "entity_type": ["vehicle_id", "Importer ID"],
            "entity_id": ["BG1234AB", "IMP9"],
            "threat": ["Migrants", "weapons"],
            "valid_from": ["2024-01-01", "2024-02-01"],
            "valid_to": [None, "2024-06-30"],
        }
    )
    frame = validate_watchlist(raw)
    assert list(frame.columns) == list(WATCHLIST_COLUMNS)
    assert frame["entity_type"].tolist() == ["vehicle_id", "importer_id"]
    assert frame["threat"].tolist() == ["migrants", "weapons"]
    assert pd.isna(frame["valid_to"][0])
    assert frame["valid_to"][1] == pd.Timestamp("2024-06-30", tz="UTC")


def test_watchlist_window_must_not_end_before_it_starts() -> None:
    raw = pd.DataFrame(
        {
            "entity_type": ["vehicle_id"],
            "entity_id": ["BG1234AB"],
            "threat": ["migrants"],
            "valid_from": ["2024-05-01"],
            "valid_to": ["2024-04-01"],
        }
    )
    with pytest.raises(DataValidationError) as error:
        validate_watchlist(raw)
    (problem,) = problems_of(error)
    assert (problem.column, problem.message, problem.rows) == (
        "valid_to",
        "validity ends before it starts in 1 row",
        (1,),
    )


def test_empty_tables_validate_to_empty_canonical_frames() -> None:
    outcomes = validate_outcomes(pd.DataFrame(columns=list(OUTCOME_COLUMNS)))
    assert len(outcomes) == 0
    assert outcomes["inspected_at"].dtype == DATETIME_DTYPE
    assert outcomes["weapons_found"].dtype == bool
