"""The training configuration (YAML, DESIGN.md): where the data is, how it is split, evaluated,
modelled and laned.

The `source` section is the data contract's column mapping and lives with the contract in
`features.sources` (`SourceConfig`, read by `features.dataset.load_dataset`); the other
sections belong to training. `load_config` reads the file, resolves the source paths against
its folder and reports every problem at once as one `features.sources.ConfigError`, with a
"did you mean" for mistyped keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Literal, Self

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from features.config_file import read_config_document, resolve_path, with_resolved_paths
from features.sources import ConfigError, ExtraFeatures, LabelColumn, SourceConfig, did_you_mean
from models.lanes import validated_capacity

DEFAULT_INSPECTION_RATES: tuple[float, ...] = (0.01, 0.02, 0.05, 0.10)

_FORBID = ConfigDict(extra="forbid")


class SplitConfig(BaseModel):
    """Train, validation and test windows by lodged_at, each an inclusive pair of dates."""

    model_config = _FORBID
    train: tuple[date, date]
    valid: tuple[date, date]
    test: tuple[date, date]

    @model_validator(mode="after")
    def _check_order(self) -> SplitConfig:
        problems = []
        windows = {"train": self.train, "valid": self.valid, "test": self.test}
        for name, (start, end) in windows.items():
            if end < start:
                problems.append(f"split.{name} ends ({end}) before it starts ({start})")
        for (first, (_, first_end)), (second, (second_start, _)) in (
            (("train", self.train), ("valid", self.valid)),
            (("valid", self.valid), ("test", self.test)),
        ):
            if second_start <= first_end:
                problems.append(
                    f"split.{second} starts ({second_start}) on or before the end of "
                    f"split.{first} ({first_end}); windows must be ordered train < valid < test "
                    "and must not overlap"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def bounds(self, window: str) -> tuple[pd.Timestamp, pd.Timestamp]:
        """UTC [start, end) of a window: the end date is included up to its last instant."""
        start, end = getattr(self, window)
        return (
            pd.Timestamp(start, tz="UTC"),
            pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1),
        )


class EvaluationConfig(BaseModel):
    """Inspection rates at which precision, recall and revenue are reported."""

    model_config = _FORBID
    inspection_rates: list[float] = Field(
        default_factory=lambda: list(DEFAULT_INSPECTION_RATES), min_length=1
    )

    @field_validator("inspection_rates")
    @classmethod
    def _rates_are_shares(cls, rates: list[float]) -> list[float]:
        bad = [r for r in rates if not 0 < r < 1]
        if bad:
            raise ValueError(
                f"inspection rates must be shares between 0 and 1 (exclusive), e.g. 0.05 for 5%; "
                f"got {', '.join(map(str, bad))}"
            )
        return rates


class LaneShares(BaseModel):
    """Share of declarations an office can send to the red and yellow lanes."""

    model_config = _FORBID
    red: float = Field(ge=0, lt=1)
    yellow: float = Field(ge=0, lt=1)

    @model_validator(mode="after")
    def _fit_in_one(self) -> Self:
        validated_capacity(self.red, self.yellow)  # the rule the lane policy applies
        return self


class LanesConfig(LaneShares):
    """Capacity shares for the lanes: a default (these red and yellow) and per-office overrides."""

    red: float = Field(default=0.02, ge=0, lt=1)
    yellow: float = Field(default=0.08, ge=0, lt=1)
    offices: dict[str, LaneShares] = {}

    @field_validator("offices", mode="before")
    @classmethod
    def _office_ids_as_text(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {str(k): v for k, v in value.items()}
        return value

    def shares(self, office_id: str) -> LaneShares:
        """The red and yellow shares of an office (its override, else the default)."""
        return self.offices.get(office_id, LaneShares(red=self.red, yellow=self.yellow))


class FeaturesConfig(BaseModel):
    """Feature options a deployment sets without a release."""

    model_config = _FORBID
    word_lists: list[str] = Field(
        default=[],
        description="extra curated word-list files (YAML, as features/wordlists/), added to "
        "the shipped lists; kept with the model, so serving uses the lists it was trained with",
    )


class DaskConfig(BaseModel):
    """Where training runs on Dask; without a scheduler (and no --dask), in this process."""

    model_config = _FORBID
    scheduler: str | None = Field(
        default=None,
        description="tcp://host:port of a Dask scheduler, or local / local:N to start N local "
        "workers; `shiprisk train --dask` wins over it, and it over SHIPRISK_DASK_SCHEDULER",
    )
    partitions: int = Field(
        default=0,
        ge=0,
        description="lodging-time ranges the point-in-time features are built in "
        "(0: two per worker)",
    )
    final_fit: Literal["selected", "lightgbm_dask"] = Field(
        default="selected",
        description="each threat's final model: `selected`, the booster model selection chose "
        "(fitted on one worker, as one process fits it); `lightgbm_dask`, that size, "
        "features and number of rounds fitted again data-parallel over the workers' "
        "lodging-time ranges by lightgbm.dask (its trees differ slightly from one process)",
    )


class TrainingConfig(BaseModel):
    """The training configuration a customs administration fills in (DESIGN.md)."""

    model_config = _FORBID
    source: SourceConfig
    split: SplitConfig
    evaluation: EvaluationConfig = EvaluationConfig()
    model: dict[str, Any] = {}
    lanes: LanesConfig = LanesConfig()
    features: FeaturesConfig = FeaturesConfig()
    dask: DaskConfig = DaskConfig()


_SECTION_MODELS: dict[str, type[BaseModel]] = {
    "source": SourceConfig,
    "split": SplitConfig,
    "evaluation": EvaluationConfig,
    "lanes": LanesConfig,
    "features": FeaturesConfig,
    "dask": DaskConfig,
    "extra_features": ExtraFeatures,
}
# Sections whose keys are free (threat names, office ids) and whose values are models.
_KEYED_SECTION_MODELS: dict[str, type[BaseModel]] = {"labels": LabelColumn, "offices": LaneShares}


def _keys_allowed_at(location: Sequence[Any]) -> Sequence[str]:
    """The keys allowed where an unknown key was found, for a 'did you mean' suggestion."""
    parents = [str(part) for part in location[:-1]]
    if not parents:
        return list(TrainingConfig.model_fields)
    if len(parents) >= 2 and parents[-2] in _KEYED_SECTION_MODELS:
        return list(_KEYED_SECTION_MODELS[parents[-2]].model_fields)
    model = _SECTION_MODELS.get(parents[-1])
    return list(model.model_fields) if model else []


def _describe_config_error(error: Mapping[str, Any]) -> str:
    location = ".".join(str(part) for part in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        key = str(error["loc"][-1])
        return f"{location}: unknown key{did_you_mean(key, _keys_allowed_at(error['loc']))}"
    if error["type"] == "missing":
        return f"{location}: required key is missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] not in ("value_error", "assertion_error") and "input" in error:
        message += f" (got {error['input']!r})"
    return f"{location}: {message}"


def load_config(path: str | Path) -> TrainingConfig:
    """Read a YAML training configuration; data paths are relative to the file's folder."""
    path = Path(path)
    document = read_config_document(path)
    try:
        config = TrainingConfig.model_validate(document)
    except ValidationError as error:
        problems = [_describe_config_error(e) for e in error.errors()]
        raise ConfigError(problems, source=str(path)) from error
    folder = path.resolve().parent
    features = config.features.model_copy(
        update={"word_lists": [resolve_path(file, folder) for file in config.features.word_lists]}
    )
    return config.model_copy(
        update={"source": with_resolved_paths(config.source, folder), "features": features}
    )
