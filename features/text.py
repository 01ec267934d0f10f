"""Goods-description signals: a learned per-threat text score and description/HS mismatch.

Descriptions are hashed into word and character n-grams (stateless, fixed width), so the
only fitted state is a sparse coefficient vector and an intercept per threat: data, not a
pickled object. Weapon parts travel misdescribed ("steel pins", "spare parts", "samples")
under codes outside chapter 93; two signals catch that: curated words per language
(features/wordlists/, read by features.curated_words), and how typical the description's
words are of the declared HS chapter.

Every signal reads the description through :func:`normalised_description` (one script,
case and diacritics folded: features.normalise), so a description in Cyrillic or without
diacritics gets the features of its Latin spelling. Descriptions repeat heavily, so every
computation runs on the distinct normalised texts and is mapped back to rows.

The same goods are written in several languages ("rezervni delovi", "резервни делови",
"pjesë këmbimi", "spare parts"), and each wording alone has few labelled rows. Every
declaration pairs its words with an HS code, labelled or not, in any administration's data,
so the text model also reads the description's **HS-code profile**
(:func:`description_profiles`): the mean, over its words, of P(HS code | word) learned from
every training declaration, each word weighted by how much it tells about chapters
(:func:`word_information`). Wordings of the same goods in any language share that profile,
so the evidence the labelled rows give one wording reaches the others (bench/RESULTS.md,
"languages", measures it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction import FeatureHasher
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression

from features.columns import factorised, missing, per_distinct
from features.normalise import TOKEN_PATTERN, normalised_text

HASH_FEATURES = 2**16  # per analyzer; the matrix has words then characters: 2 * HASH_FEATURES
# Text model columns from here on are the HS codes of the description's profile, in the
# order of `CodeProfiles.codes`.
PROFILE_OFFSET = 2 * HASH_FEATURES
FULL_MODEL = -1  # fold number of the model fitted on every labelled fit row
WEAPON_CHAPTER = "93"


def normalised_description(description: str | None) -> str:
    """The description every text feature reads (:func:`features.normalise.normalised_text`:
    one script, case and diacritics folded, whitespace collapsed); missing becomes ""."""
    return "" if description is None else normalised_text(description)


def normalised_descriptions(descriptions: np.ndarray) -> np.ndarray:
    """:func:`normalised_description` of each description (object array of str), computed
    once per distinct description."""
    normalised = per_distinct(descriptions, normalised_description)
    normalised[missing(normalised)] = ""
    return normalised


def _vectorizer(analyzer: str, ngram_range: tuple[int, int]) -> HashingVectorizer:
    """The binary hashing vectorizer whose analyzer (and hashing) defines one n-gram block."""
    return HashingVectorizer(
        analyzer=analyzer,
        ngram_range=ngram_range,
        n_features=HASH_FEATURES,
        alternate_sign=False,
        norm=None,
        binary=True,
        token_pattern=TOKEN_PATTERN,
        dtype=np.float64,
    )


@cache
def _analyzers() -> dict[str, Callable[[str], list[str]]]:
    """Text -> n-grams of each block, as scikit-learn's vectorizers split it."""
    return {
        "word_ngrams": _vectorizer("word", (1, 2)).build_analyzer(),
        "character_ngrams": _vectorizer("char_wb", (3, 5)).build_analyzer(),
        "words": _vectorizer("word", (1, 1)).build_analyzer(),
    }


@cache
def _hasher() -> FeatureHasher:
    """The hasher behind every vectorizer of :func:`_vectorizer` (what its transform uses)."""
    return FeatureHasher(
        n_features=HASH_FEATURES, input_type="string", dtype=np.float64, alternate_sign=False
    )


