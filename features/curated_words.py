"""Curated goods-description words per language, read from data files, not code.

Weapons, their parts and ammunition travel misdescribed ("steel pins", "spare parts",
"samples") or under their own names in the region's languages (DOMAIN.md). The words come
from YAML files: the shipped ones in ``features/wordlists/`` (English; Serbian, Bosnian,
Croatian and Montenegrin Latin; Macedonian; Albanian) plus any files a deployment names
(``FeatureBuilder(word_lists=...)``), so a list grows without a release. A file::

    language: sr-Latn
    source: who compiled it, from what, and who should review it
    categories:
      weapon_parts: [cev, cijev, "opruga*"]
      ammunition: [municija, "metak"]

An entry is one word, or a stem ending in ``*`` (at least four letters) that matches every
word starting with it (the region's languages inflect: "pištolj*" matches "pištolja",
"pištolju"). Entries are stored normalised with :func:`features.normalise.normalised_text`,
the function every description passes through, so a list written in Cyrillic or with
diacritics matches the same descriptions as its Latin, ASCII spelling.

The same files carry the multilingual goods glossary (features.glossary): shipped in
``features/wordlists/glossary_*.yaml``, a document may hold ``categories``, a ``glossary``
or both. Curated words are counted on the text the glossary has rewritten, as every text
feature reads it; a glossary maps a curated word only to a curated English word
(tests/features/test_glossary.py), so the count of a description and of its English
reading agree.

The lists and the glossary read at fit time are part of the builder's fitted state
(``to_state``), so serving matches exactly the words the model was trained with.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from features.columns import per_distinct
from features.glossary import Glossary, read_glossary
from features.normalise import TOKEN_PATTERN, normalised_text

SHIPPED_FILES: tuple[str, ...] = ("en.yaml", "sr_latn.yaml", "mk.yaml", "sq.yaml")
SHIPPED_GLOSSARIES: tuple[str, ...] = (
    "glossary_sr_latn.yaml",
    "glossary_mk.yaml",
    "glossary_sq.yaml",
)
CATEGORIES: tuple[str, ...] = (
    "weapon_parts",
    "ammunition",
    "gas_alarm_pistols",
    "conversion_kits",
    "printing_3d",
    "samples",
    "spare_parts",
)
STEM = "*"
MIN_STEM_LETTERS = 4
_TOKEN = re.compile(TOKEN_PATTERN)


@dataclass(frozen=True)
class CuratedWords:
    """Normalised curated entries per category (sorted; a stem ends in ``*``), the goods
    glossary, and the files they were read from."""

    categories: Mapping[str, tuple[str, ...]]
    sources: tuple[str, ...] = ()
    glossary: Glossary = field(default_factory=lambda: Glossary({}))
    _matcher: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def words_and_stems(self) -> tuple[frozenset[str], tuple[str, ...]]:
        """Every whole word, and every stem without its ``*``, over all categories."""
        if not self._matcher:
            entries = {entry for words in self.categories.values() for entry in words}
            self._matcher["words"] = frozenset(e for e in entries if not e.endswith(STEM))
            self._matcher["stems"] = tuple(sorted(e[:-1] for e in entries if e.endswith(STEM)))
        return self._matcher["words"], self._matcher["stems"]

    def canonical(self, texts: np.ndarray) -> np.ndarray:
        """Normalised texts (object array of str) with the glossary's entries read as their
        English terms, once per distinct text: what every text feature splits into words."""
        return per_distinct(texts, self.glossary.canonical)

    def counts(self, texts: Sequence[str]) -> np.ndarray:
        """How many words of each normalised text are curated words or start with a stem."""
        words, stems = self.words_and_stems()
        return np.array(
            [
                sum(word in words or word.startswith(stems) for word in _TOKEN.findall(text))
                for text in texts
            ],
            dtype=np.float64,
        )

    def to_state(self) -> dict[str, Any]:
        """JSON-ready form, saved with the fitted builder."""
        return {
            "categories": {name: list(words) for name, words in self.categories.items()},
            "sources": list(self.sources),
            "glossary": self.glossary.to_state(),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> CuratedWords:
        """The lists saved by :meth:`to_state`, exactly (not re-read from any file); a
        state saved before glossaries existed has none, as its model was trained without."""
        return cls(
            {str(name): tuple(words) for name, words in state["categories"].items()},
            tuple(state["sources"]),
            Glossary.from_state(state.get("glossary", {})),
        )


def load_curated_words(extra_files: Sequence[str | Path] = ()) -> CuratedWords:
    """The shipped word lists and glossaries merged with ``extra_files`` (a deployment's
    own); a later file's glossary entry replaces an earlier one's term."""
    merged: dict[str, set[str]] = {}
    terms: dict[str, str] = {}
    sources = []
    shipped = files("features.wordlists")
    documents = [
        (f"shipped:{name}", shipped.joinpath(name).read_text(encoding="utf-8"))
        for name in (*SHIPPED_FILES, *SHIPPED_GLOSSARIES)
    ]
    for path in extra_files:
        try:
            documents.append((str(path), Path(path).read_text(encoding="utf-8")))
        except OSError as error:
            raise ValueError(f"word list {path}: cannot be read ({error})") from error
    for label, text in documents:
        categories, glossary = read_document(label, text)
        for category, entries in categories.items():
            merged.setdefault(category, set()).update(entries)
        terms.update(glossary)
        sources.append(label)
    return CuratedWords(
        {category: tuple(sorted(merged[category])) for category in sorted(merged)},
        tuple(sources),
        Glossary(dict(sorted(terms.items()))),
    )


def read_document(label: str, text: str) -> tuple[dict[str, list[str]], dict[str, str]]:
    """One file's curated categories (:func:`read_word_list`) and glossary
    (:func:`features.glossary.read_glossary`); a file holds either or both."""
    document = yaml.safe_load(text)
    if isinstance(document, dict) and "glossary" in document:
        _check_source(label, document)
        glossary = read_glossary(label, document["glossary"])
        if "categories" not in document:
            return {}, glossary
        return read_word_list(label, text), glossary
    return read_word_list(label, text), {}


def _check_source(label: str, document: dict[str, Any]) -> None:
    for key in ("language", "source"):
        if not str(document.get(key) or "").strip():
            raise ValueError(f"word list {label}: say its '{key}' (who compiled it, from what)")


def read_word_list(label: str, text: str) -> dict[str, list[str]]:
    """The normalised entries per category of one word-list document.

    Raises ValueError naming the file (``label``) and the fix for a document that is not a
    mapping with ``language``, ``source`` and ``categories`` (category -> list of entries),
    or an entry that is not one word or a stem of at least four letters.
    """
    document = yaml.safe_load(text)
    if not isinstance(document, dict) or not isinstance(document.get("categories"), dict):
        raise ValueError(
            f"word list {label}: expected a mapping with 'language', 'source' and "
            f"'categories' (category: list of words), e.g. categories: {{samples: [sample]}}"
            ", or a 'glossary' (English term: list of local words or phrases)"
        )
    _check_source(label, document)
    categories: dict[str, list[str]] = {}
    for category, entries in document["categories"].items():
        if not re.fullmatch(r"[a-z0-9_]+", str(category)):
            raise ValueError(
                f"word list {label}: category {category!r} must be lower-case letters, digits "
                f"and underscores (shipped categories: {', '.join(CATEGORIES)})"
            )
        if not isinstance(entries, list):
            raise ValueError(f"word list {label}: category {category} must be a list of words")
        categories[str(category)] = [_entry(label, str(category), entry) for entry in entries]
    return categories


def _entry(label: str, category: str, entry: object) -> str:
    """One entry normalised; a stem keeps its ``*``."""
    raw = str(entry).strip()
    stem = raw.endswith(STEM)
    word = normalised_text(raw.removesuffix(STEM) if stem else raw)
    if not _TOKEN.fullmatch(word) or (stem and len(word) < MIN_STEM_LETTERS):
        raise ValueError(
            f"word list {label}: entry {raw!r} in {category} must be one word of at least "
            f"two letters (a stem ending in '*' at least {MIN_STEM_LETTERS}); descriptions "
            "are matched word by word, so list each word of a phrase on its own"
        )
    return word + STEM if stem else word
