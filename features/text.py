"""Goods-description signals: a learned per-threat text score and description/HS mismatch.

Descriptions are hashed into word and character n-grams (stateless, fixed width), so the
only fitted state is a sparse coefficient vector and an intercept per threat: data, not a
pickled object. Weapon parts travel misdescribed ("steel pins", "spare parts", "samples")
under codes outside chapter 93; two signals catch that: a small curated set of such words,
and how typical the description's words are of the declared HS chapter.

Descriptions repeat heavily, so every computation runs on the distinct normalised texts and
is mapped back to rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression

HASH_FEATURES = 2**16  # per analyzer; the matrix has words then characters: 2 * HASH_FEATURES
FULL_MODEL = -1  # fold number of the model fitted on every labelled fit row
WEAPON_CHAPTER = "93"
# Words used to misdescribe firearm parts, ammunition and 3D-printing supplies (DOMAIN.md).
WEAPON_PART_WORDS: frozenset[str] = frozenset(
    [
        "pin",
        "pins",
        "part",
        "parts",
        "sample",
        "samples",
        "barrel",
        "barrels",
        "slide",
        "slides",
        "spring",
        "springs",
        "filament",
        "trigger",
        "triggers",
        "bolt",
        "bolts",
        "receiver",
        "receivers",
        "magazine",
        "magazines",
        "firing",
        "spare",
    ]
)
TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # scikit-learn's default word token


def normalised_descriptions(descriptions: pd.Series) -> pd.Series:
    """Lower-cased descriptions with collapsed whitespace; missing becomes ""."""
    text = descriptions.astype("str").fillna("")
    return text.str.casefold().str.replace(r"\s+", " ", regex=True).str.strip()


def description_matrix(texts: Sequence[str]) -> sp.csr_matrix:
    """Binary hashed word 1-2 grams followed by character 3-5 grams of each text."""
    if len(texts) == 0:
        return sp.csr_matrix((0, 2 * HASH_FEATURES))
    words = HashingVectorizer(
        analyzer="word",
        ngram_range=(1, 2),
        n_features=HASH_FEATURES,
        alternate_sign=False,
        norm=None,
        binary=True,
        token_pattern=TOKEN_PATTERN,
        dtype=np.float64,
    )
    characters = HashingVectorizer(
        analyzer="char_wb",
        ngram_range=(3, 5),
        n_features=HASH_FEATURES,
        alternate_sign=False,
        norm=None,
        binary=True,
        dtype=np.float64,
    )
    return sp.hstack([words.transform(texts), characters.transform(texts)], format="csr")


def word_matrix(texts: Sequence[str]) -> sp.csr_matrix:
    """Binary hashed single words of each text (the vocabulary of the chapter association)."""
    if len(texts) == 0:
        return sp.csr_matrix((0, HASH_FEATURES))
    return HashingVectorizer(
        analyzer="word",
        n_features=HASH_FEATURES,
        alternate_sign=False,
        norm=None,
        binary=True,
        token_pattern=TOKEN_PATTERN,
        dtype=np.float64,
    ).transform(texts)


def fit_threat_text_model(
    matrix: sp.csr_matrix, labels: np.ndarray, weights: np.ndarray, regularisation: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """Strongly L2-regularised logistic regression of a 0/1 label on description n-grams.

    ``matrix`` rows are distinct (text, label) pairs weighted by how many rows they stand for,
    which gives the same fit as the rows themselves. Returns the nonzero coefficient indices,
    their values and the intercept; with a single class or no text the score is the smoothed log odds.
    """
    positives = float(weights[labels == 1].sum())
    negatives = float(weights[labels == 0].sum())
    # fit on the columns that occur at all: the same model, a much smaller problem
    used = np.flatnonzero(np.asarray(matrix.getnnz(axis=0)) > 0)
    if positives == 0 or negatives == 0 or len(used) == 0:
        # One class, or no description text at all (an export without the column).
        return (
            np.array([], dtype=np.int64),
            np.array([]),
            float(np.log((positives + 0.5) / (negatives + 0.5))),
        )
    model = LogisticRegression(C=regularisation, solver="lbfgs", max_iter=1000)
    model.fit(matrix[:, used], labels, sample_weight=weights)
    coefficients = model.coef_.ravel()
    nonzero = np.flatnonzero(coefficients)
    return (
        used[nonzero].astype(np.int64),
        coefficients[nonzero].astype(np.float64),
        float(model.intercept_[0]),
    )


def text_scores(
    matrix: sp.csr_matrix, indices: np.ndarray, values: np.ndarray, intercept: float
) -> np.ndarray:
    """Log-odds text score of each row of ``matrix`` under one stored model."""
    dense = np.zeros(matrix.shape[1])
    dense[indices] = values
    return np.asarray(matrix @ dense).ravel() + intercept


def weapon_word_counts(texts: Sequence[str]) -> np.ndarray:
    """How many words of each text belong to :data:`WEAPON_PART_WORDS`."""
    tokens = pd.Series(list(texts), dtype="str").str.casefold().str.findall(TOKEN_PATTERN).explode()
    hits = tokens.isin(WEAPON_PART_WORDS)
    return hits.groupby(level=0).sum().to_numpy(dtype=np.float64)


def fit_chapter_words(
    texts: Sequence[str], chapters: pd.Series, weights: np.ndarray, min_count: int
) -> pd.DataFrame:
    """Rows per (hashed word, HS chapter) for words seen in at least ``min_count`` fit rows.

    ``texts``/``chapters``/``weights``: distinct (description, chapter) pairs and their row
    counts. Returns columns word_index, chapter, rows.
    """
    chapter_codes, chapter_names = pd.factorize(chapters, sort=True)
    present = chapter_codes >= 0
    onehot = sp.csr_matrix(
        (weights[present], (np.flatnonzero(present), chapter_codes[present])),
        shape=(len(chapters), len(chapter_names)),
    )
    counts = (word_matrix(texts).T @ onehot).tocoo()
    table = pd.DataFrame(
        {
            "word_index": counts.row.astype(np.int64),
            "chapter": np.asarray(chapter_names, dtype=object)[counts.col],
            "rows": counts.data.astype(np.float64),
        }
    )
    word_rows = table.groupby("word_index")["rows"].transform("sum")
    table = table[word_rows >= min_count]
    table["chapter"] = table["chapter"].astype("str")
    return table.sort_values(["word_index", "chapter"], ignore_index=True)


def chapter_fit(
    texts: Sequence[str],
    chapters: pd.Series,
    chapter_words: pd.DataFrame,
    chapter_rows: dict[str, float],
    smoothing: float,
) -> np.ndarray:
    """Mean over a text's known words of P(declared chapter | word); NaN with no known word.

    P is smoothed toward the chapter's overall share, so a word seen a few times does not
    decide alone. Low values mean the description reads like goods of another chapter.
    """
    matrix = word_matrix(texts)
    word_rows = np.zeros(HASH_FEATURES)
    np.add.at(word_rows, chapter_words["word_index"].to_numpy(), chapter_words["rows"].to_numpy())
    known = (word_rows > 0).astype(np.float64)
    known_words = np.asarray(matrix @ known).ravel()
    total_rows = sum(chapter_rows.values())
    result = np.full(len(chapters), np.nan)
    chapter_values = chapters.to_numpy(dtype=object)
    for chapter in pd.unique(chapters.dropna()):
        rows = np.flatnonzero(chapter_values == chapter)
        share = chapter_rows.get(str(chapter), 0.0) / total_rows if total_rows else 0.0
        in_chapter = chapter_words[chapter_words["chapter"] == chapter]
        together = np.zeros(HASH_FEATURES)
        together[in_chapter["word_index"].to_numpy()] = in_chapter["rows"].to_numpy()
        probability = np.where(
            known > 0, (together + smoothing * share) / (word_rows + smoothing), 0.0
        )
        sums = np.asarray(matrix[rows] @ probability).ravel()
        with np.errstate(divide="ignore", invalid="ignore"):
            result[rows] = np.where(known_words[rows] > 0, sums / known_words[rows], np.nan)
    return result
