"""The training configuration: YAML read with every problem at once, paths relative to the
file, the sections training owns (split, evaluation, model, lanes) around the source mapping."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from features.dataset import load_dataset
from features.sources import ConfigError, resolve_threats
from features.validation import validate_declarations
from tests.features.test_sources import (
    RESEARCH_FIXTURE,
    canonical_declarations,
    canonical_outcomes,
)
from training.config import TrainingConfig, load_config

REPO = Path(__file__).resolve().parents[2]

SPLIT = {
    "train": ["2024-01-01", "2024-01-31"],
    "valid": ["2024-02-01", "2024-02-15"],
    "test": ["2024-02-16", "2024-02-29"],
}


def write_config(folder: Path, document: dict[str, object]) -> Path:
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def test_shipped_configs_load(tmp_path: Path) -> None:
    synthetic = load_config(REPO / "configs" / "synthetic.yaml")
    assert synthetic.source.declarations == str(
        REPO / "data" / "synthetic" / "declarations.parquet"
    )
    assert synthetic.source.outcomes == str(REPO / "data" / "synthetic" / "outcomes.parquet")
    assert resolve_threats(synthetic.source) == ("weapons", "migrants", "revenue")
    assert synthetic.evaluation.inspection_rates == [0.01, 0.02, 0.05, 0.10]
    assert (synthetic.lanes.red, synthetic.lanes.yellow) == (0.02, 0.08)
    assert synthetic.split.train[0].isoformat() == "2024-01-01"

    research = load_config(REPO / "configs" / "research.yaml")
    assert research.source.declarations == str(REPO / "data" / "research" / "*.csv")
    assert resolve_threats(research.source) == ("revenue", "critical")
    assert research.source.values["transport_mode"]["40"] == "air"


def test_defaults_when_sections_are_left_out(tmp_path: Path) -> None:
    config = load_config(
        write_config(
            tmp_path, {"source": {"declarations": "d.csv", "outcomes": "o.csv"}, "split": SPLIT}
        )
    )
    assert config.evaluation.inspection_rates == [0.01, 0.02, 0.05, 0.10]
    assert config.model == {}
    assert (config.lanes.red, config.lanes.yellow, config.lanes.offices) == (0.02, 0.08, {})
    assert config.source.declarations == str(tmp_path / "d.csv")
    assert config.split.bounds("valid") == (
        pd.Timestamp("2024-02-01", tz="UTC"),
        pd.Timestamp("2024-02-16", tz="UTC"),
    )


def test_a_typo_is_caught_with_a_suggestion(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        {"source": {"declarations": "d.csv", "outcomes": "o.csv", "colums": {}}, "split": SPLIT},
    )
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert error.value.problems == ["source.colums: unknown key (did you mean 'columns'?)"]
    assert str(error.value) == (
        f"{path}: 1 problem; nothing was loaded:\n"
        "  1. source.colums: unknown key (did you mean 'columns'?)"
    )


def test_unknown_canonical_fields_are_named(tmp_path: Path) -> None:
    source = {
        "declarations": "d.csv",
        "outcomes": "o.csv",
        "columns": {"hs_cod": "HS6 Code"},
        "defaults": {"flo": "import"},
    }
    with pytest.raises(ConfigError) as error:
        load_config(write_config(tmp_path, {"source": source, "split": SPLIT}))
    (problem,) = error.value.problems
    assert problem == (
        "source: source.columns: 'hs_cod' is not a canonical field (did you mean 'hs_code'?); "
        "source.defaults: 'flo' is not a canonical field (did you mean 'flow'?)"
    )


def test_threats_must_be_derivable(tmp_path: Path) -> None:
    source = {"declarations": "d.csv", "threats": ["revenue", "drugs"]}
    with pytest.raises(ConfigError) as error:
        load_config(write_config(tmp_path, {"source": source, "split": SPLIT}))
    (problem,) = error.value.problems
    assert "threat 'revenue' needs an outcomes table (source.outcomes) or a label column" in problem
    assert "unknown threat 'drugs': map a label column for it in source.labels" in problem


def test_split_windows_must_be_ordered_and_apart(tmp_path: Path) -> None:
    split = {
        "train": ["2024-01-01", "2024-02-10"],
        "valid": ["2024-02-10", "2024-02-05"],
        "test": ["2024-02-20", "2024-02-29"],
    }
    with pytest.raises(ConfigError) as error:
        load_config(
            write_config(
                tmp_path, {"source": {"declarations": "d.csv", "outcomes": "o.csv"}, "split": split}
            )
        )
    (problem,) = error.value.problems
    assert problem == (
        "split: split.valid ends (2024-02-05) before it starts (2024-02-10); split.valid "
        "starts (2024-02-10) on or before the end of split.train (2024-02-10); windows must "
        "be ordered train < valid < test and must not overlap"
    )


def test_inspection_rates_and_lanes_are_shares(tmp_path: Path) -> None:
    document = {
        "source": {"declarations": "d.csv", "outcomes": "o.csv"},
        "split": SPLIT,
        "evaluation": {"inspection_rates": [0.05, 5]},
        "lanes": {"offices": {101: {"red": 0.5, "yellow": 0.6}}},
    }
    with pytest.raises(ConfigError) as error:
        load_config(write_config(tmp_path, document))
    assert error.value.problems == [
        "evaluation.inspection_rates: inspection rates must be shares between 0 and 1 "
        "(exclusive), e.g. 0.05 for 5%; got 5.0",
        "lanes.offices.101: lane shares must be between 0 and 1 and red + yellow at most 1, "
        "got red=0.5, yellow=0.6",
    ]


def test_office_lanes_and_model_section(tmp_path: Path) -> None:
    document = {
        "source": {"declarations": "d.csv", "outcomes": "o.csv"},
        "split": SPLIT,
        "model": {"num_leaves": [15, 31], "anything": {"owned": "by training"}},
        "lanes": {"red": 0.03, "offices": {101: {"red": 0.1, "yellow": 0.2}}},
    }
    config = load_config(write_config(tmp_path, document))
    assert config.model["num_leaves"] == [15, 31]
    assert (config.lanes.shares("101").red, config.lanes.shares("101").yellow) == (0.1, 0.2)
    assert (config.lanes.shares("other").red, config.lanes.shares("other").yellow) == (0.03, 0.08)


def test_integer_recoding_keys_from_yaml_are_text(tmp_path: Path) -> None:
    document = {
        "source": {
            "declarations": "d.csv",
            "outcomes": "o.csv",
            "values": {"transport_mode": {10: "sea", 40: "air"}},
        },
        "split": SPLIT,
    }
    config = load_config(write_config(tmp_path, document))
    assert config.source.values == {"transport_mode": {"10": "sea", "40": "air"}}


def test_a_typo_inside_a_label_suggests_its_own_keys(tmp_path: Path) -> None:
    source = {"declarations": "d.csv", "labels": {"revenue": {"colum": "Fraud", "positive": [1]}}}
    with pytest.raises(ConfigError) as error:
        load_config(write_config(tmp_path, {"source": source, "split": SPLIT}))
    assert error.value.problems == [
        "source.labels.revenue.column: required key is missing",
        "source.labels.revenue.colum: unknown key (did you mean 'column'?)",
    ]


def test_config_models_forbid_unknown_keys_in_code_too() -> None:
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        TrainingConfig.model_validate(
            {"source": {"declarations": "d.csv", "outcomes": "o.csv"}, "split": SPLIT, "lane": {}}
        )


def test_synthetic_layout_loads_through_the_shipped_config(tmp_path: Path) -> None:
    (tmp_path / "configs").mkdir()
    shutil.copy(REPO / "configs" / "synthetic.yaml", tmp_path / "configs" / "synthetic.yaml")
    data = tmp_path / "data" / "synthetic"
    data.mkdir(parents=True)
    validate_declarations(canonical_declarations()).to_parquet(data / "declarations.parquet")
    canonical_outcomes().to_parquet(data / "outcomes.parquet")
    pd.DataFrame(
        {
            "entity_type": ["vehicle_id"],
            "entity_id": ["BG1234AB"],
            "threat": ["migrants"],
            "valid_from": [pd.Timestamp("2024-01-01", tz="UTC")],
            "valid_to": [pd.NaT],
            "source": ["partner"],
        }
    ).to_parquet(data / "watchlist.parquet")

    dataset = load_dataset(load_config(tmp_path / "configs" / "synthetic.yaml").source)
    assert dataset.threats == ("weapons", "migrants", "revenue")
    assert dataset.declarations["hs_code"].tolist() == ["930510", "870899", "731815"]
    assert dataset.labels["label_weapons"].tolist()[0] == 1.0
    assert dataset.labels["inspected"].tolist() == [True, False, True]
    assert dataset.watchlist["entity_id"].tolist() == ["BG1234AB"]


def test_relative_source_paths_start_at_the_configuration_file(tmp_path: Path) -> None:
    """configs/research.yaml with its export in a folder beside it: the glob is resolved
    against the file's folder, and the dataset reads through the mapping."""
    data = tmp_path / "exports"
    data.mkdir()
    shutil.copy(RESEARCH_FIXTURE, data / "declarations.csv")
    document = yaml.safe_load((REPO / "configs" / "research.yaml").read_text())
    document["source"]["declarations"] = "exports/*.csv"
    config = load_config(write_config(tmp_path, document))
    assert config.source.declarations == str(tmp_path / "exports" / "*.csv")
    dataset = load_dataset(config.source)
    assert len(dataset.declarations) == 40
    assert dataset.threats == ("revenue", "critical")


