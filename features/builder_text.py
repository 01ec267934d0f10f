"""The goods-description part of a `features.builder.FeatureBuilder`: what its fit learns
from the descriptions (per-threat text models, cross-fitted by fold, and the association of
words with HS chapters) and the description features computed from it.

`features.text` holds the text algorithms (normalising, hashing, the logistic model, the
chapter association); this module applies them to declaration columns and labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd
import scipy.sparse as sp

from features.columns import DeclarationColumns, factorised, prefixes
from features.curated_words import CuratedWords
from features.schema import label_column
from features.text import (
    FULL_MODEL,
    PROFILE_OFFSET,
    WEAPON_CHAPTER,
    ChapterAssociation,
    CodeProfiles,
    TextModel,
    chapter_fit,
    description_profiles,
    fit_chapter_words,
    fit_threat_text_model,
    hashed_descriptions,
    normalised_descriptions,
    profile_weights,
    text_scores,
)


@dataclass(frozen=True)
class TextWeights:
    """How the text model weighs its two blocks of columns before the L2 penalty: the binary
    n-grams and the description's HS-code profile. A larger weight penalises that block's
    coefficients less; the stored coefficients are per unweighted column."""

    ngrams: float
    profile: float


@dataclass(frozen=True)
class FittedText:
    """Per-threat text models: one per fold plus the full model (``FULL_MODEL``).

    ``folds`` (which fit row left which fold out) serves only the point-in-time features of
    the training session that fitted them; it is never saved.
    """

    folds: pd.DataFrame  # declaration_id, fold
    coefficients: pd.DataFrame  # threat, fold, index, value
    intercepts: dict[str, dict[int, float]]  # threat -> fold -> intercept


def fit_text(
    declarations: pd.DataFrame,
    labels: pd.DataFrame,
    threats: Sequence[str],
    curated_words: CuratedWords,
    association: ChapterAssociation,
    profiles: CodeProfiles,
    *,
    text_folds: int,
    regularisation: float,
    weights: TextWeights,
    random_state: int,
) -> FittedText:
    """Text models on the labelled rows (``declarations`` and ``labels`` aligned by position)
    over the descriptions' n-grams and HS-code profiles (`features.text.description_profiles`,
    from ``association`` and ``profiles``, which every fit row, labelled or not, taught)."""
    threats = list(threats)
    label_values = labels[[label_column(threat) for threat in threats]].to_numpy(dtype=np.float64)
    labelled = ~np.isnan(label_values).all(axis=1)
    rows = np.flatnonzero(labelled)
    rng = np.random.default_rng(random_state)
    folds = rng.permutation(len(rows)) % text_folds
    fold_table = pd.DataFrame(
        {
            "declaration_id": declarations["declaration_id"].iloc[rows].astype("str").to_numpy(),
            "fold": folds.astype(np.int64),
        }
    )
    texts = curated_words.canonical(
        normalised_descriptions(DeclarationColumns(declarations).strings("goods_description")[rows])
    )
    text_codes, unique_texts = pd.factorize(texts)
    ngrams, words = hashed_descriptions(list(unique_texts))
    blocks = [weights.ngrams * ngrams.matrix()]
    if weights.profile > 0:  # weight 0: the n-gram model alone, as before format 4
        blocks.append(weights.profile * description_profiles(words, association, profiles))
    matrix = sp.hstack(blocks, format="csr")
    coefficient_tables = []
    intercepts: dict[str, dict[int, float]] = {}
    for position, threat in enumerate(threats):
        y = label_values[rows, position]
        intercepts[threat] = {}
        for fold in [FULL_MODEL, *range(text_folds)]:
            train = ~np.isnan(y) & (folds != fold)
            # distinct (text, label) pairs weighted by their row counts
            pair_keys, counts = np.unique(
                text_codes[train].astype(np.int64) * 2 + y[train].astype(np.int64),
                return_counts=True,
            )
            pair_text, pair_y = pair_keys // 2, pair_keys % 2
            indices, values, intercept = fit_threat_text_model(
                matrix[pair_text], pair_y, counts.astype(np.float64), regularisation
            )
            # stored per unweighted column, as the scoring reads them
            values = values * np.where(indices < PROFILE_OFFSET, weights.ngrams, weights.profile)
            intercepts[threat][fold] = intercept
            coefficient_tables.append(
                pd.DataFrame({"threat": threat, "fold": fold, "index": indices, "value": values})
            )
    coefficients = pd.concat(coefficient_tables, ignore_index=True).astype(
        {"threat": "str", "fold": np.int64, "index": np.int64, "value": np.float64}
    )
    return FittedText(folds=fold_table, coefficients=coefficients, intercepts=intercepts)


@dataclass(frozen=True)
class FittedCodeWords:
    """The words' association with HS chapters and with HS codes at the text model's digits
    (`features.text.fit_chapter_words`: word_index, chapter or code, rows) and the fit rows
    per chapter."""

    chapter_words: pd.DataFrame
    chapter_rows: dict[str, float]
    code_words: pd.DataFrame  # word_index, code, rows


def fit_chapter_state(
    declarations: pd.DataFrame, curated_words: CuratedWords, min_rows: int, code_digits: int
) -> FittedCodeWords:
    """The words' association with HS chapters and with the first ``code_digits`` digits of
    the HS code, over every fit row (no label is read), and the fit rows per chapter."""
    columns = DeclarationColumns(declarations)
    texts = pd.Series(
        curated_words.canonical(normalised_descriptions(columns.strings("goods_description"))),
        dtype="str",
    )
    hs_codes = columns.strings("hs_code")
    chapters = pd.Series(prefixes(hs_codes, 2), dtype="str")

    def words_by(groups: pd.Series) -> pd.DataFrame:
        pairs = pd.DataFrame({"text": texts, "group": groups}).dropna().value_counts().sort_index()
        return fit_chapter_words(
            list(pairs.index.get_level_values("text")),
            pd.Series(pairs.index.get_level_values("group"), dtype="str"),
            pairs.to_numpy(dtype=np.float64),
            min_rows,
        )

    chapter_rows = {
        str(chapter): float(count)
        for chapter, count in chapters.value_counts().sort_index().items()
    }
    code_words = words_by(pd.Series(prefixes(hs_codes, code_digits), dtype="str"))
    return FittedCodeWords(
        chapter_words=words_by(chapters),
        chapter_rows=chapter_rows,
        code_words=code_words.rename(columns={"chapter": "code"}),
    )


def text_models(
    coefficients: pd.DataFrame,
    intercepts: Mapping[str, Mapping[int, float]],
    profiles: CodeProfiles,
) -> dict[tuple[str, int], TextModel]:
    """The scoring form of each (threat, fold) text model of a fitted or loaded state."""
    by_model = {
        (str(threat), int(cast(int, fold))): table
        for (threat, fold), table in coefficients.groupby(["threat", "fold"], sort=True)
    }
    empty = coefficients.iloc[:0]
    return {
        (threat, fold): TextModel.from_table(
            by_model.get((threat, fold), empty), intercept, profiles
        )
        for threat, fold_intercepts in intercepts.items()
        for fold, intercept in fold_intercepts.items()
    }


def point_in_time_folds(folds: pd.DataFrame, columns: DeclarationColumns) -> np.ndarray:
    """Per row, the text model that may score it in training: the fold that left it out when
    it was a fit row (never an in-sample score), else the full model."""
    fold_of = dict(zip(folds["declaration_id"].tolist(), folds["fold"].tolist(), strict=True))
    return np.fromiter(
        (
            fold_of.get(identifier, FULL_MODEL)
            for identifier in columns.strings("declaration_id").tolist()
        ),
        dtype=np.int64,
        count=len(columns),
    )


def description_features(
    columns: DeclarationColumns,
    text_fold: np.ndarray,
    threats: Sequence[str],
    curated_words: CuratedWords,
    models: Mapping[tuple[str, int], TextModel],
    chapter_association: ChapterAssociation,
    code_profiles: CodeProfiles,
) -> dict[str, np.ndarray]:
    """Per-threat text scores (fold or full model per row) and description/HS mismatch."""
    texts = normalised_descriptions(columns.strings("goods_description"))
    codes, unique_texts = factorised(texts.tolist())
    # the glossary per distinct text, as the fit read it (features.glossary)
    unique_list = curated_words.glossary.canonical_texts(map(str, unique_texts))
    descriptions, words = hashed_descriptions(unique_list)
    features: dict[str, np.ndarray] = {}
    folds = np.unique(text_fold).tolist()
    scored = [(threat, fold) for threat in threats for fold in folds]
    scores = text_scores(
        descriptions,
        [models[model] for model in scored],
        words,
        profile_weights(words, chapter_association, code_profiles),
    )
    for threat in threats:
        column = np.full(len(columns), np.nan)
        for fold in folds:
            rows = text_fold == fold
            column[rows] = scores[codes[rows], scored.index((threat, fold))]
        features[f"text_score_{threat}"] = column

    chapters = prefixes(columns.strings("hs_code"), 2)
    weapon_words = curated_words.counts(unique_list)[codes]
    features["description_weapon_words"] = weapon_words
    features["description_weapon_words_outside_ch93"] = np.where(
        np.equal(chapters, WEAPON_CHAPTER), 0.0, weapon_words
    )
    # the chapter fit of each distinct (description, chapter) pair
    pair_codes, pairs = factorised(list(zip(codes.tolist(), chapters.tolist(), strict=True)))
    fit = chapter_fit(
        words.take([text for text, _ in pairs]),
        np.array([chapter for _, chapter in pairs], dtype=object),
        chapter_association,
    )
    features["description_chapter_fit"] = fit[pair_codes]
    return features
