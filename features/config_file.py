"""Reading a training configuration file (YAML) and its `source` section.

The whole file is training's (`training.config.load_config` validates every section); the
`source` section is the data contract's column mapping (`features.sources.SourceConfig`), which
scoring a file in an export's own columns needs too (`shiprisk score --config`). Both read
the file here, with the same errors and the same rule for paths: relative to the file's
folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from features.sources import ConfigError, ExtraFeatures, LabelColumn, SourceConfig, did_you_mean


def read_config_document(path: str | Path) -> dict[str, Any]:
    """The YAML mapping of a configuration file.

    Raises:
        ConfigError: the file cannot be read, is not YAML, or holds no mapping.
    """
    name = str(path)
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(
            [f"cannot read the file: {error.strerror or error}"], source=name
        ) from error
    except yaml.YAMLError as error:
        raise ConfigError([f"not valid YAML: {error}"], source=name) from error
    if not isinstance(document, dict):
        raise ConfigError(
            ["the file must hold a mapping with 'source' and 'split' sections"], source=name
        )
    return document


def resolve_path(path: str | None, folder: Path) -> str | None:
    """A path of the file as the reader opens it: relative ones start at ``folder``."""
    if path is None:
        return None
    candidate = Path(path).expanduser()
    return os.path.normpath(candidate if candidate.is_absolute() else folder / candidate)


def with_resolved_paths(source: SourceConfig, folder: Path) -> SourceConfig:
    """The source section with its file paths resolved against the configuration's folder."""
    return source.model_copy(
        update={
            "declarations": resolve_path(source.declarations, folder),
            "outcomes": resolve_path(source.outcomes, folder),
            "watchlist": resolve_path(source.watchlist, folder),
        }
    )


_SOURCE_SECTIONS: dict[str, list[str]] = {
    "source": list(SourceConfig.model_fields),
    "extra_features": list(ExtraFeatures.model_fields),
}


def _source_problem(error: Mapping[str, Any]) -> str:
    location = ".".join(str(part) for part in ("source", *error["loc"]))
    if error["type"] == "extra_forbidden":
        parents = ["source", *(str(part) for part in error["loc"][:-1])]
        allowed = (
            list(LabelColumn.model_fields)
            if len(parents) >= 3 and parents[-2] == "labels"
            else _SOURCE_SECTIONS.get(parents[-1], [])
        )
        return f"{location}: unknown key{did_you_mean(str(error['loc'][-1]), allowed)}"
    if error["type"] == "missing":
        return f"{location}: required key is missing"
    return f"{location}: {str(error['msg']).removeprefix('Value error, ')}"


def load_source_config(path: str | Path) -> SourceConfig:
    """The `source` section of a training configuration file, its paths resolved; the other
    sections are left to training.

    Raises:
        ConfigError: the file or its source section is not usable; every problem listed.
    """
    document = read_config_document(path)
    if not isinstance(document.get("source"), dict):
        raise ConfigError(["source: required section is missing"], source=str(path))
    try:
        source = SourceConfig.model_validate(document["source"])
    except ValidationError as error:
        raise ConfigError([_source_problem(e) for e in error.errors()], source=str(path)) from error
    return with_resolved_paths(source, Path(path).resolve().parent)
