"""The data contract's source mapping: how a customs administration's tables map to canonical fields.

A `SourceConfig` (the `source` section of the training configuration, DESIGN.md) says where
the declarations, outcomes and watchlist are, how the source columns map to canonical fields,
which source values are recoded, which extra columns are kept as model features and how
threat labels are read. This module checks a mapping (`source_config_problems`, and against a
table's columns `mapping_problems`) and applies it (`map_declarations`, `label_from_column`);
`features.source_files` reads the tables and `features.dataset.load_dataset` puts the steps
together into validated frames and labels. Mapping mistakes raise `ConfigError`, data
mistakes `features.validation.DataValidationError`; both list every problem at once. The
rest of the training configuration (split, evaluation, model, lanes) and reading it from
YAML belong to training (`training.config`).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from features.schema import DECLARATION_COLUMNS, DEFAULT_THREATS, EXTRA_PREFIX
from features.source_text import source_text

# Outcome facts a one-table source may carry per declaration (e.g. "revenue recovered"):
# they may be mapped in `columns` or given in `defaults`, and feed the labels frame.
DECLARED_OUTCOME_FIELDS: tuple[str, ...] = (
    "selection_reason",
    "selection_probability",
    "additional_duty_eur",
)
# Threats read from the outcomes table when no label column is configured for them.
OUTCOME_THREATS: tuple[str, ...] = DEFAULT_THREATS

_MAPPABLE_FIELDS: tuple[str, ...] = DECLARATION_COLUMNS + DECLARED_OUTCOME_FIELDS


class ConfigError(ValueError):
    """Every problem found in a configuration (or in its source mapping's fit to the files it names)."""

    def __init__(self, problems: Iterable[str], *, source: str = "configuration") -> None:
        self.problems: list[str] = list(problems)
        self.source = source
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        lines = [f"{source}: {count} {noun}; nothing was loaded:"]
        lines += [f"  {number}. {text}" for number, text in enumerate(self.problems, 1)]
        super().__init__("\n".join(lines))


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest choices, or '' when none is close."""
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(f"'{c}'" for c in close) + "?)"


# ---------------------------------------------------------------------------------------------
# The source section: files, column mapping, recoding, extra features, labels
# ---------------------------------------------------------------------------------------------

_FORBID = ConfigDict(extra="forbid")
ScalarValue = str | int | float | bool


class ExtraFeatures(BaseModel):
    """Source columns kept as model features, by kind."""

    model_config = _FORBID
    categorical: list[str] = []
    numeric: list[str] = []


class LabelColumn(BaseModel):
    """How a 0/1 threat label is read from a source column: positive when the value is listed."""

    model_config = _FORBID
    column: str
    positive: list[ScalarValue] = Field(min_length=1)


class SourceConfig(BaseModel):
    """Where the data is and how its columns and values map to the canonical schema."""

    model_config = _FORBID
    declarations: str
    outcomes: str | None = None
    watchlist: str | None = None
    columns: dict[str, str] = {}
    values: dict[str, dict[str, str]] = {}
    extra_features: ExtraFeatures = ExtraFeatures()
    labels: dict[str, LabelColumn] = {}
    defaults: dict[str, ScalarValue] = {}
    date_format: str | None = None
    threats: list[str] | None = None

    @field_validator("values", mode="before")
    @classmethod
    def _values_as_text(cls, value: Any) -> Any:
        """YAML reads `{10: sea}` with an integer key; source values are compared as text."""
        if not isinstance(value, Mapping):
            return value
        return {
            name: (
                {_scalar_text(k): _scalar_text(v) for k, v in recoding.items()}
                if isinstance(recoding, Mapping)
                else recoding
            )
            for name, recoding in value.items()
        }

    @model_validator(mode="after")
    def _check_fields_and_threats(self) -> SourceConfig:
        problems = source_config_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _scalar_text(value: Any) -> Any:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    return value


def source_config_problems(source: SourceConfig) -> list[str]:
    """Problems visible without reading any file: unknown fields, threats that cannot be derived."""
    problems: list[str] = []
    for section in ("columns", "values"):
        for name in getattr(source, section):
            if name not in _MAPPABLE_FIELDS:
                problems.append(
                    f"source.{section}: '{name}' is not a canonical field"
                    f"{did_you_mean(name, _MAPPABLE_FIELDS)}"
                )
    for name in source.defaults:
        if name not in _MAPPABLE_FIELDS:
            problems.append(
                f"source.defaults: '{name}' is not a canonical field"
                f"{did_you_mean(name, _MAPPABLE_FIELDS)}"
            )
    slugs: dict[str, str] = {}
    for column in source.extra_features.categorical + source.extra_features.numeric:
        slug = extra_feature_name(column)
        if slug in slugs and slugs[slug] != column:
            problems.append(
                f"source.extra_features: '{column}' and '{slugs[slug]}' both become '{slug}'; "
                "keep one of them"
            )
        slugs[slug] = column
    if source.threats is not None:
        for threat in source.labels:
            if threat not in source.threats:
                problems.append(
                    f"source.labels: threat '{threat}' is not in source.threats "
                    f"({', '.join(source.threats)}); add it there"
                )
    for threat in resolve_threats(source, check=False):
        if threat in source.labels:
            continue
        if threat not in OUTCOME_THREATS:
            problems.append(
                f"source.threats: unknown threat '{threat}'{did_you_mean(threat, OUTCOME_THREATS)}: "
                f"map a label column for it in source.labels, or use one of "
                f"{', '.join(OUTCOME_THREATS)} with an outcomes table"
            )
        elif source.outcomes is None:
            problems.append(
                f"threat '{threat}' needs an outcomes table (source.outcomes) or a label column "
                "(source.labels); or list only the threats you have in source.threats"
            )
    if not resolve_threats(source, check=False):
        problems.append("no threats: give source.outcomes or source.labels")
    return problems


def resolve_threats(source: SourceConfig, *, check: bool = True) -> tuple[str, ...]:
    """The threats a source yields: the configured list, else outcome threats and label columns.

    Without an outcomes table only the label columns give threats. With `check`, a source
    whose threats cannot be derived raises ConfigError.
    """
    if source.threats is not None:
        threats = tuple(dict.fromkeys(source.threats))
    elif source.outcomes is None:
        threats = tuple(source.labels)
    else:
        threats = tuple(dict.fromkeys([*OUTCOME_THREATS, *source.labels]))
    if check:
        problems = source_config_problems(source)
        if problems:
            raise ConfigError(problems)
    return threats


# ---------------------------------------------------------------------------------------------
# Mapping a source table onto the canonical declaration
# ---------------------------------------------------------------------------------------------


def extra_feature_name(column: str) -> str:
    """The x_ name of an extra source column: "Import Type" -> "x_import_type"."""
    ascii_name = unicodedata.normalize("NFKD", column).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^0-9a-z]+", "_", ascii_name.lower()).strip("_")
    return f"{EXTRA_PREFIX}{slug or 'column'}"


def _missing_column_problem(column: str, role: str, available: Sequence[str], file: str) -> str:
    shown = ", ".join(f"'{c}'" for c in available[:40])
    if len(available) > 40:
        shown += f", ... ({len(available)} columns)"
    return (
        f"{role}: column '{column}' is not in {file}{did_you_mean(column, available)}; "
        f"its columns are {shown}"
    )


def mapping_problems(
    raw: pd.DataFrame, source: SourceConfig, file: str, *, labels: bool = True
) -> list[str]:
    """Every source column the configuration names that the table does not have (label
    columns left out with ``labels=False``: a file to score has no results yet)."""
    available = [str(c) for c in raw.columns]
    present = set(available)
    problems = []
    for canonical, column in source.columns.items():
        if column not in present:
            problems.append(
                _missing_column_problem(column, f"source.columns.{canonical}", available, file)
            )
    for kind in ("categorical", "numeric"):
        for column in getattr(source.extra_features, kind):
            if column not in present:
                problems.append(
                    _missing_column_problem(
                        column, f"source.extra_features.{kind}", available, file
                    )
                )
    for threat, label in source.labels.items() if labels else ():
        if label.column not in present:
            problems.append(
                _missing_column_problem(label.column, f"source.labels.{threat}", available, file)
            )
    return problems


def _recode(values: pd.Series, recoding: Mapping[str, str]) -> pd.Series:
    """Replace source values listed in `recoding` (compared as text, case-insensitively)."""
    text = source_text(values)
    lowered = {str(k).strip().lower(): v for k, v in recoding.items()}
    recoded = text.str.lower().map(lowered)
    return text.where(recoded.isna(), recoded)


def map_declarations(raw: pd.DataFrame, source: SourceConfig) -> pd.DataFrame:
    """Source columns renamed to canonical fields, values recoded, defaults applied, extras kept.

    Columns already named canonically pass through unless the mapping names another source
    column for that field; extra feature columns are kept under their x_ names; columns
    neither canonical nor named by the configuration are dropped. The result goes to
    `validate_declarations` (declared outcome fields such as selection_probability too).
    """
    mapped: dict[str, pd.Series] = {}
    for name in _MAPPABLE_FIELDS:
        if name in source.columns:
            mapped[name] = raw[source.columns[name]]
        elif name in raw.columns:
            mapped[name] = raw[name]
    for name, recoding in source.values.items():
        if name in mapped:
            mapped[name] = _recode(mapped[name], recoding)
    for name, constant in source.defaults.items():
        if name in mapped:
            present = source_text(mapped[name]).notna()
            mapped[name] = mapped[name].astype(object).where(present, constant)
        else:
            mapped[name] = pd.Series([constant] * len(raw), index=raw.index, dtype=object)
    for column in source.extra_features.categorical + source.extra_features.numeric:
        mapped[extra_feature_name(column)] = raw[column]
    return pd.DataFrame(mapped, index=raw.index).reset_index(drop=True)


def label_from_column(values: pd.Series, positive: Sequence[Any]) -> pd.Series:
    """A 1.0/0.0/NaN label from a source column: labelled when not empty, 1 when listed positive.

    Values are compared as text (case-insensitive) and as numbers, so 1, 1.0, "1" and "1.0"
    all match a positive 1, and "Yes" matches "yes".
    """
    text = source_text(values)
    positive_text = {str(_scalar_text(p)).strip().lower() for p in positive}
    positive_numbers = set()
    for p in positive:
        try:
            positive_numbers.add(float(p))
        except (TypeError, ValueError):
            continue
    is_positive = (
        text.str.lower().isin(positive_text).to_numpy(dtype=bool, na_value=False, copy=True)
    )
    if positive_numbers:
        numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        is_positive |= np.isin(numbers, list(positive_numbers))
    label = np.where(is_positive, 1.0, 0.0)
    label[text.isna().to_numpy()] = np.nan
    return pd.Series(label, index=values.index, dtype="float64")
