"""A fitted `features.builder.FeatureBuilder`'s saved state: Parquet tables and one JSON
file, no pickle, and no declaration id, history or watchlist.

Only what serving needs is written: the text models fitted on all labelled rows, not the
per-fold models nor which training declaration was in which fold. The format is versioned;
a state of another format is refused with what changed and the advice to retrain, except
format 3, which format 4 only extends: it loads as the n-gram text models it holds, with no
HS-code profile (what `FeatureBuilder(text_ngram_weight=1, text_profile_weight=0)` fits), so a
serving model survives the upgrade until its retrain.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.curated_words import CuratedWords
from features.text import FULL_MODEL

# 2: descriptions normalised across scripts and diacritics, curated word lists in the state
# 3: entity history and watchlist live in the operational store, not in the state
# 4: the text models read each description's HS-code profile (code_words.parquet)
FORMAT_VERSION = 4
# Formats read as they are: format 3 is format 4 without the profile (its parameters as fitted).
READABLE_FORMATS = {3: {"text_ngram_weight": 1.0, "text_profile_weight": 0.0}, FORMAT_VERSION: {}}
FORMAT_CHANGES = {
    1: "format 2 reads descriptions in any script, with or without diacritics, and keeps the "
    "curated word lists with the model",
    2: "format 3 reads entity history and the watchlist from the operational store at scoring "
    "time instead of freezing them in the bundle",
    3: "format 4's text models read each description's HS-code profile, learned from the "
    "words every training declaration pairs with its HS code, so the same goods written in "
    "different languages share evidence",
}
STATE_FILE = "feature_builder.json"
REFERENCE_FILE = "reference.parquet"
TEXT_COEFFICIENTS_FILE = "text_coefficients.parquet"
CHAPTER_WORDS_FILE = "chapter_words.parquet"
CODE_WORDS_FILE = "code_words.parquet"
NO_CODE_WORDS = pd.DataFrame(
    {
        "word_index": pd.Series([], dtype=np.int64),
        "code": pd.Series([], dtype="str"),
        "rows": pd.Series([], dtype=np.float64),
    }
)


def write_state(
    directory: str | Path, params: Mapping[str, Any], fitted: Mapping[str, Any]
) -> list[Path]:
    """Write the constructor ``params`` (JSON-ready) and the ``fitted`` attributes (by
    attribute name, as `read_state` returns them) into ``directory``; returns the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    coefficients = fitted["text_coefficients_"]
    full_model = coefficients["fold"] == FULL_MODEL
    tables = {
        REFERENCE_FILE: fitted["reference_"],
        TEXT_COEFFICIENTS_FILE: coefficients[full_model].reset_index(drop=True),
        CHAPTER_WORDS_FILE: fitted["chapter_words_"],
        CODE_WORDS_FILE: fitted["code_words_"],
    }
    paths = []
    for name, table in tables.items():
        path = directory / name
        table.to_parquet(path, index=False)
        paths.append(path)
    state = {
        "format_version": FORMAT_VERSION,
        "params": dict(params),
        "global_hit_rates": fitted["global_hit_rates_"],
        "vocabularies": fitted["vocabularies_"],
        "text_intercepts": {
            threat: {str(FULL_MODEL): intercepts[FULL_MODEL]}
            for threat, intercepts in fitted["text_intercepts_"].items()
        },
        "chapter_rows": fitted["chapter_rows_"],
        "curated_words": fitted["curated_words_"].to_state(),
    }
    path = directory / STATE_FILE
    path.write_text(json.dumps(state, indent=1, sort_keys=True), encoding="utf-8")
    paths.append(path)
    return paths


def read_state(directory: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The constructor parameters and the fitted attributes (by attribute name) saved in
    ``directory``. The fold assignment is empty: a loaded builder knows no fit rows.

    Raises:
        ValueError: the state has another format (what changed since, and: retrain).
    """
    directory = Path(directory)
    state = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
    if state["format_version"] not in READABLE_FORMATS:
        raise ValueError(
            f"feature state in {directory} has format {state['format_version']}, "
            f"this shiprisk reads format {FORMAT_VERSION}: retrain the model"
            + "".join(
                f" ({change})"
                for version, change in FORMAT_CHANGES.items()
                if version >= state["format_version"]
            )
        )
    params: dict[str, Any] = {
        key: tuple(value) if isinstance(value, list) else value
        for key, value in state["params"].items()
    }
    params.update(READABLE_FORMATS[state["format_version"]])
    has_code_words = state["format_version"] >= 4  # format 3 has no profile to read
    fitted: dict[str, Any] = {
        "global_hit_rates_": {k: float(v) for k, v in state["global_hit_rates"].items()},
        "vocabularies_": {
            field: {str(value): int(code) for value, code in vocabulary.items()}
            for field, vocabulary in state["vocabularies"].items()
        },
        "text_intercepts_": {
            threat: {int(fold): float(value) for fold, value in intercepts.items()}
            for threat, intercepts in state["text_intercepts"].items()
        },
        "chapter_rows_": {k: float(v) for k, v in state["chapter_rows"].items()},
        "curated_words_": CuratedWords.from_state(state["curated_words"]),
        "reference_": pd.read_parquet(directory / REFERENCE_FILE),
        "text_coefficients_": pd.read_parquet(directory / TEXT_COEFFICIENTS_FILE),
        "text_folds_": pd.DataFrame(
            {"declaration_id": pd.Series([], dtype="str"), "fold": pd.Series([], dtype=np.int64)}
        ),
        "chapter_words_": pd.read_parquet(directory / CHAPTER_WORDS_FILE),
        "code_words_": (
            pd.read_parquet(directory / CODE_WORDS_FILE) if has_code_words else NO_CODE_WORDS
        ),
    }
    return params, fitted
