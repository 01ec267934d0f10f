"""The training dataset: a source's tables read, mapped and validated, and their labels derived.

`load_dataset` reads every table a `SourceConfig` names (`features.source_files`), maps the
declarations (`features.sources`), validates every table collecting all problems
(`features.validation`) and derives the labels frame (`derive_labels`, docs/internals.md).
Nothing is returned half-validated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.schema import (
    DATETIME_DTYPE,
    DEFAULT_THREATS,
    OUTCOME_COLUMNS,
    WATCHLIST_COLUMNS,
    label_column,
)
from features.source_files import read_table, source_name
from features.source_text import source_text
from features.sources import (
    DECLARED_OUTCOME_FIELDS,
    OUTCOME_THREATS,
    ConfigError,
    SourceConfig,
    extra_feature_name,
    label_from_column,
    map_declarations,
    mapping_problems,
    resolve_threats,
)
from features.validation import (
    DataValidationError,
    Problem,
    validate_declarations,
    validate_outcomes,
    validate_watchlist,
)


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
        problems, validate, read_table(pattern), source=source_name(pattern), **kwargs
    )


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
    file = source_name(source.declarations)
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
