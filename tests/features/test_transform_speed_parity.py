"""The fast serving transform is exact: properties that pin its output bit for bit.

Serving scores one declaration per request through indexed lookups built from the fitted
state; training scores frames of any size. These tests hold the two to one result: a row
alone equals the same row inside a batch, serving equals point-in-time after the cutoff,
save/load changes nothing, and each shortcut (hashing in one pass, sparse products over the
used columns, id and description normalisation without pandas string methods, calendar from
nanoseconds) equals the slower formulation it replaced, on inputs chosen to break it.
"""

from __future__ import annotations

import unicodedata

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer

from features.builder import FeatureBuilder
from features.calendar import calendar_features
from features.columns import DeclarationColumns, normalised_ids
from features.curated_words import load_curated_words
from features.normalise import (
    LATIN_LETTERS,
    MACEDONIAN_CYRILLIC,
    OTHER_CYRILLIC,
    SERBIAN_CYRILLIC,
)
from features.text import (
    BASE_WEIGHT,
    HASH_FEATURES,
    TOKEN_PATTERN,
    ChapterAssociation,
    TextModel,
    chapter_fit,
    description_matrix,
    hashed_descriptions,
    normalised_descriptions,
    text_scores,
    word_matrix,
)
from tests.features.builder_frames import (
    declarations_frame,
    generated_frames,
    labels_frame,
    live_inputs,
)

THREATS = ("weapons", "migrants", "revenue")
# Every character that Python, pandas and regular expressions treat as whitespace.
UNICODE_WHITESPACE = "".join(chr(code) for code in range(0x3001) if chr(code).isspace())
TRICKY_TEXTS = [
    "Steel  PINS\tfor\u00a0machine tools",
    f"{UNICODE_WHITESPACE}Spare parts{UNICODE_WHITESPACE}and{UNICODE_WHITESPACE}",
    "STRASSE Straße ǅ ﬁlament",  # case folding changes lengths
    "a",
    "",
    "pistol-slide/springs, 3D printed; ÄÖÜ",
    "ДЕЛОВИ за ПИШТОЉ, ѓубре ќе ѕид Џ; Đurđevak ð; çelës Ë; c\u030cokolada İ ŉ ǰ",
    "x" * 300,
]


