"""The data contract's source mapping: from a customs administration's files to canonical frames.

A `SourceConfig` (the `source` section of the training configuration, DESIGN.md) says where
the declarations, outcomes and watchlist are, how the source columns map to canonical fields,
which source values are recoded, which extra columns are kept as model features and how
threat labels are read. `load_dataset` reads the files, applies the mapping, validates every
table (collecting all problems) and derives the labels frame. Mapping mistakes raise
`ConfigError`, data mistakes `features.validation.DataValidationError`; both list every
problem at once. The rest of the training configuration (split, evaluation, model, lanes)
and reading it from YAML belong to training (`training.config`).
"""

from __future__ import annotations

import csv
import difflib
import glob
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from features.schema import (
    DECLARATION_COLUMNS,
    DEFAULT_THREATS,
    EXTRA_PREFIX,
    OUTCOME_COLUMNS,
    WATCHLIST_COLUMNS,
    label_column,
)
from features.validation import (
    DATETIME_DTYPE,
    DataValidationError,
    Problem,
    source_text,
    validate_declarations,
    validate_outcomes,
    validate_watchlist,
)

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
_CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".csv.zip")
_PARQUET_SUFFIXES = (".parquet", ".pq")


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


class SourceNotFoundError(ConfigError, FileNotFoundError):
    """No file matches a configured path or glob."""


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
# Reading files
# ---------------------------------------------------------------------------------------------


def _has_glob(pattern: str) -> bool:
    return any(char in pattern for char in "*?[")


def _csv_separator(path: Path) -> str:
    """The separator of a CSV (comma, semicolon, tab or pipe), guessed from its first line."""
    if path.name.lower().endswith((".tsv", ".tsv.gz")):
        return "\t"
    if path.suffix.lower() in (".gz", ".zip"):
        return ","
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        sample = handle.readline()
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _read_one(path: Path) -> pd.DataFrame:
    name = path.name.lower()
    if name.endswith(_PARQUET_SUFFIXES):
        return pd.read_parquet(path)
    if name.endswith(_CSV_SUFFIXES):
        # All columns as text so codes keep their leading zeros; only an empty cell is missing
        # ("NA" is Namibia). Validation coerces the types.
        return pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            sep=_csv_separator(path),
            encoding="utf-8-sig",
        )
    raise ConfigError(
        [
            f"cannot read '{path}': use CSV ({', '.join(_CSV_SUFFIXES)}) or Parquet "
            f"({', '.join(_PARQUET_SUFFIXES)})"
        ],
        source=str(path),
    )


