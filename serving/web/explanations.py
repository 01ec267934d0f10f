"""Per-threat SHAP waterfalls of one stored declaration, for the declaration page.

The store keeps each declaration's top reasons only; a waterfall needs every contribution
and the base value, so the page explains the stored canonical fields again with the model
being served. Each bar is labelled with the plain-language sentence officers already see in
reasons, so the chart and the list read alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from features.descriptions import reason_text
from features.i18n import DEFAULT_LOCALE
from features.schema import EXTRA_PREFIX
from features.validation import validate_declarations
from models.bundle import ModelBundle
from models.declarations import DeclarationRows
from serving.web.charts import Waterfall, waterfall
from serving.web.i18n import page_language

WATERFALL_BARS = 8


def declaration_frame(declaration: Mapping[str, Any]) -> pd.DataFrame:
    """The canonical one-row frame of a declaration as the store returned it (JSON values)."""
    raw = pd.DataFrame.from_records([dict(declaration)])
    extras = [column for column in raw.columns if str(column).startswith(EXTRA_PREFIX)]
    return validate_declarations(raw, source="store", extra_columns=extras)


def threat_waterfalls(
    bundle: ModelBundle,
    declaration: Mapping[str, Any],
    *,
    max_bars: int = WATERFALL_BARS,
    locale: str = DEFAULT_LOCALE,
) -> dict[str, Waterfall]:
    """One waterfall per threat: base value plus every feature's contribution = the raw margin.

    Bars are labelled with the feature's reason sentence for this declaration's value, in
    ``locale``.
    """
    frame = declaration_frame(declaration)
    explanations = bundle.explain(frame)
    matrix = bundle.matrix(frame)
    row = DeclarationRows(frame)[0]
    charts: dict[str, Waterfall] = {}
    for threat, explanation in explanations.items():
        values = explanation.contributions.iloc[0].to_numpy(dtype=np.float64)
        labelled = []
        for position, (feature, contribution) in enumerate(
            zip(explanation.contributions.columns, values, strict=True)
        ):
            if contribution == 0.0:
                continue
            raw_value = float(matrix[0, position])
            value = None if math.isnan(raw_value) else raw_value
            label = _label(bundle, str(feature), value, row, locale)
            labelled.append((label, float(contribution)))
        charts[threat] = waterfall(
            float(explanation.base_value[0]),
            labelled,
            max_bars=max_bars,
            words=page_language(locale),
        )
    return charts


def _label(
    bundle: ModelBundle,
    feature: str,
    value: float | None,
    row: Mapping[str, Any],
    locale: str = DEFAULT_LOCALE,
) -> str:
    """The reason sentence (the bundle's in English, `features.descriptions`' in another
    locale), or the feature name when no sentence can be made for it."""
    try:
        if locale == DEFAULT_LOCALE:
            text = bundle.reason_text(feature, value, row)
        else:
            text = reason_text(feature, math.nan if value is None else value, row, locale)
    except (KeyError, ValueError, TypeError):
        text = ""
    return text or feature
