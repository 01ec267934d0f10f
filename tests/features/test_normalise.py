"""One spelling per description: scripts, case and diacritics give the same text features."""

from __future__ import annotations

import unicodedata

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.builder import FeatureBuilder
from features.normalise import MACEDONIAN_CYRILLIC, SERBIAN_CYRILLIC, normalised_text
from tests.features.builder_frames import builder_fitted_on_descriptions, description_features

THREATS = ("weapons", "migrants", "revenue")
# Gaj's Latin alphabet letter by letter: (Latin with diacritics, Serbian Cyrillic, ASCII fold)
SERBIAN_LETTERS: tuple[tuple[str, str, str], ...] = (
    ("a", "а", "a"),
    ("b", "б", "b"),
    ("c", "ц", "c"),
    ("č", "ч", "c"),
    ("ć", "ћ", "c"),
    ("d", "д", "d"),
    ("dž", "џ", "dz"),
    ("đ", "ђ", "dj"),
    ("e", "е", "e"),
    ("f", "ф", "f"),
    ("g", "г", "g"),
    ("h", "х", "h"),
    ("i", "и", "i"),
    ("j", "ј", "j"),
    ("k", "к", "k"),
    ("l", "л", "l"),
    ("lj", "љ", "lj"),
    ("m", "м", "m"),
    ("n", "н", "n"),
    ("nj", "њ", "nj"),
    ("o", "о", "o"),
    ("p", "п", "p"),
    ("r", "р", "r"),
    ("s", "с", "s"),
    ("š", "ш", "s"),
    ("t", "т", "t"),
    ("u", "у", "u"),
    ("v", "в", "v"),
    ("z", "з", "z"),
    ("ž", "ж", "z"),
)


@pytest.mark.parametrize(("latin", "cyrillic", "ascii"), SERBIAN_LETTERS)
def test_each_serbian_letter_in_either_script_and_case(latin, cyrillic, ascii) -> None:
    for written in (latin, latin.upper(), latin.capitalize(), cyrillic, cyrillic.upper()):
        assert normalised_text(written) == ascii, written


def test_the_transliteration_tables_cover_both_alphabets() -> None:
    assert {cyrillic for _, cyrillic, _ in SERBIAN_LETTERS} == set(SERBIAN_CYRILLIC)
    macedonian = "абвгдѓежзѕијклљмнњопрстќуфхцчџш"  # the 31 letters of the Macedonian alphabet
    assert set(macedonian) <= set(SERBIAN_CYRILLIC) | set(MACEDONIAN_CYRILLIC)
    assert normalised_text("Ѓорѓе ЌЕЌ Ѕвезда џеб") == "gjorgje kjekj dzvezda dzeb"


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("ČOKOLADA ćevapi šećer žito", "cokolada cevapi secer zito"),
        ("Đurđevak", "djurdjevak"),
        ("Ðurðevak", "djurdjevak"),  # eth, often typed for đ
        ("c\u030cokolada", "cokolada"),  # a decomposed č
        ("Ǆep ǈubav ǋegoš", "dzep ljubav njegos"),  # the one-character digraphs
        ("Çelës për derë", "celes per dere"),  # Albanian ç and ë
        ("ﬁlament\u00a03D\tprinter  ", "filament 3d printer"),  # ligature, spaces
        ("STRASSE Straße", "strasse strasse"),
    ],
)
def test_diacritics_digraphs_and_compatibility_forms_fold(written, expected) -> None:
    assert normalised_text(written) == expected


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_normalisation_is_idempotent(text: str) -> None:
    once = normalised_text(text)
    assert normalised_text(once) == once
    assert not any(unicodedata.category(c) == "Mn" for c in once)


@pytest.fixture(scope="module")
def serbian_builder() -> FeatureBuilder:
    """A builder fitted on Serbian Latin descriptions: "delovi za pistolj" found weapons."""
    texts = ["delovi za pistolj", "pamucne pantalone", "kocioni diskovi", "keramicke plocice"]
    codes = ["848790", "620342", "870830", "690721"]
    return builder_fitted_on_descriptions(texts, codes, 80, THREATS)


_features = description_features


def test_the_issues_description_in_either_script_gets_the_same_text_features(
    serbian_builder,
) -> None:
    features = _features(
        serbian_builder,
        ["delovi za pistolj", "delovi za pištolj", "делови за пиштољ", "pamucne pantalone"],
    )
    text = [f"text_score_{threat}" for threat in THREATS] + [
        "description_weapon_words",
        "description_weapon_words_outside_ch93",
        "description_chapter_fit",
    ]
    for row in (1, 2):
        pd.testing.assert_series_equal(
            features[text].iloc[row], features[text].iloc[0], check_names=False, check_exact=True
        )
    # the features carry the signal that must not slip away in Cyrillic
    assert features["text_score_weapons"].iloc[0] > features["text_score_weapons"].iloc[3]
    assert features["description_weapon_words_outside_ch93"].iloc[2] == 2.0  # delovi, pistolj


serbian_words = st.lists(st.sampled_from(SERBIAN_LETTERS), min_size=2, max_size=9)


SUFFIXES = ("delovi za pištolj", "делови за пиштољ", "delovi za pistolj")


@settings(max_examples=40, deadline=None)
@given(
    words=st.lists(serbian_words, min_size=1, max_size=3),
    case=st.sampled_from([str.lower, str.upper, str.capitalize, str.title]),
)
def test_a_description_in_cyrillic_latin_or_ascii_gets_one_feature_row(
    serbian_builder, words, case
) -> None:
    def written(form: int) -> str:
        text = " ".join("".join(letter[form] for letter in word) for word in words)
        return case(f"{text} {SUFFIXES[form]}")

    latin, cyrillic, ascii = written(0), written(1), written(2)
    features = _features(serbian_builder, [latin, cyrillic, ascii])
    assert normalised_text(latin) == normalised_text(cyrillic) == normalised_text(ascii)
    for row in (1, 2):
        assert np.array_equal(
            features.iloc[row].to_numpy(), features.iloc[0].to_numpy(), equal_nan=True
        ), (latin, cyrillic, ascii)
