"""The goods glossary: local goods words read as their English terms, in any script."""

from __future__ import annotations

import json
import unicodedata
from importlib.resources import files

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from features.builder import FeatureBuilder
from features.builder_state import STATE_FILE
from features.curated_words import (
    SHIPPED_GLOSSARIES,
    CuratedWords,
    load_curated_words,
    read_document,
)
from features.glossary import Glossary, read_glossary
from tests.features.builder_frames import builder_fitted_on_descriptions, description_features

THREATS = ("weapons", "migrants", "revenue")
TEXT_FEATURES = [
    *(f"text_score_{threat}" for threat in THREATS),
    "description_weapon_words",
    "description_weapon_words_outside_ch93",
    "description_chapter_fit",
]
# Serbian Latin (Gaj) to Serbian Cyrillic, digraphs first: how a writer would type it.
TO_CYRILLIC = {
    "dž": "џ", "lj": "љ", "nj": "њ", "a": "а", "b": "б", "c": "ц", "č": "ч", "ć": "ћ",
    "d": "д", "đ": "ђ", "e": "е", "f": "ф", "g": "г", "h": "х", "i": "и", "j": "ј", "k": "к",
    "l": "л", "m": "м", "n": "н", "o": "о", "p": "п", "r": "р", "s": "с", "š": "ш", "t": "т",
    "u": "у", "v": "в", "z": "з", "ž": "ж",
}  # fmt: skip
# (Serbian/Bosnian/Croatian Latin with diacritics, its English terms): glossary entries.
PHRASES = (
    ("rezervni dijelovi", "spare parts"),
    ("pištolj", "pistol"),
    ("čelični vijci", "steel screws"),
    ("smrznuta riba", "frozen fish"),
    ("uzorci", "samples"),
    ("mašinski delovi", "machine parts"),
    ("odjeća", "clothing"),
    ("kožne cipele", "leather shoes"),
    ("municija", "ammunition"),
    ("keramičke pločice", "tiles"),
)


def cyrillic(text: str) -> str:
    out, position = [], 0
    while position < len(text):
        pair = text[position : position + 2]
        if pair in TO_CYRILLIC:
            out.append(TO_CYRILLIC[pair])
            position += 2
        else:
            out.append(TO_CYRILLIC.get(text[position], text[position]))
            position += 1
    return "".join(out)


def without_diacritics(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "dj"))
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


@pytest.fixture(scope="module")
def english_builder() -> FeatureBuilder:
    """A builder fitted on English descriptions only: it knows the local words only through
    the glossary."""
    texts = ["spare parts for pistol", "cotton trousers", "frozen fish", "tiles", "steel screws"]
    codes = ["848790", "620342", "030389", "690721", "731815"]
    return builder_fitted_on_descriptions(texts, codes, 100, THREATS)


_features = description_features


@settings(max_examples=40, deadline=None)
@given(
    phrases=st.lists(st.sampled_from(PHRASES), min_size=1, max_size=3),
    case=st.sampled_from([str.lower, str.upper, str.capitalize]),
)
def test_one_description_in_either_script_or_in_its_english_terms_gets_one_feature_row(
    english_builder, phrases, case
) -> None:
    latin = " ".join(local for local, _ in phrases)
    english = " ".join(term for _, term in phrases)
    written = [case(latin), case(without_diacritics(latin)), case(cyrillic(latin)), english]
    features = _features(english_builder, written)[TEXT_FEATURES]
    for row in range(1, len(written)):
        assert np.array_equal(
            features.iloc[row].to_numpy(), features.iloc[0].to_numpy(), equal_nan=True
        ), written


def test_the_glossary_carries_the_english_signal_to_local_words(english_builder) -> None:
    features = _features(
        english_builder, ["rezervni delovi za pištolj", "резервни делови за пиштол", "pamuk"]
    )
    # trained on English only, the model still reads the Serbian and Macedonian words
    assert features["text_score_weapons"].iloc[0] > features["text_score_weapons"].iloc[2]
    assert features["text_score_weapons"].iloc[1] > features["text_score_weapons"].iloc[2]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rezervni delovi", "spare parts"),  # the phrase wins over its words
        ("delovi", "parts"),
        ("pistolja i pistolju", "pistol i pistol"),  # a stem matches inflected words
        ("rezervni   delovi", "spare parts"),  # any spaces between a phrase's words
        ("pistoljdelovi", "pistol"),  # a stem takes the rest of the word, nothing more
        ("podelovi", "podelovi"),  # only whole words
    ],
)
def test_entries_match_whole_words_longest_first(text, expected) -> None:
    glossary = Glossary({"rezervni delovi": "spare parts", "delovi": "parts", "pistolj*": "pistol"})
    assert glossary.canonical(text) == expected


