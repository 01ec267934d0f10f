"""The source mapping: reading files, mapping source tables and deriving labels.

(Reading the YAML training configuration around it is tests/training/test_config.py.)"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from features.dataset import Dataset, derive_labels, load_dataset
from features.schema import DATETIME_DTYPE, DECLARATION_COLUMNS, OUTCOME_COLUMNS
from features.source_files import SourceNotFoundError, read_table
from features.sources import (
    ConfigError,
    SourceConfig,
    extra_feature_name,
    label_from_column,
    resolve_threats,
)
from features.validation import DataValidationError, validate_declarations

REPO = Path(__file__).resolve().parents[2]
RESEARCH_FIXTURE = REPO / "tests" / "fixtures" / "research" / "declarations.csv"


def research_source(tmp_path: Path, **source_changes: object) -> dict[str, Any]:
    """The source section of configs/research.yaml, pointed at a copy of the fixture."""
    data = tmp_path / "exports"
    data.mkdir(exist_ok=True)
    shutil.copy(RESEARCH_FIXTURE, data / "declarations.csv")
    source: dict[str, Any] = yaml.safe_load((REPO / "configs" / "research.yaml").read_text())[
        "source"
    ]
    source["declarations"] = str(data / "*.csv")
    source.update(source_changes)
    return source


def source_in(folder: Path, **source: Any) -> SourceConfig:
    """A source section whose file names are in ``folder``."""
    for table in ("declarations", "outcomes", "watchlist"):
        if table in source:
            source[table] = str(folder / source[table])
    return SourceConfig.model_validate(source)


def canonical_declarations() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "declaration_id": ["D1", "D2", "D3"],
            "lodged_at": ["2024-01-10", "2024-02-05", "2024-02-20"],
            "office_id": ["RS01", "RS01", "MK02"],
            "transport_mode": ["road", "road", "postal"],
            "declarant_id": ["A", "B", "C"],
            "importer_id": ["I1", "I2", "I3"],
            "origin_country": ["TR", "TR", "CN"],
            "dispatch_country": ["GR", "GR", "CN"],
            "itinerary": ["GR>MK>RS", "GR>MK>RS", None],
            "hs_code": ["930510", "870899", "731815"],
            "net_mass_kg": [10.0, 2000.0, 0.4],
            "customs_value_eur": [100.0, 5000.0, 12.0],
        }
    )


def canonical_outcomes() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "declaration_id": ["D1", "D1", "D3"],
            "inspected_at": ["2024-01-12", "2024-01-11", "2024-02-21"],
            "selection_reason": ["officer", "random", "model"],
            "selection_probability": [np.nan, 0.05, 0.2],
            "result": ["irregular", "clear", "irregular"],
            "weapons_found": [True, False, False],
            "migrants_found": [0, 0, 2],
            "revenue_irregularity": [False, False, True],
            "additional_duty_eur": [100.0, 50.0, np.nan],
        }
    )


# -- the source section -----------------------------------------------------------------------


def test_unknown_canonical_fields_are_named_with_suggestions() -> None:
    with pytest.raises(ValueError) as error:
        SourceConfig.model_validate(
            {
                "declarations": "d.csv",
                "outcomes": "o.csv",
                "columns": {"hs_cod": "HS6 Code"},
                "defaults": {"flo": "import"},
            }
        )
    assert (
        "source.columns: 'hs_cod' is not a canonical field (did you mean 'hs_code'?); "
        "source.defaults: 'flo' is not a canonical field (did you mean 'flow'?)"
    ) in str(error.value)


def test_recoding_keys_are_compared_as_text() -> None:
    source = SourceConfig.model_validate(
        {"declarations": "d.csv", "values": {"transport_mode": {10: "sea", 40.0: "air"}}}
        | {"labels": {"revenue": {"column": "Fraud", "positive": [1]}}}
    )
    assert source.values == {"transport_mode": {"10": "sea", "40": "air"}}
    assert resolve_threats(source) == ("revenue",)


def test_the_source_section_alone_forbids_unknown_keys() -> None:
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        SourceConfig.model_validate({"declarations": "d.csv", "outcomes": "o.csv", "split": {}})


# -- reading files ---------------------------------------------------------------------------


def test_csv_is_read_as_text_keeping_zeros_and_namibia(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("hs,country,value\n0101210000,NA,\n930510,RS,5\n")
    table = read_table(tmp_path / "a.csv")
    assert table["hs"].tolist() == ["0101210000", "930510"]
    assert table["country"].tolist() == ["NA", "RS"]
    assert pd.isna(table["value"][0]) and table["value"][1] == "5"


def test_a_semicolon_csv_with_a_byte_order_mark(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes("\ufeffid;value\nD1;1,5\n".encode())
    assert read_table(tmp_path / "a.csv").to_dict("list") == {"id": ["D1"], "value": ["1,5"]}


def test_a_glob_is_one_table_in_sorted_file_order(tmp_path: Path) -> None:
    (tmp_path / "2024-02.csv").write_text("id\nD3\n")
    (tmp_path / "2024-01.csv").write_text("id\nD1\nD2\n")
    pd.DataFrame({"id": ["D4"]}).to_parquet(tmp_path / "2024-03.parquet")
    assert read_table(tmp_path / "2024-0*.csv")["id"].tolist() == ["D1", "D2", "D3"]
    assert read_table(tmp_path / "2024-*")["id"].tolist() == ["D1", "D2", "D3", "D4"]


def test_no_match_names_the_pattern(tmp_path: Path) -> None:
    pattern = str(tmp_path / "missing" / "*.csv")
    with pytest.raises(SourceNotFoundError) as error:
        read_table(pattern)
    assert str(error.value) == (
        f"{pattern}: 1 problem; nothing was loaded:\n"
        f"  1. no file matches '{pattern}'; check the path (relative paths start at the "
        "configuration file's folder)"
    )
    assert isinstance(error.value, FileNotFoundError)


# -- research-style table through configs/research.yaml's mapping --------------------------------------


def test_research_table_loads_through_the_mapping(tmp_path: Path) -> None:
    dataset = load_dataset(SourceConfig.model_validate(research_source(tmp_path)))
    assert isinstance(dataset, Dataset)
    declarations = dataset.declarations
    assert len(declarations) == 40
    assert list(declarations.columns)[: len(DECLARATION_COLUMNS)] == list(DECLARATION_COLUMNS)

    by_id = declarations.set_index("declaration_id")
    assert by_id.loc["97061804", "hs_code"] == "0101210000"  # 101210000 lost its zero
    assert by_id.loc["97061807", "hs_code"] == "9305100000"  # 9305.10.0000
    assert by_id.loc["97061809", "origin_country"] == "CN"  # written "cn"
    assert by_id.loc["97061811", "dispatch_country"] == "DE"  # written " DE "
    assert by_id.loc["97061815", "customs_value_eur"] == 1234.5
    assert by_id.loc["97061800", "transport_mode"] == "air"  # "40"
    assert by_id.loc["97061801", "transport_mode"] == "road"  # "30"
    assert by_id.loc["97061802", "transport_mode"] == "sea"  # "10"
    assert by_id.loc["97061800", "lodged_at"] == pd.Timestamp("2020-01-03", tz="UTC")
    assert by_id.loc["97061800", "carrier_id"] == "COU02"
    assert pd.isna(by_id.loc["97061801", "carrier_id"])
    assert (declarations["flow"] == "import").all()  # from defaults

    assert dataset.threats == ("revenue", "critical")
    assert dataset.extra_categorical == (
        "x_import_type",
        "x_import_use",
        "x_payment_type",
        "x_tax_type",
        "x_country_of_origin_indicator",
    )
    assert dataset.extra_numeric == ()
    assert dataset.display_names["x_country_of_origin_indicator"] == "Country of Origin Indicator"
    assert by_id.loc["97061800", "x_import_type"] == "11"
    assert len(dataset.outcomes) == 0 and list(dataset.outcomes.columns) == list(OUTCOME_COLUMNS)
    assert len(dataset.watchlist) == 0


def test_research_labels_come_from_the_fraud_columns(tmp_path: Path) -> None:
    dataset = load_dataset(SourceConfig.model_validate(research_source(tmp_path)))
    labels = dataset.labels
    assert labels.index.equals(dataset.declarations.index)
    assert list(labels.columns) == [
        "inspected",
        "known_at",
        "selection_reason",
        "selection_probability",
        "additional_duty_eur",
        "label_revenue",
        "label_critical",
    ]
    ids = dataset.declarations["declaration_id"]
    inspected_ids = [
        "97061800", "97061803", "97061806", "97061809", "97061812", "97061815", "97061818",
        "97061821", "97061824", "97061825", "97061828", "97061832", "97061836", "97061837",
    ]  # fmt: skip
    assert ids[labels["inspected"]].tolist() == inspected_ids
    assert ids[labels["label_revenue"] == 1].tolist() == [
        "97061800", "97061809", "97061818", "97061825", "97061828",
    ]  # fmt: skip
    assert ids[labels["label_critical"] == 1].tolist() == ["97061800", "97061818", "97061825"]
    assert labels.loc[~labels["inspected"], ["label_revenue", "label_critical"]].isna().all().all()
    inspected = labels["inspected"]
    assert (
        labels.loc[inspected, "known_at"] == dataset.declarations.loc[inspected, "lodged_at"]
    ).all()
    assert labels.loc[~inspected, "known_at"].isna().all()
    assert (labels.loc[inspected, "selection_reason"] == "rule").all()  # from defaults
    assert labels.loc[~inspected, "selection_reason"].isna().all()
    assert labels["selection_probability"].isna().all()  # not mapped


def test_a_missing_source_column_is_named_with_suggestions(tmp_path: Path) -> None:
    source = research_source(tmp_path)
    source["columns"]["hs_code"] = "HS6 Code"
    source["labels"]["revenue"]["column"] = "Fraud Flag"
    with pytest.raises(ConfigError) as error:
        load_dataset(SourceConfig.model_validate(source))
    first, second = error.value.problems
    pattern = str(tmp_path / "exports" / "*.csv")
    assert first.startswith(
        f"source.columns.hs_code: column 'HS6 Code' is not in {pattern} "
        "(did you mean 'HS10 Code'?); its columns are 'Declaration ID', 'Date', 'Office ID',"
    )
    assert second.startswith(
        f"source.labels.revenue: column 'Fraud Flag' is not in {pattern} (did you mean 'Fraud'?"
    )


def test_defaults_supply_fields_an_export_lacks(tmp_path: Path) -> None:
    table = pd.read_csv(RESEARCH_FIXTURE, dtype=str, keep_default_na=False, na_values=[""])
    table.drop(columns=["Office ID"]).to_csv(tmp_path / "no_office.csv", index=False)
    source = research_source(tmp_path, declarations=str(tmp_path / "no_office.csv"))
    del source["columns"]["office_id"]
    source["defaults"]["office_id"] = "HQ"
    dataset = load_dataset(SourceConfig.model_validate(source))
    assert (dataset.declarations["office_id"] == "HQ").all()


def test_data_problems_of_every_table_are_reported_together(tmp_path: Path) -> None:
    declarations = canonical_declarations()
    declarations.loc[1, "hs_code"] = "12"
    declarations.to_csv(tmp_path / "declarations.csv", index=False)
    outcomes = canonical_outcomes()
    outcomes.loc[2, "declaration_id"] = "D9"
    outcomes.to_csv(tmp_path / "outcomes.csv", index=False)
    source = source_in(tmp_path, declarations="declarations.csv", outcomes="outcomes.csv")
    with pytest.raises(DataValidationError) as error:
        load_dataset(source)
    assert [(p.source, p.column, p.rows) for p in error.value.problems] == [
        ("declarations.csv", "hs_code", (2,)),
        ("outcomes.csv", "declaration_id", (3,)),
    ]


def test_numeric_extra_features_are_numbers(tmp_path: Path) -> None:
    declarations = canonical_declarations()
    declarations["Tax Amount"] = ["1.5", "n/a", "3"]
    declarations["Lane Code"] = ["R", "G", "Y"]
    declarations.to_csv(tmp_path / "declarations.csv", index=False)
    canonical_outcomes().to_csv(tmp_path / "outcomes.csv", index=False)
    source = source_in(
        tmp_path,
        declarations="declarations.csv",
        outcomes="outcomes.csv",
        extra_features={"categorical": ["Lane Code"], "numeric": ["Tax Amount"]},
    )
    dataset = load_dataset(source)
    assert dataset.declarations["x_tax_amount"].tolist()[0] == 1.5
    assert np.isnan(dataset.declarations["x_tax_amount"][1])
    assert dataset.declarations["x_lane_code"].tolist() == ["R", "G", "Y"]
    assert dataset.display_names == {"x_lane_code": "Lane Code", "x_tax_amount": "Tax Amount"}


# -- labels ----------------------------------------------------------------------------------


def test_outcomes_combine_per_declaration() -> None:
    declarations = validate_declarations(canonical_declarations())
    labels = derive_labels(declarations, canonical_outcomes_validated(), None)

    assert labels["inspected"].tolist() == [True, False, True]
    # D1: two inspections; weapons found in the later one, duty 100 + 50, the first
    # inspection (2024-01-11, random, p=0.05) gives selection reason and probability.
    assert labels["known_at"][0] == pd.Timestamp("2024-01-12", tz="UTC")
    assert labels["selection_reason"][0] == "random"
    assert labels["selection_probability"][0] == 0.05
    assert labels["additional_duty_eur"][0] == 150.0
    assert (
        labels["label_weapons"][0],
        labels["label_migrants"][0],
        labels["label_revenue"][0],
    ) == (1.0, 0.0, 0.0)
    # D2: never inspected -> unlabelled, never negative.
    assert pd.isna(labels["known_at"][1]) and pd.isna(labels["selection_reason"][1])
    assert labels.loc[1, ["label_weapons", "label_migrants", "label_revenue"]].isna().all()
    # D3: two migrants found and a revenue irregularity; no duty recorded.
    assert (
        labels["label_weapons"][2],
        labels["label_migrants"][2],
        labels["label_revenue"][2],
    ) == (0.0, 1.0, 1.0)
    assert np.isnan(labels["additional_duty_eur"][2])
    assert labels["known_at"].dtype == DATETIME_DTYPE


def canonical_outcomes_validated() -> pd.DataFrame:
    from features.validation import validate_outcomes

    return validate_outcomes(canonical_outcomes())


def test_label_columns_take_precedence_and_are_known_at_lodging() -> None:
    declarations = validate_declarations(canonical_declarations())
    labels = derive_labels(
        declarations,
        None,
        {"revenue": pd.Series([np.nan, 1.0, 0.0])},
        ("revenue",),
        declared_outcomes=pd.DataFrame({"selection_probability": [0.5, 0.25, np.nan]}),
    )
    assert labels["inspected"].tolist() == [False, True, True]
    assert labels["known_at"].tolist()[1:] == declarations["lodged_at"].tolist()[1:]
    assert labels["label_revenue"].tolist()[1:] == [1.0, 0.0]
    assert np.isnan(labels["selection_probability"][0])  # not inspected
    assert labels["selection_probability"][1] == 0.25


def test_an_unknown_threat_without_a_label_column_is_refused() -> None:
    declarations = validate_declarations(canonical_declarations())
    with pytest.raises(ConfigError, match="threat 'drugs' has no label column"):
        derive_labels(declarations, None, None, ("drugs",))


@pytest.mark.parametrize(
    ("values", "positive", "expected"),
    [
        (["1", "0", "", "1.0"], [1], [1.0, 0.0, np.nan, 1.0]),
        ([1, 0, None, 1], ["1"], [1.0, 0.0, np.nan, 1.0]),
        ([1.0, 0.0, np.nan, 2.0], [1, 2], [1.0, 0.0, np.nan, 1.0]),
        (["Yes", "no", "YES", None], ["yes"], [1.0, 0.0, 1.0, np.nan]),
        ([True, False, True, False], [True], [1.0, 0.0, 1.0, 0.0]),
    ],
)
def test_label_from_column(
    values: list[object], positive: list[object], expected: list[float]
) -> None:
    label = label_from_column(pd.Series(values), positive)
    np.testing.assert_array_equal(label.to_numpy(), np.array(expected))


def test_extra_feature_names() -> None:
    assert extra_feature_name("Import Type") == "x_import_type"
    assert extra_feature_name("Vrsta uvoza (šifra)") == "x_vrsta_uvoza_sifra"
    assert extra_feature_name("%%") == "x_column"