@dataclass(frozen=True)
class HashedRows:
    """Binary rows over hashed n-gram columns: row ``i`` has a 1 in each column of
    ``indices[indptr[i]:indptr[i + 1]]`` (ascending, distinct) and 0 elsewhere."""

    indptr: np.ndarray
    indices: np.ndarray
    width: int

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def take(self, rows: Sequence[int]) -> HashedRows:
        """The given rows, in that order (repeats allowed)."""
        positions = np.asarray(rows, dtype=np.int64)
        counts = self.indptr[positions + 1] - self.indptr[positions]
        indptr = np.zeros(len(positions) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        sources = np.arange(indptr[-1]) + np.repeat(self.indptr[positions] - indptr[:-1], counts)
        return HashedRows(indptr, self.indices[sources], self.width)

    def matrix(self) -> sp.csr_matrix:
        """The rows as a sparse matrix."""
        return sp.csr_matrix(
            (np.ones(len(self.indices)), self.indices, self.indptr), shape=(len(self), self.width)
        )

    def sums(self, values: np.ndarray) -> np.ndarray:
        """Per row, the sum of ``values`` (one per stored entry, aligned with ``indices``).

        The terms of a row are added one by one in column order starting from 0, exactly as
        the product of the sparse matrix with a dense vector does, so the sums are bit for
        bit those of that product (every stored value is 1).
        """
        rows = np.repeat(np.arange(len(self)), np.diff(self.indptr))
        return np.bincount(rows, weights=values, minlength=len(self)).astype(np.float64)


def hashed_descriptions(texts: Sequence[str]) -> tuple[HashedRows, HashedRows]:
    """The description rows (:func:`description_matrix`) and word rows
    (:func:`word_matrix`) of each text, hashed in one pass."""
    blocks = _hashed_blocks(texts, ("word_ngrams", "character_ngrams", "words"))
    return _side_by_side(blocks[0], blocks[1]), blocks[2]


def description_matrix(texts: Sequence[str]) -> sp.csr_matrix:
    """Binary hashed word 1-2 grams followed by character 3-5 grams of each text."""
    word_ngrams, character_ngrams = _hashed_blocks(texts, ("word_ngrams", "character_ngrams"))
    return _side_by_side(word_ngrams, character_ngrams).matrix()


def word_matrix(texts: Sequence[str]) -> sp.csr_matrix:
    """Binary hashed single words of each text (the vocabulary of the chapter association)."""
    return _hashed_blocks(texts, ("words",))[0].matrix()


def _hashed_blocks(texts: Sequence[str], blocks: Sequence[str]) -> list[HashedRows]:
    """Each block's binary hashed rows of ``texts``, from one call of the hasher.

    Exactly what each block's ``HashingVectorizer.transform`` returns (its analyzer's
    n-grams through the same ``FeatureHasher``, duplicates merged and sorted, binary),
    without paying the vectorizers' fixed cost once per block.
    """
    n = len(texts)
    if n == 0:
        empty = HashedRows(np.zeros(1, dtype=np.int64), np.array([], dtype=np.int64), HASH_FEATURES)
        return [empty for _ in blocks]
    analyzers = _analyzers()
    hashed = _hasher().transform(analyzers[block](text) for block in blocks for text in texts)
    indptr = np.asarray(hashed.indptr, dtype=np.int64)
    indices = np.asarray(hashed.indices, dtype=np.int64)
    rows = []
    for position in range(len(blocks)):
        start, end = indptr[position * n], indptr[(position + 1) * n]
        rows.append(
            HashedRows(
                indptr[position * n : (position + 1) * n + 1] - start,
                indices[start:end],
                HASH_FEATURES,
            )
        )
    return rows


def _side_by_side(left: HashedRows, right: HashedRows) -> HashedRows:
    """Row ``i`` of ``left`` followed by row ``i`` of ``right`` shifted past ``left``'s width."""
    left_counts = np.diff(left.indptr)
    right_counts = np.diff(right.indptr)
    indptr = np.zeros(len(left) + 1, dtype=np.int64)
    np.cumsum(left_counts + right_counts, out=indptr[1:])
    indices = np.empty(indptr[-1], dtype=np.int64)
    left_rows = np.repeat(np.arange(len(left)), left_counts)
    indices[indptr[left_rows] + np.arange(len(left.indices)) - left.indptr[left_rows]] = (
        left.indices
    )
    right_rows = np.repeat(np.arange(len(right)), right_counts)
    indices[
        indptr[right_rows]
        + left_counts[right_rows]
        + np.arange(len(right.indices))
        - right.indptr[right_rows]
    ] = right.indices + left.width
    return HashedRows(indptr, indices, left.width + right.width)


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


_NO_WORDS = np.array([], dtype=np.int64)


@dataclass(frozen=True)
class TextModel:
    """One stored text model: nonzero n-gram coefficient indices (ascending), values,
    intercept, and its HS-code profile coefficients read per known word: ``word_indices``
    (ascending) and ``word_values``, each word's P(code | word) times the code coefficients
    (`CodeProfiles.word_values`), so a description's profile term is a weighted mean of
    its words' values."""

    indices: np.ndarray
    values: np.ndarray
    intercept: float
    word_indices: np.ndarray = field(default_factory=lambda: _NO_WORDS)
    word_values: np.ndarray = field(default_factory=lambda: np.array([]))

    @classmethod
    def from_table(
        cls, table: pd.DataFrame, intercept: float, profiles: CodeProfiles | None = None
    ) -> TextModel:
        """The model from its rows of the coefficient table (columns index, value); columns
        from `PROFILE_OFFSET` on are HS codes of ``profiles``."""
        index = table["index"].to_numpy(dtype=np.int64)
        value = table["value"].to_numpy(dtype=np.float64)
        order = np.argsort(index, kind="stable")
        index, value = index[order], value[order]
        ngrams = index < PROFILE_OFFSET
        if profiles is None or ngrams.all():
            return cls(index[ngrams], value[ngrams], float(intercept))
        word_indices, word_values = profiles.word_values(
            index[~ngrams] - PROFILE_OFFSET, value[~ngrams]
        )
        return cls(index[ngrams], value[ngrams], float(intercept), word_indices, word_values)


def text_scores(
    rows: HashedRows,
    models: Sequence[TextModel],
    words: HashedRows | None = None,
    word_weights: np.ndarray | None = None,
) -> np.ndarray:
    """Log-odds text score of each description row (rows) under each stored model (columns).

    The n-gram part is bit for bit the product of the row with the model's dense
    coefficient vector; the profile part is the mean of the row's word values (``words``,
    its :func:`hashed_descriptions` word rows) weighted by ``word_weights``
    (:func:`profile_weights`), 0 without words.
    """
    scores = np.empty((len(rows), len(models)))
    for position, model in enumerate(models):
        coefficients = model_values_at(model.indices, model.values, rows.indices)
        scores[:, position] = rows.sums(coefficients) + model.intercept
        if words is not None and word_weights is not None and len(model.word_indices):
            values = model_values_at(model.word_indices, model.word_values, words.indices)
            scores[:, position] += words.sums(values * word_weights)
    return scores


def model_values_at(indices: np.ndarray, values: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """The sparse vector (``indices`` ascending, ``values``) read at ``columns``; 0 elsewhere."""
    if len(indices) == 0:
        return np.zeros(len(columns))
    positions = np.minimum(np.searchsorted(indices, columns), len(indices) - 1)
    return np.where(indices[positions] == columns, values[positions], 0.0)


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


class ChapterAssociation:
    """The fitted word/chapter counts arranged for lookups (built once, read per request).

    ``word_rows`` holds the fit rows of every hashed word, ``chapters`` per chapter its words
    (ascending) and their rows, ``shares`` each chapter's share of all fit rows.
    """

    def __init__(
        self, chapter_words: pd.DataFrame, chapter_rows: dict[str, float], smoothing: float
    ) -> None:
        self.word_rows = np.zeros(HASH_FEATURES)
        np.add.at(
            self.word_rows,
            chapter_words["word_index"].to_numpy(),
            chapter_words["rows"].to_numpy(),
        )
        self.known = (self.word_rows > 0).astype(np.float64)
        self.chapters: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for chapter, words in chapter_words.groupby("chapter", sort=True):
            order = np.argsort(words["word_index"].to_numpy(dtype=np.int64), kind="stable")
            self.chapters[str(chapter)] = (
                words["word_index"].to_numpy(dtype=np.int64)[order],
                words["rows"].to_numpy(dtype=np.float64)[order],
            )
        total_rows = sum(chapter_rows.values())
        self.chapter_rows = chapter_rows
        self.total_rows = total_rows
        self.smoothing = smoothing
        self.information = word_information(chapter_words, chapter_rows, smoothing)

    def share(self, chapter: str) -> float:
        """The chapter's share of all fit rows (0 for a chapter never seen)."""
        return self.chapter_rows.get(chapter, 0.0) / self.total_rows if self.total_rows else 0.0


# Weight of a known word that tells nothing about chapters: a text of only such words gets
# the plain mean of its words' P(chapter | word), not NaN.
BASE_WEIGHT = 1e-9


def word_information(
    chapter_words: pd.DataFrame, chapter_rows: dict[str, float], smoothing: float
) -> np.ndarray:
    """Per hashed word, how much it tells about the chapter: the Kullback-Leibler divergence
    of its smoothed P(chapter | word) from the chapters' shares, over the chapters it was
    seen in (clipped at 0); 0 for a word never seen.

    Words spread over chapters as all goods are ("for", "of", "za", "dhe", a colour, "used")
    score near 0 in any language, words of one chapter score high, so a chapter fit weighted
    by it reads the goods words and not the grammar or modifiers around them, which differ
    between the languages a description is written in.
    """
    total = sum(chapter_rows.values())
    information = np.zeros(HASH_FEATURES)
    if total <= 0 or chapter_words.empty:
        return information
    index = chapter_words["word_index"].to_numpy(dtype=np.int64)
    rows = chapter_words["rows"].to_numpy(dtype=np.float64)
    share = chapter_words["chapter"].map(chapter_rows).fillna(0.0).to_numpy(np.float64) / total
    word_rows = np.zeros(HASH_FEATURES)
    np.add.at(word_rows, index, rows)
    probability = (rows + smoothing * share) / (word_rows[index] + smoothing)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(share > 0, probability * np.log(probability / share), 0.0)
    np.add.at(information, index, terms)
    return np.maximum(information, 0.0)


def chapter_fit(
    words: HashedRows, chapters: np.ndarray, association: ChapterAssociation
) -> np.ndarray:
    """Mean over a text's known words (``words``: its :func:`hashed_descriptions` word rows)
    of P(declared chapter | word), each word weighted by how much it tells about chapters
    (:func:`word_information`); NaN with no known word or no chapter (``None``).

    P is smoothed toward the chapter's overall share, so a word seen a few times does not
    decide alone. Low values mean the description reads like goods of another chapter.
    """
    entry_rows = np.repeat(np.arange(len(words)), np.diff(words.indptr))
    entry_words = words.indices
    known = association.known[entry_words]
    word_rows = association.word_rows[entry_words]
    # each entry's rows in its row's chapter, and that chapter's share of the fit rows
    together = np.zeros(len(entry_words))
    share = np.zeros(len(entry_words))
    chapter_codes, distinct_chapters = factorised(chapters.tolist())
    entry_chapters = chapter_codes[entry_rows]
    for position, chapter in enumerate(distinct_chapters):
        if chapter is None:
            continue
        entries = entry_chapters == position
        chapter_words, rows_in_chapter = association.chapters.get(
            str(chapter), (np.array([], dtype=np.int64), np.array([]))
        )
        together[entries] = model_values_at(chapter_words, rows_in_chapter, entry_words[entries])
        share[entries] = association.share(str(chapter))
    smoothing = association.smoothing
    probability = np.where(known > 0, (together + smoothing * share) / (word_rows + smoothing), 0.0)
    weight = known * (association.information[entry_words] + BASE_WEIGHT)
    weights = words.sums(weight)
    sums = words.sums(probability * weight)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(~missing(chapters) & (weights > 0), sums / weights, np.nan)


class CodeProfiles:
    """P(HS code | word) of every word in the fitted word/code counts (`fit_chapter_words`
    read at the text model's code digits): ``matrix`` is hashed words x ``codes``.

    The counts come from every training declaration, labelled or not, so they carry no
    outcome; a word's row is its spread over the codes it was declared under.
    """

    def __init__(self, code_words: pd.DataFrame) -> None:
        codes, names = pd.factorize(code_words["code"].astype("str"), sort=True)
        self.codes: list[str] = [str(name) for name in names]
        words = code_words["word_index"].to_numpy(dtype=np.int64)
        rows = code_words["rows"].to_numpy(dtype=np.float64)
        word_rows = np.zeros(HASH_FEATURES)
        np.add.at(word_rows, words, rows)
        self.known = word_rows > 0
        self.matrix = sp.csr_matrix(
            (rows / word_rows[words], (words, codes)), shape=(HASH_FEATURES, len(self.codes))
        )

    def word_values(
        self, code_positions: np.ndarray, coefficients: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per known word (ascending indices), sum over codes of P(code | word) times the
        coefficient of the code (``code_positions`` into ``codes``)."""
        dense = np.zeros(len(self.codes))
        dense[code_positions] = coefficients
        values = self.matrix @ dense
        words = np.flatnonzero(self.known)
        return words.astype(np.int64), values[words]


def profile_weights(
    words: HashedRows, association: ChapterAssociation, profiles: CodeProfiles
) -> np.ndarray:
    """Per stored word entry of ``words``, its weight in its row's profile: words known to
    the code counts, weighted by what they tell about chapters (:func:`word_information`,
    a word used alike by every chapter weighs almost nothing), normalised to sum to 1 per
    row (0 for a row without a known word)."""
    weight = profiles.known[words.indices] * (association.information[words.indices] + BASE_WEIGHT)
    totals = words.sums(weight)
    entry_rows = np.repeat(np.arange(len(words)), np.diff(words.indptr))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(totals[entry_rows] > 0, weight / totals[entry_rows], 0.0)


def description_profiles(
    words: HashedRows, association: ChapterAssociation, profiles: CodeProfiles
) -> sp.csr_matrix:
    """Each text's HS-code profile (rows x ``profiles.codes``): the weighted mean over its
    known words (:func:`profile_weights`) of P(code | word)."""
    weights = sp.csr_matrix(
        (profile_weights(words, association, profiles), words.indices, words.indptr),
        shape=(len(words), HASH_FEATURES),
    )
    return sp.csr_matrix(weights @ profiles.matrix)