def test_a_term_is_never_rewritten_again() -> None:
    glossary = Glossary({"delovi": "parts", "parts": "pieces"})
    assert glossary.canonical("delovi parts") == "parts pieces"


def test_shipped_glossaries_agree_and_never_hide_a_curated_word() -> None:
    curated = load_curated_words()
    seen: dict[str, tuple[str, str]] = {}
    for name in SHIPPED_GLOSSARIES:
        document = yaml.safe_load(files("features.wordlists").joinpath(name).read_text("utf-8"))
        for entry, term in read_glossary(name, document["glossary"]).items():
            assert seen.get(entry, (name, term))[1] == term, (entry, seen[entry], name, term)
            seen[entry] = (name, term)
    assert set(curated.glossary.terms) == set(seen)
    lost = []
    for entry in curated.glossary.terms:
        # a stem entry probed with a word it matches
        text = " ".join(
            w.removesuffix("*") + ("a" if w.endswith("*") else "") for w in entry.split()
        )
        canonical = curated.glossary.canonical(text)
        assert canonical == curated.glossary.terms[entry], (entry, canonical)
        if curated.counts([canonical])[0] < curated.counts([text])[0]:
            lost.append(entry)
    assert not lost, f"glossary entries whose English term drops a curated word: {lost}"


def test_a_deployment_extends_and_overrides_the_glossary(tmp_path) -> None:
    extra = tmp_path / "glossary_local.yaml"
    extra.write_text(
        "language: sr-Cyrl\nsource: A deployment's own terms, for a test.\n"
        "glossary:\n  motor oil: [моторно уље]\n  screws: [шрафови, 'ВИЈК*']\n  soap bars: [сапун]\n",
        encoding="utf-8",
    )
    shipped = load_curated_words()
    extended = load_curated_words([extra])
    assert shipped.glossary.canonical("motorno ulje") != "motor oil"
    assert extended.glossary.canonical("motorno ulje") == "motor oil"
    assert extended.glossary.canonical("vijkovima") == "screws"
    assert (shipped.glossary.canonical("sapun"), extended.glossary.canonical("sapun")) == (
        "soap",
        "soap bars",
    )
    assert extended.sources[-1] == str(extra)
    assert set(shipped.glossary.terms) < set(extended.glossary.terms)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("language: en\nsource: us\nglossary: [a]\n", "must map each English term"),
        ("language: en\nsource: us\nglossary: {parts: delovi}\n", "needs a list"),
        ("language: en\nglossary: {parts: [delovi]}\n", "say its 'source'"),
        ("language: en\nsource: us\nglossary: {parts: ['del*']}\n", "at least 4 letters"),
        ("language: en\nsource: us\nglossary: {'part*': [delovi]}\n", "must be words"),
        ("language: en\nsource: us\nglossary: {parts: ['-']}\n", "must be words"),
    ],
)
def test_a_malformed_glossary_is_refused_with_its_fix(text, message) -> None:
    with pytest.raises(ValueError, match=r"word list test\.yaml") as error:
        read_document("test.yaml", text)
    assert message in str(error.value)


def test_the_glossary_travels_with_the_model_and_old_states_read_without_one(
    english_builder, tmp_path
) -> None:
    english_builder.save(tmp_path)
    loaded = FeatureBuilder.load(tmp_path)
    assert loaded.curated_words_.glossary == english_builder.curated_words_.glossary
    probe = ["rezervni delovi za pištolj", "smrznuta riba"]
    pd.testing.assert_frame_equal(_features(loaded, probe), _features(english_builder, probe))
    # a state saved before glossaries existed reads as a model trained without one
    state = json.loads((tmp_path / STATE_FILE).read_text(encoding="utf-8"))
    del state["curated_words"]["glossary"]
    assert CuratedWords.from_state(state["curated_words"]).glossary.terms == {}
