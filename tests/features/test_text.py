"""Goods-description features: learned scores, cross-fitting, weapon words, chapter fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from features.builder import FeatureBuilder
from features.curated_words import load_curated_words
from features.text import (
    FULL_MODEL,
    PROFILE_OFFSET,
    ChapterAssociation,
    CodeProfiles,
    chapter_fit,
    description_matrix,
    description_profiles,
    hashed_descriptions,
    normalised_descriptions,
    word_matrix,
)
from tests.features.builder_frames import declarations_frame, labels_frame

THREATS = ("weapons", "migrants", "revenue")


@pytest.fixture(scope="module")
def described() -> tuple[FeatureBuilder, pd.DataFrame, pd.DataFrame]:
    """60 inspected rows: "pistol slide springs" always finds weapons, the rest never."""
    texts = ["pistol slide springs", "cotton trousers", "brake discs", "ceramic tiles"]
    rows, outcomes = [], []
    for i in range(60):
        text = texts[i % 4]
        hs_code = (
            "930590"
            if text == "pistol slide springs" and i % 8 == 0
            else (
                "620342"
                if text == "cotton trousers"
                else "870830"
                if text != "ceramic tiles"
                else "690721"
            )
        )
        rows.append(
            {
                "declaration_id": f"D{i}",
                "lodged_at": f"2024-01-{1 + i % 28:02d}T08:00Z",
                "goods_description": text,
                "hs_code": hs_code,
            }
        )
        outcomes.append(
            {"known_at": "2024-03-01T00:00Z", "weapons": int(text.startswith("pistol"))}
        )
    declarations = declarations_frame(rows)
    labels = labels_frame(outcomes)
    builder = FeatureBuilder(THREATS, text_folds=3, chapter_word_min_rows=3).fit(
        declarations, labels
    )
    return builder, declarations, labels


def test_text_score_separates_the_descriptions_that_found_weapons(described) -> None:
    builder, _, _ = described
    queries = declarations_frame(
        [
            {
                "declaration_id": "Q1",
                "lodged_at": "2024-04-01T00:00Z",
                "goods_description": "Pistol  SLIDE springs",
            },
            {
                "declaration_id": "Q2",
                "lodged_at": "2024-04-01T00:00Z",
                "goods_description": "cotton trousers",
            },
        ]
    )
    scores = builder.transform(queries)["text_score_weapons"]
    assert scores.iloc[0] > 0 > scores.iloc[1]


def test_fit_rows_get_out_of_fold_scores_and_new_rows_the_full_model(described) -> None:
    builder, declarations, labels = described
    offline = builder.transform_point_in_time(declarations, labels)["text_score_weapons"]
    served = builder.transform(declarations)["text_score_weapons"]
    folds = builder.text_folds_.set_index("declaration_id")["fold"]
    assert sorted(folds.unique()) == [0, 1, 2]
    coefficients = builder.text_coefficients_
    for position in (0, 1, 5):
        fold = int(folds[declarations["declaration_id"].iloc[position]])
        model = coefficients[(coefficients["threat"] == "weapons") & (coefficients["fold"] == fold)]
        # the fit's own columns: n-grams, then the description's HS-code profile
        profiles = CodeProfiles(builder.code_words_)
        dense = np.zeros(PROFILE_OFFSET + len(profiles.codes))
        dense[model["index"].to_numpy()] = model["value"].to_numpy()
        text = normalised_descriptions(
            declarations["goods_description"].iloc[[position]].to_numpy()
        )
        association = ChapterAssociation(builder.chapter_words_, builder.chapter_rows_, 1.0)
        profile = description_profiles(hashed_descriptions(text)[1], association, profiles)
        assert profile.nnz > 0  # the profile takes part in the score
        matrix_row = sp.hstack([description_matrix(text), profile], format="csr")
        expected = (matrix_row @ dense)[0] + builder.text_intercepts_["weapons"][fold]
        assert offline.iloc[position] == pytest.approx(expected, rel=1e-12, abs=1e-12)
        assert offline.iloc[position] != served.iloc[position]  # not the in-sample score
    renamed = declarations.assign(declaration_id="NEW" + declarations["declaration_id"])
    pd.testing.assert_series_equal(
        builder.transform_point_in_time(renamed, labels)["text_score_weapons"], served
    )


def test_coefficients_are_stored_sparse_per_fold(described) -> None:
    builder, _, _ = described
    table = builder.text_coefficients_
    assert set(table["fold"]) == {FULL_MODEL, 0, 1, 2}
    assert list(table.columns) == ["threat", "fold", "index", "value"]
    assert (table["value"] != 0).all()
    # migrants were never found: no coefficients, a strongly negative constant score
    assert table[table["threat"] == "migrants"].empty
    assert builder.text_intercepts_["migrants"][FULL_MODEL] == pytest.approx(np.log(0.5 / 60.5))


def test_weapon_words_count_only_curated_words() -> None:
    texts = normalised_descriptions(
        np.array(["steel pins", "Spare PARTS and samples", "", "pinball", None], dtype=object)
    )
    assert load_curated_words().counts(texts).tolist() == [1.0, 3.0, 0.0, 0.0, 0.0]


def test_weapon_words_in_the_regions_languages_and_scripts() -> None:
    texts = normalised_descriptions(
        np.array(
            [
                "delovi za pištolj",  # Serbian Latin: parts (spare parts), pistol
                "ДЕЛОВИ ЗА ПИШТОЉ",  # the same in Serbian Cyrillic
                "rezervni dijelovi i uzorci",  # Bosnian/Croatian: spare, parts, samples
                "резервни делови, муниција",  # Macedonian: spare, parts, ammunition
                "pjesë këmbimi për pistoletë",  # Albanian: parts, spare, pistol
                "pjese kembimi per pistolete",  # the same typed without ë
                "pištolja",  # an inflected form through the stem "pištolj*"
                "pistachio nuts",  # no stem of a curated word ("pistol*" needs "pistol")
            ],
            dtype=object,
        )
    )
    assert load_curated_words().counts(texts).tolist() == [2, 2, 3, 3, 3, 3, 1, 0]


def test_weapon_words_outside_chapter_93_and_chapter_fit(described) -> None:
    builder, _, _ = described
    queries = declarations_frame(
        [
            {
                "declaration_id": "Q1",
                "lodged_at": "2024-04-01T00:00Z",
                "goods_description": "slide springs",
                "hs_code": "731815",
            },
            {
                "declaration_id": "Q2",
                "lodged_at": "2024-04-01T00:00Z",
                "goods_description": "slide springs",
                "hs_code": "930590",
            },
            {
                "declaration_id": "Q3",
                "lodged_at": "2024-04-01T00:00Z",
                "goods_description": "cotton trousers",
                "hs_code": "620342",
            },
            {
                "declaration_id": "Q4",
                "lodged_at": "2024-04-01T00:00Z",
                "goods_description": "cotton trousers",
                "hs_code": "870830",
            },
            {
                "declaration_id": "Q5",
                "lodged_at": "2024-04-01T00:00Z",
                "goods_description": "quantum flux",
                "hs_code": "620342",
            },
        ]
    )
    features = builder.transform(queries)
    assert features["description_weapon_words"].tolist() == [2.0, 2.0, 0.0, 0.0, 0.0]
    assert features["description_weapon_words_outside_ch93"].tolist() == [2.0, 0.0, 0.0, 0.0, 0.0]
    fit = features["description_chapter_fit"]
    # "cotton" and "trousers": 15 rows each, all chapter 62, of 60 rows (share 1/4), smoothing 1
    assert fit.iloc[2] == pytest.approx((15 + 0.25) / 16, abs=1e-12)
    # chapter 87: 15 brake-disc rows and the 7 pistol rows not coded 93 (i % 8 != 0)
    assert fit.iloc[3] == pytest.approx((0 + 1 * (22 / 60)) / 16, abs=1e-12)
    assert np.isnan(fit.iloc[4])  # no word known


def test_chapter_fit_reads_the_goods_words_not_the_words_every_chapter_uses() -> None:
    """A word spread over the chapters as all goods are ("za", "for") tells nothing about
    the chapter: adding it to a description leaves the fit where its goods word puts it, in
    any language, where a plain mean would pull the fit toward the chapter's share."""
    texts = ["pistol", "za", "pistol za"]
    (pistol, za) = (int(word_matrix([word]).indices[0]) for word in ("pistol", "za"))
    chapter_rows = {"84": 600.0, "93": 300.0, "95": 100.0}
    table = pd.DataFrame(
        {
            "word_index": [pistol, pistol, za, za, za],
            "chapter": pd.Series(["84", "93", "84", "93", "95"], dtype="str"),
            "rows": [2.0, 40.0, 60.0, 30.0, 10.0],  # "za" in the chapters' own proportions
        }
    ).sort_values("word_index", ignore_index=True)
    association = ChapterAssociation(table, chapter_rows, smoothing=1.0)
    assert association.information[za] == pytest.approx(0.0, abs=1e-12)
    assert association.information[pistol] > 0.5
    words = hashed_descriptions(texts)[1]
    fit = chapter_fit(words, np.array(["84", "84", "84"], dtype=object), association)
    only_pistol = (2 + 0.6) / (42 + 1)
    assert fit[0] == pytest.approx(only_pistol, abs=1e-12)
    assert fit[1] == pytest.approx((60 + 0.6) / (100 + 1), abs=1e-12)  # plain mean of one word
    assert fit[2] == pytest.approx(only_pistol, abs=1e-6)  # "za" weighs (almost) nothing
    assert fit[2] < (fit[0] + fit[1]) / 2 - 0.2  # the unweighted mean it replaced


