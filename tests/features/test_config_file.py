"""The source section of a training configuration, read without the rest (`shiprisk score`)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from features.config_file import load_source_config
from features.sources import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_the_research_mapping_is_read_with_paths_from_the_files_folder() -> None:
    source = load_source_config(ROOT / "configs" / "research.yaml")
    assert source.declarations == str(ROOT / "data" / "research" / "*.csv")
    assert source.columns["hs_code"] == "HS10 Code"
    assert source.extra_features.categorical[0] == "Import Type"


def test_a_mistyped_source_key_is_named_with_a_suggestion(tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / "configs" / "research.yaml").read_text())
    config["source"]["extra_feature"] = config["source"].pop("extra_features")
    config["source"]["labels"]["revenue"]["positiv"] = [1]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError) as error:
        load_source_config(path)
    assert sorted(error.value.problems) == [
        "source.extra_feature: unknown key (did you mean 'extra_features'?)",
        "source.labels.revenue.positiv: unknown key (did you mean 'positive'?)",
    ]


def test_a_file_without_a_source_section_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("split: {}\n")
    with pytest.raises(ConfigError, match="source: required section is missing"):
        load_source_config(path)