def test_unreadable_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- source\n- split\n")
    with pytest.raises(ConfigError, match="must hold a mapping with 'source' and 'split'"):
        load_config(tmp_path / "list.yaml")


def test_the_default_lane_shares_follow_the_lane_policys_rule(tmp_path: Path) -> None:
    document = {
        "source": {"declarations": "d.csv", "outcomes": "o.csv"},
        "split": SPLIT,
        "lanes": {"red": 0.5, "yellow": 0.55},
    }
    with pytest.raises(ConfigError) as error:
        load_config(write_config(tmp_path, document))
    assert error.value.problems == [
        "lanes: lane shares must be between 0 and 1 and red + yellow at most 1, "
        "got red=0.5, yellow=0.55"
    ]


def test_extra_word_lists_are_resolved_against_the_configuration_file(tmp_path: Path) -> None:
    """A deployment extends the curated words from its configuration, without a release."""
    document = yaml.safe_load((REPO / "configs" / "research.yaml").read_text())
    document["features"] = {"word_lists": ["words/local.yaml"]}
    config = load_config(write_config(tmp_path, document))
    assert config.features.word_lists == [str(tmp_path / "words" / "local.yaml")]
    document["features"] = {"word_list": ["words/local.yaml"]}
    with pytest.raises(ConfigError, match=r"features\.word_list: unknown key.*word_lists"):
        load_config(write_config(tmp_path, document))