def _wordings_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Labelled rows only in English ("slide springs" under HS 930510 always found weapons,
    "cotton trousers" under 620342 never), unlabelled rows in Macedonian and Albanian under
    the same codes: "федери на лизгач" (slide springs) and "pantolona pambuku" (cotton
    trousers), which share no word and no character n-gram with the English and are not in
    the shipped glossary."""
    rows, outcomes = [], []
    wordings = [
        ("slide springs", "930510", {"known_at": "2024-03-01T00:00Z", "weapons": 1}),
        ("cotton trousers", "620342", {"known_at": "2024-03-01T00:00Z", "weapons": 0}),
        ("федери на лизгач", "930510", None),
        ("pantolona pambuku", "620342", None),
    ]
    for i in range(80):
        text, hs_code, outcome = wordings[i % 4]
        rows.append(
            {
                "declaration_id": f"D{i}",
                "lodged_at": f"2024-01-{1 + i % 28:02d}T08:00Z",
                "goods_description": text,
                "hs_code": hs_code,
            }
        )
        outcomes.append(outcome)
    return declarations_frame(rows), labels_frame(outcomes)


@pytest.mark.parametrize("profile_weight", [10.0, 0.0])
def test_a_wording_never_labelled_shares_the_evidence_of_its_goods_through_the_hs_code(
    profile_weight: float,
) -> None:
    """The unlabelled local rows were declared under the codes of the labelled English ones,
    so with the HS-code profile the local "slide springs" reads as weapons-like and the local
    "cotton trousers" does not; with the profile off (the n-gram model alone) both are text
    the labels never saw and score alike."""
    declarations, labels = _wordings_frames()
    builder = FeatureBuilder(
        THREATS, text_folds=2, chapter_word_min_rows=3, text_profile_weight=profile_weight
    ).fit(declarations, labels)
    queries = declarations_frame(
        [
            {"declaration_id": f"Q{i}", "lodged_at": "2024-04-01T00:00Z", "goods_description": t}
            for i, t in enumerate(["Federi na lizgac", "PANTOLONA  pambuku"])
        ]
    )
    springs, trousers = builder.transform(queries)["text_score_weapons"]
    if profile_weight:
        assert springs > 0 > trousers
        assert springs - trousers > 1.0
    else:
        assert springs == trousers


def test_the_code_profile_reads_the_goods_words_and_is_learned_without_labels() -> None:
    declarations, labels = _wordings_frames()
    unlabelled = labels_frame([None] * len(declarations))
    builder = FeatureBuilder(THREATS, text_folds=2, chapter_word_min_rows=3)
    learned = builder.fit(declarations, unlabelled).code_words_
    # the counts read HS codes, never outcomes: the same with or without labels
    pd.testing.assert_frame_equal(learned, builder.fit(declarations, labels).code_words_)
    profiles = CodeProfiles(learned)
    assert profiles.codes == ["620342", "930510"]
    association = ChapterAssociation(builder.chapter_words_, builder.chapter_rows_, 1.0)
    words = hashed_descriptions(["federi na lizgac", "slide springs za", "quantum flux"])[1]
    profile = description_profiles(words, association, profiles).toarray()
    np.testing.assert_allclose(profile[0], [0.0, 1.0])
    # "za" was never declared: it takes no part; no known word gives an empty profile
    np.testing.assert_allclose(profile[1], [0.0, 1.0])
    np.testing.assert_array_equal(profile[2], [0.0, 0.0])
