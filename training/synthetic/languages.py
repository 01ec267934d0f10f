"""Step 7, languages: goods descriptions as they are written at each office.

The earlier steps draw every description in English from the catalogue. `localise` rewrites
a share of them (`local_language_share`) in a language of the office's country, in its
script, with or without diacritics, sometimes followed by the English, as declarants in the
region write them (DOMAIN.md). Languages, shares, scripts and the vocabulary are data, in
`descriptions.yaml`; this module only draws and spells.

The draws come from a generator of their own (spawned from the run's generator, which it
leaves untouched), a fixed number per row: the share changes the descriptions and nothing
else, share 0 gives the English-only tables, and a row written locally at one share is
written the same way at any higher share.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import yaml

ENGLISH = "en"
LOCAL_LANGUAGE_SHARE = 0.6  # default share of descriptions written in a local language
VOCABULARY_FILE = "descriptions.yaml"


@dataclass(frozen=True)
class Language:
    """How one language is written: the script of its vocabulary, the share written in
    Cyrillic per office country, and the share of writers who leave out diacritics."""

    written: str  # "latin" or "cyrillic"
    cyrillic: Mapping[str, float]
    drop_diacritics: float


@dataclass(frozen=True)
class Vocabulary:
    """`descriptions.yaml` read: languages per office country, how each language is written,
    the letter tables, and each English description's local variants per language."""

    offices: Mapping[str, tuple[tuple[str, float], ...]]
    languages: Mapping[str, Language]
    bilingual_share: float
    to_cyrillic: Mapping[str, str]
    to_latin: Mapping[str, str]
    without_diacritics: Mapping[int, str]  # a str.translate table
    variants: Mapping[str, Mapping[str, tuple[str, ...]]]  # English -> language -> variants


@cache
def vocabulary() -> Vocabulary:
    """The shipped vocabulary (read once), checked: every group names every language, and an
    English description belongs to one group only."""
    text = resources.files("training.synthetic").joinpath(VOCABULARY_FILE).read_text("utf-8")
    return _vocabulary(yaml.safe_load(text))


def _vocabulary(data: dict[str, Any]) -> Vocabulary:
    languages = {
        code: Language(
            written=spec["written"],
            cyrillic=dict(spec.get("cyrillic", {})),
            drop_diacritics=float(spec["drop_diacritics"]),
        )
        for code, spec in data["languages"].items()
    }
    variants: dict[str, dict[str, tuple[str, ...]]] = {}
    for group in data["texts"]:
        local: dict[str, tuple[str, ...]] = {}
        for key, texts in group.items():
            if key == ENGLISH:
                continue
            for code in key.split("/"):
                if code in local or code not in languages:
                    raise ValueError(
                        f"{VOCABULARY_FILE}: {group[ENGLISH]} names {code!r} twice or unknown"
                    )
                local[code] = tuple(texts)
        if set(local) != set(languages):
            missing = sorted(set(languages) - set(local))
            raise ValueError(f"{VOCABULARY_FILE}: {group[ENGLISH]} has no variants for {missing}")
        for english in group[ENGLISH]:
            if english in variants:
                raise ValueError(f"{VOCABULARY_FILE}: {english!r} is in two groups")
            variants[english] = local
    scripts = data["scripts"]
    return Vocabulary(
        offices={
            country: tuple((code, float(share)) for code, share in shares.items())
            for country, shares in data["offices"].items()
        },
        languages=languages,
        bilingual_share=float(data["bilingual_share"]),
        to_cyrillic=scripts["serbian_latin_to_cyrillic"],
        to_latin=scripts["macedonian_cyrillic_to_latin"],
        without_diacritics={ord(k): v for k, v in scripts["without_diacritics"].items()},
        variants=variants,
    )


@dataclass(frozen=True)
class WrittenDescriptions:
    """Each row's description as written, its language (`ENGLISH` or a local code) and
    whether it is in Cyrillic."""

    text: np.ndarray
    language: np.ndarray
    cyrillic: np.ndarray


