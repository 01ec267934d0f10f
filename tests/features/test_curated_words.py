"""Curated word lists: shipped per language as data, extended by a deployment, saved with the model."""

from __future__ import annotations

import json
from importlib.resources import files

import numpy as np
import pytest
import yaml

from features.builder import FeatureBuilder
from features.builder_state import STATE_FILE
from features.curated_words import (
    CATEGORIES,
    SHIPPED_FILES,
    SHIPPED_GLOSSARIES,
    CuratedWords,
    load_curated_words,
    read_document,
    read_word_list,
)
from features.normalise import normalised_text
from tests.features.builder_frames import declarations_frame, labels_frame

THREATS = ("weapons", "migrants", "revenue")
EXTRA_LIST = """\
language: sr-Cyrl
source: Test list written in Cyrillic with a stem, as a deployment would add one.
categories:
  conversion_kits: [Ударач, "ЧАХУР*"]
  samples: [мустра]
"""


@pytest.mark.parametrize("name", [*SHIPPED_FILES, *SHIPPED_GLOSSARIES])
def test_each_shipped_file_names_its_source_and_covers_every_category_or_a_glossary(
    name,
) -> None:
    text = files("features.wordlists").joinpath(name).read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    assert "compiled by the shiprisk developers" in document["source"].casefold()
    assert "reviewed by the region's officers" in document["source"]
    categories, glossary = read_document(name, text)
    if name in SHIPPED_GLOSSARIES:
        # a glossary stored normalised, as descriptions are (stems keep their "*")
        assert len(glossary) > 100 and not categories
        assert all(
            normalised_text(entry.replace("*", "")) == entry.replace("*", "") for entry in glossary
        )
        return
    assert set(document["categories"]) == set(CATEGORIES)
    assert all(categories[category] for category in CATEGORIES), name


def test_entries_are_stored_normalised_whatever_their_spelling() -> None:
    curated = load_curated_words()
    entries = [entry for words in curated.categories.values() for entry in words]
    assert all(normalised_text(entry) == entry and entry.isascii() for entry in entries)
    assert "pistolj*" in curated.categories["gas_alarm_pistols"]  # written "pištolj*"
    assert "municija" in curated.categories["ammunition"]  # written "муниција" (mk)
    shipped = (*SHIPPED_FILES, *SHIPPED_GLOSSARIES)
    assert curated.sources == tuple(f"shipped:{name}" for name in shipped)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- pin\n", "expected a mapping with 'language', 'source' and 'categories'"),
        ("language: en\ncategories: {samples: [sample]}\n", "say its 'source'"),
        ("language: en\nsource: us\ncategories: {samples: sample}\n", "must be a list"),
        ("language: en\nsource: us\ncategories: {Samples: [a1]}\n", "category 'Samples'"),
        ("language: en\nsource: us\ncategories: {kits: [conversion kit]}\n", "one word"),
        ("language: en\nsource: us\ncategories: {kits: ['kit*']}\n", "at least 4"),
        ("language: en\nsource: us\ncategories: {kits: [x]}\n", "at least two letters"),
    ],
)
def test_a_malformed_list_names_the_file_and_the_fix(text, message) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        read_word_list("site/extra.yaml", text)
    assert "word list site/extra.yaml" in str(raised.value)


def test_an_unreadable_extra_list_is_named(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"word list .*missing\.yaml: cannot be read"):
        load_curated_words([tmp_path / "missing.yaml"])


def _fit_and_query(builder: FeatureBuilder) -> np.ndarray:
    declarations = declarations_frame(
        [{"declaration_id": f"D{i}", "lodged_at": f"2024-01-{1 + i:02d}T08:00Z"} for i in range(4)]
    )
    builder.fit(declarations, labels_frame([None] * 4))
    return _weapon_words(builder)


def _weapon_words(builder: FeatureBuilder) -> np.ndarray:
    query = declarations_frame(
        [
            {
                "declaration_id": f"Q{i}",
                "lodged_at": "2024-04-01T00:00Z",
                "goods_description": description,
            }
            for i, description in enumerate(
                ["udarac, cahure i mustra", "УДАРАЧ ЧАХУРЕ", "pamucne pantalone"]
            )
        ]
    )
    return builder.transform(query)["description_weapon_words"].to_numpy()


def test_a_deployments_list_extends_the_shipped_ones_and_travels_with_the_model(
    tmp_path,
) -> None:
    extra = tmp_path / "site_words.yaml"
    extra.write_text(EXTRA_LIST, encoding="utf-8")
    assert _fit_and_query(FeatureBuilder(THREATS)).tolist() == [0.0, 0.0, 0.0]
    builder = FeatureBuilder(THREATS, word_lists=(str(extra),))
    # entries written in Cyrillic match Latin descriptions typed without diacritics too
    assert _fit_and_query(builder).tolist() == [3.0, 2.0, 0.0]
    assert builder.get_params()["word_lists"] == (str(extra),)
    assert builder.curated_words_.sources[-1] == str(extra)

    builder.save(tmp_path / "model")
    extra.unlink()  # serving reads the lists saved with the model, not the file
    state = json.loads((tmp_path / "model" / STATE_FILE).read_text(encoding="utf-8"))
    assert "cahur*" in state["curated_words"]["categories"]["conversion_kits"]
    loaded = FeatureBuilder.load(tmp_path / "model")
    assert loaded.curated_words_ == builder.curated_words_
    assert _weapon_words(loaded).tolist() == [3.0, 2.0, 0.0]


def test_saved_lists_are_read_back_exactly() -> None:
    curated = load_curated_words()
    again = CuratedWords.from_state(json.loads(json.dumps(curated.to_state())))
    assert again == curated
    assert again.words_and_stems() == curated.words_and_stems()
