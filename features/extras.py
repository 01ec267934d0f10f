"""Extra model features (``x_`` columns) as a trained model reads them, on every scoring path.

A model trained with ``source.extra_features`` reads its ``x_`` columns by kind: categorical
ones as text codes, numeric ones as float64. Declarations to score arrive in other shapes (JSON
numbers for a code, text for a number, a field left out), so the API, batch files and the
pyfunc all hand their canonical frame to `conform_extras` with the model's kinds before
scoring: the same text and numbers training saw (`features.source_text.source_text`, as the
source mapping reads a column), never a silent mismatch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from features.schema import EXTRA_PREFIX
from features.source_text import source_text
from features.validation import (
    MAX_ROWS_SHOWN,
    DataValidationError,
    Problem,
    validate_declarations,
)

MISSING_EXTRA = "extra feature column is missing"


def conform_extras(
    declarations: pd.DataFrame,
    categorical: Sequence[str],
    numeric: Sequence[str],
    *,
    source: str = "declarations",
    required: bool = False,
) -> pd.DataFrame:
    """The canonical frame with every extra column the model reads, typed as training read them.

    Args:
        declarations: a canonical frame (`validate_declarations`), with whatever ``x_``
            columns the input carried.
        categorical, numeric: the model's extra features by kind (``x_`` names).
        required: a column the model reads that the input lacks is a problem (files);
            otherwise it is a missing value on every row (a JSON field left out).

    Raises:
        DataValidationError: a required column is missing, or a numeric extra holds text
            that is not a number.
    """
    problems: list[Problem] = []
    canonical = [c for c in declarations.columns if not str(c).startswith(EXTRA_PREFIX)]
    columns: dict[str, object] = {name: declarations[name] for name in canonical}
    for name in [*categorical, *numeric]:
        if name not in declarations.columns:
            if required:
                problems.append(
                    Problem(
                        source,
                        name,
                        MISSING_EXTRA,
                        "add the column the model was trained with, or score with the "
                        "training configuration (--config) whose mapping makes it",
                    )
                )
            values = pd.Series(np.nan, index=declarations.index, dtype="float64")
        else:
            values = declarations[name]
        text = source_text(values)
        if name in categorical:
            columns[name] = text
            continue
        numbers = pd.to_numeric(text, errors="coerce").astype("float64")
        bad = np.flatnonzero((text.notna() & numbers.isna()).to_numpy())
        if bad.size:
            shown = bad[:MAX_ROWS_SHOWN]
            problems.append(
                Problem(
                    source,
                    name,
                    f"numeric extra feature is not a number in {bad.size} rows",
                    "send plain numbers for this feature",
                    rows=tuple(int(row) + 1 for row in shown),
                    values=tuple(repr(text.iloc[row]) for row in shown),
                )
            )
        columns[name] = numbers
    if problems:
        raise DataValidationError(problems)
    # Other x_ columns stay as they came: the store keeps them for a retraining that uses them.
    for name in declarations.columns:
        columns.setdefault(name, declarations[name])
    return pd.DataFrame(columns, index=declarations.index)


def validated_for_model(
    raw: pd.DataFrame,
    extra_features: tuple[Sequence[str], Sequence[str]],
    *,
    source: str = "declarations",
    required: bool = False,
    date_format: str | None = None,
) -> pd.DataFrame:
    """`validate_declarations` keeping the input's ``x_`` columns, then `conform_extras` to the
    model's ``(categorical, numeric)`` extra features: what every scoring path scores.

    Raises:
        DataValidationError: every problem of the declarations and of their extra columns.
    """
    present = [str(c) for c in raw.columns if str(c).startswith(EXTRA_PREFIX)]
    declarations = validate_declarations(
        raw, source=source, extra_columns=present, date_format=date_format
    )
    categorical, numeric = extra_features
    return conform_extras(declarations, categorical, numeric, source=source, required=required)