def write_descriptions(
    rng: np.random.Generator,
    english: np.ndarray,
    office_country: np.ndarray,
    local_language_share: float,
) -> WrittenDescriptions:
    """Rewrite a `local_language_share` of the English descriptions in a language of each
    row's office country; rows of a country without languages, or without a description,
    stay as they are."""
    if not 0.0 <= local_language_share <= 1.0:
        raise ValueError(f"local_language_share must be within [0, 1], got {local_language_share}")
    words = vocabulary()
    n = len(english)
    # A fixed number of draws per row, whatever the share (see the module docstring).
    local_draw, language_draw, variant_draw, script_draw, diacritics_draw, bilingual_draw = (
        rng.random((6, n))
    )
    language = np.full(n, ENGLISH, dtype=object)
    for country, shares in words.offices.items():
        rows = np.flatnonzero(office_country == country)
        codes = np.array([code for code, _ in shares], dtype=object)
        weights = np.cumsum([share for _, share in shares])
        pick = np.searchsorted(weights / weights[-1], language_draw[rows], side="right")
        language[rows] = codes[np.minimum(pick, len(codes) - 1)]
    local = (local_draw < local_language_share) & (language != ENGLISH) & pd.notna(english)
    language[~local] = ENGLISH
    cyrillic = np.zeros(n, dtype=bool)
    drop = np.zeros(n, dtype=bool)
    for code, spec in words.languages.items():
        rows = np.flatnonzero(language == code)
        threshold = np.array(
            [spec.cyrillic.get(str(country), 0.0) for country in office_country[rows]]
        )
        cyrillic[rows] = script_draw[rows] < threshold
        drop[rows] = ~cyrillic[rows] & (diacritics_draw[rows] < spec.drop_diacritics)
    bilingual = local & (bilingual_draw < words.bilingual_share)

    text = english.copy()
    rows = np.flatnonzero(local)
    if len(rows) == 0:
        return WrittenDescriptions(text=text, language=language, cyrillic=cyrillic)
    pair_codes, pairs = pd.factorize(pd.MultiIndex.from_arrays([english[rows], language[rows]]))
    counts = np.array([len(_variants(words, str(e), str(code))) for e, code in pairs])
    variant = (variant_draw[rows] * counts[pair_codes]).astype(np.int64)
    keys = pd.MultiIndex.from_arrays(
        [english[rows], language[rows], variant, cyrillic[rows], drop[rows], bilingual[rows]]
    )
    # Few distinct spellings: spell each once.
    codes, distinct = pd.factorize(keys)
    spelled = np.array([spell(words, *key) for key in distinct], dtype=object)
    text[rows] = spelled[codes]
    return WrittenDescriptions(text=text, language=language, cyrillic=cyrillic)


def _variants(words: Vocabulary, english: str, language: str) -> tuple[str, ...]:
    try:
        return words.variants[english][language]
    except KeyError:
        raise ValueError(
            f"{VOCABULARY_FILE} has no {language!r} variants for the description {english!r}: "
            "add it to a group under texts"
        ) from None


def spell(
    words: Vocabulary,
    english: str,
    language: str,
    variant: int,
    cyrillic: bool,
    drop_diacritics: bool,
    bilingual: bool,
) -> str:
    """One local spelling of an English description: the `variant`-th local text, in
    Cyrillic or Latin, with or without diacritics, followed by the English if `bilingual`."""
    text = _variants(words, english, language)[variant]
    written = words.languages[language].written
    if cyrillic and written == "latin":
        text = transliterate(text, words.to_cyrillic)
    elif not cyrillic and written == "cyrillic":
        text = transliterate(text, words.to_latin)
    if drop_diacritics:
        text = text.translate(words.without_diacritics)
    return f"{text} / {english}" if bilingual else text


def transliterate(text: str, letters: Mapping[str, str]) -> str:
    """`text` letter by letter through `letters` (longest match first, "lj" before "l");
    words with a digit or a capital (3D, PLA, TV) keep their script, as writers keep them."""
    longest = max(len(key) for key in letters)
    words = []
    for word in text.split(" "):
        if any(char.isdigit() or char.isupper() for char in word):
            words.append(word)
            continue
        out, position = [], 0
        while position < len(word):
            for size in range(longest, 0, -1):
                piece = word[position : position + size]
                if piece in letters:
                    out.append(letters[piece])
                    position += size
                    break
            else:
                out.append(word[position])
                position += 1
        words.append("".join(out))
    return " ".join(words)