@pytest.fixture(scope="module")
def fitted() -> tuple[FeatureBuilder, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    declarations, labels, watchlist = generated_frames(700, seed=21)
    # listed ids written the way a declarant types them, so the watchlist does hit
    watchlist = pd.concat(
        [
            watchlist,
            pd.DataFrame(
                {
                    "entity_type": pd.Series(["carrier_id", "exporter_id"], dtype="str"),
                    "entity_id": pd.Series([" ca7 ", "EX3"], dtype="str"),
                    "threat": pd.Series(["weapons", "revenue"], dtype="str"),
                    "valid_from": pd.to_datetime(["2023-01-01", "2023-03-01"], utc=True),
                    "valid_to": pd.to_datetime(pd.Series([None, "2023-10-01"]), utc=True),
                    "source": pd.Series(["partner", "partner"], dtype="str"),
                }
            ),
        ],
        ignore_index=True,
    )
    builder = FeatureBuilder(THREATS, text_folds=3).fit(declarations, labels)
    return builder, declarations, labels, watchlist


def newcomers(declarations: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Declarations after the cutoff: copies of fit rows, plus rows with missing, unseen and
    oddly written values."""
    copies = declarations.iloc[::23].copy()
    copies["declaration_id"] = [f"NEW{i}" for i in range(len(copies))]
    copies["lodged_at"] = cutoff + pd.to_timedelta(np.arange(len(copies)) * 3_600 + 1, unit="s")
    odd = declarations_frame(
        [
            {
                "declaration_id": "ODD1",
                "lodged_at": cutoff + pd.Timedelta(days=3),
                "importer_id": "  im3 ",
                "carrier_id": "CA7",
                "goods_description": TRICKY_TEXTS[1],
                "itinerary": "GR>>RS",
            },
            {
                "declaration_id": "ODD2",
                "lodged_at": cutoff + pd.Timedelta(days=3),
                "importer_id": np.nan,
                "vehicle_id": "   ",
                "hs_code": np.nan,
                "goods_description": np.nan,
                "itinerary": np.nan,
                "dispatch_country": np.nan,
                "packages": np.nan,
                "net_mass_kg": 0.0,
            },
            {
                "declaration_id": "ODD3",
                "lodged_at": cutoff + pd.Timedelta(days=4),
                "office_id": "NEVER-SEEN",
                "hs_code": "99999999",
                "goods_description": TRICKY_TEXTS[2],
                "itinerary": "",
                "transport_mode": "postal",
                "vehicle_type": np.nan,
            },
        ]
    )
    return pd.concat([copies, odd[copies.columns]], ignore_index=True)


def test_each_row_alone_equals_the_batch(fitted) -> None:
    builder, declarations, labels, watchlist = fitted
    cutoff = declarations["lodged_at"].max() + pd.Timedelta(days=60)
    batch_rows = pd.concat([declarations.iloc[:40], newcomers(declarations, cutoff)])
    batch_rows.index = pd.Index([f"r{i}" for i in range(len(batch_rows))])

    def served(rows: pd.DataFrame) -> pd.DataFrame:
        live = live_inputs(THREATS, rows, declarations, labels, watchlist)
        return builder.transform(rows, live)

    batch = served(batch_rows)
    alone = pd.concat([served(batch_rows.iloc[[i]]) for i in range(len(batch_rows))])
    pd.testing.assert_frame_equal(alone, batch, check_exact=True)
    # the batch is not trivially uniform: features differ across rows
    assert batch.nunique().gt(1).sum() > len(batch.columns) / 2
    assert batch.loc["r40":, "watchlist_hits_weapons"].sum() > 0


def test_serving_equals_point_in_time_after_the_cutoff(fitted) -> None:
    builder, declarations, labels, watchlist = fitted
    cutoff = max(declarations["lodged_at"].max(), labels["known_at"].max())
    later = newcomers(declarations, cutoff).iloc[::3]
    served = builder.transform(later, live_inputs(THREATS, later, declarations, labels, watchlist))
    # each newcomer alone after the fit rows: in point-in-time, newcomers would see each other
    with_labels = pd.concat([labels, labels_frame([None])], ignore_index=True)
    offline = pd.concat(
        [
            builder.transform_point_in_time(
                pd.concat([declarations, later.iloc[[i]]], ignore_index=True),
                with_labels,
                watchlist,
            ).iloc[[-1]]
            for i in range(len(later))
        ]
    )
    pd.testing.assert_frame_equal(served, offline.set_axis(served.index), check_exact=True)
    assert (served["importer_declarations"] > 0).sum() > len(later) / 2


def test_a_loaded_builder_serves_the_same_features(fitted, tmp_path) -> None:
    builder, declarations, labels, watchlist = fitted
    later = newcomers(declarations, declarations["lodged_at"].max())
    live = live_inputs(THREATS, later, declarations, labels, watchlist)
    builder.save(tmp_path)
    loaded = FeatureBuilder.load(tmp_path)
    pd.testing.assert_frame_equal(
        loaded.transform(later, live), builder.transform(later, live), check_exact=True
    )


def test_live_inputs_of_a_subset_equal_the_subset_of_live_inputs(fitted) -> None:
    """Training evaluates a window by taking its rows out of the whole table's live inputs."""
    builder, declarations, labels, watchlist = fitted
    everything = builder.live_point_in_time(declarations, labels, watchlist)
    positions = np.array([650, 3, 400, 3])
    taken = builder.transform(declarations.iloc[positions], everything.take(positions))
    whole = builder.transform(declarations, everything).iloc[positions]
    pd.testing.assert_frame_equal(taken, whole, check_exact=True)
    assert taken["importer_declarations"].gt(0).any()


@pytest.mark.parametrize("texts", [TRICKY_TEXTS, ["cotton trousers"], TRICKY_TEXTS[::-1] * 3])
def test_one_pass_hashing_equals_scikit_learns_vectorizers(texts) -> None:
    def vectorizer(analyzer: str, ngrams: tuple[int, int]) -> HashingVectorizer:
        return HashingVectorizer(
            analyzer=analyzer,
            ngram_range=ngrams,
            n_features=HASH_FEATURES,
            alternate_sign=False,
            norm=None,
            binary=True,
            token_pattern=TOKEN_PATTERN,
        )

    expected_descriptions = sp.hstack(
        [
            vectorizer("word", (1, 2)).transform(texts),
            vectorizer("char_wb", (3, 5)).transform(texts),
        ],
        format="csr",
    )
    expected_words = vectorizer("word", (1, 1)).transform(texts)
    descriptions, words = hashed_descriptions(texts)
    for got, expected in (
        (descriptions.matrix(), expected_descriptions),
        (words.matrix(), expected_words),
        (description_matrix(texts), expected_descriptions),
        (word_matrix(texts), expected_words),
    ):
        assert got.shape == expected.shape
        assert np.array_equal(got.indptr, expected.indptr)
        assert np.array_equal(got.indices, expected.indices)
        assert np.array_equal(got.data, expected.data)
    rows = [len(texts) - 1, 0, 0]
    taken = descriptions.take(rows).matrix()
    assert (taken != expected_descriptions[rows]).nnz == 0


def test_text_scores_of_several_models_equal_each_dense_product() -> None:
    rng = np.random.default_rng(4)
    descriptions, _ = hashed_descriptions(TRICKY_TEXTS)
    matrix = descriptions.matrix()
    used = np.unique(matrix.indices)
    models = []
    for size in (0, 5, len(used)):
        indices = np.sort(rng.choice(used, size, replace=False)) if size else np.array([], int)
        models.append(TextModel(indices, rng.normal(0, 3, size), float(rng.normal())))
    scores = text_scores(descriptions, models)
    for position, model in enumerate(models):
        dense = np.zeros(2 * HASH_FEATURES)
        dense[model.indices] = model.values
        expected = np.asarray(matrix @ dense).ravel() + model.intercept
        assert scores[:, position].tolist() == expected.tolist()  # bit for bit
    assert scores[:, 0].tolist() == [models[0].intercept] * len(TRICKY_TEXTS)


def test_chapter_fit_equals_the_dense_formula() -> None:
    rng = np.random.default_rng(8)
    texts = ["steel pins", "spare parts and samples", "cotton trousers", "quantum", ""]
    words = word_matrix(texts)
    word_index = np.unique(words.indices)
    table = pd.DataFrame(
        {
            "word_index": np.repeat(word_index, 2),
            "chapter": pd.Series(["62", "73"] * len(word_index), dtype="str"),
            "rows": rng.integers(1, 9, 2 * len(word_index)).astype(np.float64),
        }
    ).iloc[:-3]  # the last word is known in no chapter
    chapter_rows = {"62": 30.0, "73": 12.0, "93": 3.0}
    association = ChapterAssociation(table, chapter_rows, smoothing=1.5)
    chapters = np.array(["62", "73", "93", None, "62"], dtype=object)
    got = chapter_fit(hashed_descriptions(texts)[1], chapters, association)

    word_rows = np.zeros(HASH_FEATURES)
    np.add.at(word_rows, table["word_index"].to_numpy(), table["rows"].to_numpy())
    known = (word_rows > 0).astype(np.float64)
    total = sum(chapter_rows.values())
    # each word's information: sum over its chapters of p log(p / share), clipped at 0
    information = np.zeros(HASH_FEATURES)
    for entry in table.itertuples():
        share = chapter_rows[entry.chapter] / total
        p = (entry.rows + 1.5 * share) / (word_rows[entry.word_index] + 1.5)
        information[entry.word_index] += p * np.log(p / share)
    weight = known * (np.maximum(information, 0.0) + BASE_WEIGHT)
    expected = np.full(len(texts), np.nan)
    for row, chapter in enumerate(chapters):
        in_chapter = table[table["chapter"] == chapter]
        together = np.zeros(HASH_FEATURES)
        together[in_chapter["word_index"].to_numpy()] = in_chapter["rows"].to_numpy()
        share = chapter_rows.get(chapter, 0.0) / total
        probability = np.where(known > 0, (together + 1.5 * share) / (word_rows + 1.5), 0.0)
        weights = (words[row] @ weight)[0]
        if chapter is not None and weights > 0:
            expected[row] = (words[row] @ (probability * weight))[0] / weights
    assert np.array_equal(got, expected, equal_nan=True)
    assert np.isnan(got[3]) and np.isnan(got[4])  # no chapter; no words at all
    assert not np.isnan(got[:3]).any()


def test_string_normalisation_equals_the_pandas_string_methods() -> None:
    values = pd.Series(
        [*TRICKY_TEXTS, UNICODE_WHITESPACE, " ACME\u2003Ltd ", None, "ß\u0130"], dtype="str"
    )
    raw = values.to_numpy(dtype=object, na_value=None)
    ids = values.str.strip().str.replace(r"\s+", " ", regex=True).str.casefold()
    ids = ids.where(ids.str.len() > 0)
    assert normalised_ids(raw).tolist() == ids.to_numpy(dtype=object, na_value=None).tolist()
    # the translation tables, written as a loop over characters
    letters = {**SERBIAN_CYRILLIC, **MACEDONIAN_CYRILLIC, **OTHER_CYRILLIC, **LATIN_LETTERS}

    def unmarked(text: str) -> str:
        decomposed = unicodedata.normalize("NFD", text)
        return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")

    descriptions = (
        values.fillna("")
        .str.normalize("NFKC")
        .str.casefold()
        .map(lambda text: "".join(letters.get(c, c) for c in text))
        .map(unmarked)
        .str.normalize("NFKC")
        .str.casefold()
        .str.replace(r"\s+", " ", regex=True)
        .str.strip()
    )
    assert normalised_descriptions(raw).tolist() == descriptions.tolist()
    assert descriptions.iloc[len(TRICKY_TEXTS) - 2].startswith("delovi za pistolj, gjubre kje")
    texts = descriptions.tolist()
    curated = load_curated_words()
    whole, stems = curated.words_and_stems()
    words = pd.Series(texts, dtype="str").str.findall(TOKEN_PATTERN).explode()
    matched = words.isin(whole) | words.fillna("").str.startswith(stems)
    counts = matched.groupby(level=0).sum().to_numpy(dtype=np.float64)
    assert curated.counts(texts).tolist() == counts.tolist()
    assert curated.counts(texts)[1] == 2.0  # "spare", "parts"


def test_calendar_from_nanoseconds_matches_datetime_fields_before_and_after_1970() -> None:
    lodged = pd.Series(
        pd.to_datetime(
            ["1969-12-31T23:59:59.999999Z", "1970-01-01T00:00Z", "2024-02-29T21:59:59Z", None],
            utc=True,
            format="ISO8601",
        )
    ).astype("datetime64[us, UTC]")
    features = calendar_features(DeclarationColumns(pd.DataFrame({"lodged_at": lodged})))
    assert features["lodged_hour"].tolist()[:3] == [23.0, 0.0, 21.0]
    assert features["lodged_weekday"].tolist()[:3] == [2.0, 3.0, 3.0]  # Wed, Thu, Thu
    assert features["lodged_at_night"].tolist()[:3] == [1.0, 1.0, 0.0]
    assert np.isnan(features["lodged_hour"][3]) and np.isnan(features["lodged_at_night"][3])
    assert features["lodged_hour"].tolist()[:3] == lodged.dt.hour.tolist()[:3]