def read_table(pattern: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file, or every file a glob matches as one table (sorted file order)."""
    text = str(pattern)
    if _has_glob(text):
        files = [Path(f) for f in sorted(glob.glob(text, recursive=True)) if Path(f).is_file()]
    else:
        files = [Path(text)] if Path(text).is_file() else []
    if not files:
        raise SourceNotFoundError(
            [
                f"no file matches '{text}'; check the path (relative paths start at the "
                "configuration file's folder)"
            ],
            source=text,
        )
    frames = [_read_one(f) for f in files]
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True)


def _source_name(pattern: str) -> str:
    """A short label for messages: the file name, or the glob pattern."""
    return pattern if _has_glob(pattern) else Path(pattern).name


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


def _numeric_extras(
    frame: pd.DataFrame, columns: Sequence[str], file: str
) -> tuple[pd.DataFrame, list[Problem]]:
    """Numeric extra features as float64; values that are not numbers are problems."""
    frame = frame.copy()
    problems = []
    for column in columns:
        name = extra_feature_name(column)
        raw = frame[name]
        text = source_text(raw)
        numbers = pd.to_numeric(text, errors="coerce")
        bad = (text.notna() & numbers.isna()).to_numpy()
        positions = np.flatnonzero(bad)
        if positions.size:
            first = positions[:5]
            problems.append(
                Problem(
                    source=file,
                    column=column,
                    message=f"numeric extra feature is not a number in {positions.size} rows",
                    fix="write plain numbers, or list the column under "
                    "source.extra_features.categorical",
                    rows=tuple(int(p) + 1 for p in first),
                    values=tuple(repr(text.iloc[p]) for p in first),
                )
            )
        frame[name] = numbers.astype("float64")
    return frame, problems


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


# ---------------------------------------------------------------------------------------------
# Labels
# ---------------------------------------------------------------------------------------------


def outcome_threat_flags(outcomes: pd.DataFrame) -> dict[str, pd.Series]:
    """Per outcome row, whether it is positive for each outcome-derived threat."""
    return {
        "weapons": outcomes["weapons_found"].astype(bool),
        "migrants": outcomes["migrants_found"].fillna(0) > 0,
        "revenue": outcomes["revenue_irregularity"].astype(bool),
    }


def _summarise_outcomes(outcomes: pd.DataFrame, threats: Sequence[str]) -> pd.DataFrame:
    """One row per inspected declaration: any positive per threat, latest inspected_at,
    duty summed, selection reason and probability of the first inspection."""
    ordered = outcomes.sort_values("inspected_at", kind="stable", na_position="last")
    ids = ordered["declaration_id"]
    flags = outcome_threat_flags(ordered)
    first = ordered.drop_duplicates("declaration_id", keep="first").set_index("declaration_id")
    grouped = ordered.groupby(ids, sort=False)
    summary = pd.DataFrame(
        {
            "inspected_at": grouped["inspected_at"].max(),
            "additional_duty_eur": grouped["additional_duty_eur"].sum(min_count=1),
        }
    )
    summary["selection_reason"] = first["selection_reason"]
    summary["selection_probability"] = first["selection_probability"]
    for threat in threats:
        summary[threat] = flags[threat].groupby(ids, sort=False).any()
    return summary


def derive_labels(
    declarations: pd.DataFrame,
    outcomes: pd.DataFrame | None,
    label_columns: Mapping[str, pd.Series] | None = None,
    threats: Sequence[str] = DEFAULT_THREATS,
    *,
    declared_outcomes: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The labels frame (docs/internals.md), row for row with `declarations`.

    A threat with an entry in `label_columns` (1.0/0.0/NaN aligned with the declarations,
    see `label_from_column`) is read from it, known at lodged_at. Other threats come from
    the canonical outcomes: weapons = weapons_found, migrants = migrants_found > 0,
    revenue = revenue_irregularity; several outcomes of one declaration combine (any
    positive, latest inspected_at, duty summed, selection reason and probability of the
    first inspection). `declared_outcomes` (columns among selection_reason,
    selection_probability, additional_duty_eur, aligned with the declarations) fills those
    facts for rows labelled from columns. Uninspected rows are unlabelled (NaN), never 0.
    """
    label_columns = dict(label_columns or {})
    outcome_threats = [t for t in threats if t not in label_columns]
    unknown = [t for t in outcome_threats if t not in OUTCOME_THREATS]
    if unknown:
        raise ConfigError(
            [
                f"threat '{t}' has no label column and is not one of "
                f"{', '.join(OUTCOME_THREATS)} (read from outcomes)"
                for t in unknown
            ],
            source="labels",
        )
    index = declarations.index
    n = len(declarations)
    lodged_at = declarations["lodged_at"].astype(DATETIME_DTYPE)

    if outcomes is not None and len(outcomes):
        summary = _summarise_outcomes(outcomes, outcome_threats)
        aligned = summary.reindex(declarations["declaration_id"].to_numpy())
        aligned.index = index
        has_outcome = aligned["inspected_at"].notna().to_numpy()
    else:
        aligned = None
        has_outcome = np.zeros(n, dtype=bool)

    column_labels = {
        t: pd.Series(np.asarray(label_columns[t], dtype=float), index=index)
        for t in threats
        if t in label_columns
    }
    labelled_by_column = np.zeros(n, dtype=bool)
    for label in column_labels.values():
        labelled_by_column |= label.notna().to_numpy()

    inspected = has_outcome | labelled_by_column
    known_at = lodged_at.where(labelled_by_column)
    selection_reason = pd.Series(np.nan, index=index, dtype="str")
    selection_probability = pd.Series(np.nan, index=index, dtype="float64")
    additional_duty = pd.Series(np.nan, index=index, dtype="float64")
    if declared_outcomes is not None:
        declared = declared_outcomes.set_axis(index)
        only_column = labelled_by_column & ~has_outcome
        if "selection_reason" in declared:
            selection_reason = selection_reason.mask(only_column, declared["selection_reason"])
        if "selection_probability" in declared:
            selection_probability = selection_probability.mask(
                only_column, declared["selection_probability"].astype("float64")
            )
        if "additional_duty_eur" in declared:
            additional_duty = additional_duty.mask(
                only_column, declared["additional_duty_eur"].astype("float64")
            )
    if aligned is not None:
        known_at = known_at.mask(has_outcome, aligned["inspected_at"].astype(DATETIME_DTYPE))
        selection_reason = selection_reason.mask(has_outcome, aligned["selection_reason"])
        selection_probability = selection_probability.mask(
            has_outcome, aligned["selection_probability"].astype("float64")
        )
        additional_duty = additional_duty.mask(
            has_outcome, aligned["additional_duty_eur"].astype("float64")
        )

    labels = pd.DataFrame(
        {
            "inspected": pd.Series(inspected, index=index, dtype=bool),
            "known_at": known_at,
            "selection_reason": selection_reason.astype("str"),
            "selection_probability": selection_probability,
            "additional_duty_eur": additional_duty,
        },
        index=index,
    )
    for threat in threats:
        if threat in column_labels:
            labels[label_column(threat)] = column_labels[threat]
        elif aligned is not None:
            positive = aligned[threat].eq(True).to_numpy(dtype=bool)
            labels[label_column(threat)] = np.where(has_outcome, positive.astype(float), np.nan)
        else:
            labels[label_column(threat)] = np.nan
    return labels


# ---------------------------------------------------------------------------------------------
# Dataset
# ---------------------------------------------------------------------------------------------


@dataclass
class Dataset:
    """Validated frames for training: declarations (with x_ extras), labels, outcomes, watchlist."""

    declarations: pd.DataFrame
    labels: pd.DataFrame
    outcomes: pd.DataFrame
    watchlist: pd.DataFrame
    threats: tuple[str, ...]
    extra_categorical: tuple[str, ...] = ()
    extra_numeric: tuple[str, ...] = ()
    display_names: dict[str, str] = field(default_factory=dict)


def _validated(
    problems: list[Problem], validate: Any, *args: Any, **kwargs: Any
) -> pd.DataFrame | None:
    """Run one validation, adding its problems to `problems` instead of raising."""
    try:
        return validate(*args, **kwargs)  # type: ignore[no-any-return]
    except DataValidationError as error:
        problems.extend(error.problems)
        return None


def _optional_table(
    problems: list[Problem],
    pattern: str | None,
    validate: Any,
    columns: Sequence[str],
    **kwargs: Any,
) -> pd.DataFrame | None:
    """An optional table (outcomes, watchlist) read and validated, its problems added to
    ``problems``; an empty canonical table when the source names none."""
    if pattern is None:
        return validate(pd.DataFrame(columns=list(columns)))  # type: ignore[no-any-return]
    return _validated(
        problems, validate, read_table(pattern), source=_source_name(pattern), **kwargs
    )


def _mapped_declarations(
    raw: pd.DataFrame, source: SourceConfig, file: str, *, labels: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame | None, list[Problem]]:
    """The mapped table, its canonical declarations (None when invalid) and the problems.

    Raises:
        ConfigError: the mapping names columns the table does not have.
    """
    config_problems = mapping_problems(raw, source, file, labels=labels)
    if config_problems:
        raise ConfigError(config_problems, source=file)
    mapped = map_declarations(raw, source)
    mapped, problems = _numeric_extras(mapped, source.extra_features.numeric, file)
    extras = tuple(
        dict.fromkeys(
            extra_feature_name(c)
            for c in source.extra_features.categorical + source.extra_features.numeric
        )
    )
    declarations = _validated(
        problems,
        validate_declarations,
        mapped,
        source=file,
        extra_columns=extras,
        date_format=source.date_format,
    )
    return mapped, declarations, problems


def source_declarations(raw: pd.DataFrame, source: SourceConfig, file: str) -> pd.DataFrame:
    """A table in the source's own columns as canonical declarations with their ``x_`` extra
    features: the mapping training applies, for files to score (no label columns needed).

    Raises:
        ConfigError: the mapping names columns the table does not have.
        DataValidationError: every problem of the mapped table.
    """
    _, declarations, problems = _mapped_declarations(raw, source, file, labels=False)
    if problems or declarations is None:
        raise DataValidationError(problems)
    return declarations


def load_dataset(source: SourceConfig) -> Dataset:
    """Read, map and validate every table a source names, then derive the labels.

    Configuration problems (unknown fields, source columns missing from the file, label
    columns absent, underivable threats) raise one ConfigError; data problems in any table
    raise one DataValidationError listing them all. Nothing is returned half-validated.
    """
    threats = resolve_threats(source)
    raw = read_table(source.declarations)
    file = _source_name(source.declarations)
    mapped, declarations, problems = _mapped_declarations(raw, source, file)
    extra_categorical = tuple(extra_feature_name(c) for c in source.extra_features.categorical)
    extra_numeric = tuple(extra_feature_name(c) for c in source.extra_features.numeric)
    declared_outcomes = _validated(
        problems, _validate_declared_outcomes, mapped, file, source.date_format
    )

    known_ids = (
        declarations["declaration_id"]
        if declarations is not None
        else source_text(mapped.get("declaration_id", pd.Series(dtype="str"))).dropna()
    )
    outcomes = _optional_table(
        problems,
        source.outcomes,
        validate_outcomes,
        OUTCOME_COLUMNS,
        date_format=source.date_format,
        known_declaration_ids=known_ids,
    )
    watchlist = _optional_table(
        problems,
        source.watchlist,
        validate_watchlist,
        WATCHLIST_COLUMNS,
        date_format=source.date_format,
    )
    if problems or declarations is None or outcomes is None or watchlist is None:
        raise DataValidationError(problems)

    label_columns = {
        threat: label_from_column(raw[label.column].reset_index(drop=True), label.positive)
        for threat, label in source.labels.items()
        if threat in threats
    }
    labels = derive_labels(
        declarations,
        outcomes,
        label_columns,
        threats,
        declared_outcomes=declared_outcomes,
    )
    display_names = {
        extra_feature_name(c): c
        for c in source.extra_features.categorical + source.extra_features.numeric
    }
    return Dataset(
        declarations=declarations,
        labels=labels,
        outcomes=outcomes,
        watchlist=watchlist,
        threats=threats,
        extra_categorical=extra_categorical,
        extra_numeric=extra_numeric,
        display_names=display_names,
    )


def _validate_declared_outcomes(
    mapped: pd.DataFrame, file: str, date_format: str | None
) -> pd.DataFrame:
    """selection_reason / selection_probability / additional_duty_eur carried by declaration rows,
    checked with the outcome rules (a one-table source's equivalent of an outcomes table)."""
    present = [c for c in DECLARED_OUTCOME_FIELDS if c in mapped.columns]
    if not present:
        return pd.DataFrame(index=mapped.index)
    # Validate through the outcome schema with placeholder required fields, keep only ours.
    probe = mapped[present].copy()
    probe["declaration_id"] = "-"
    probe["inspected_at"] = "2000-01-01"  # any date inside the accepted years
    probe["result"] = "clear"
    checked = validate_outcomes(probe, source=file, date_format=date_format)
    return checked[present]
