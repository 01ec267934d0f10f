"""A multilingual goods glossary: local goods words and phrases read as their English terms.

One goods phrase is written in six languages and several wordings in the region ("rezervni
delovi", "rezervni dijelovi", "резервни делови", "pjesë këmbimi", "spare parts"). Left apart,
each wording gets a fraction of the labelled rows and the text statistics fragment; the
glossary rewrites a local word or phrase into its English trade term after normalisation
(features.normalise) and before any text feature splits the text into words, so all
wordings of one goods term become one token. bench/RESULTS.md measures what it buys.

Glossaries are data, in the same YAML files as the curated word lists (shipped ones in
``features/wordlists/glossary_*.yaml``, a deployment's own through the training
configuration's ``features.word_lists``), so they grow without a release::

    language: sr-Latn
    source: who compiled it, from what, and who should review it
    glossary:
      spare parts: [rezervni delovi, rezervni dijelovi]
      pistol: ["pištolj*"]

The key is the English term, its list the local words or phrases read as it. A word of a
phrase may be a stem ending in ``*`` (at least four letters) matching every word that starts
with it, as the region's languages inflect. Entries and terms are stored normalised, so a
glossary written in Cyrillic or with diacritics matches the texts of either script. Where
entries overlap, the one with most words wins, then the longer one; a term is never
rewritten again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from features.normalise import TOKEN_PATTERN, normalised_text

STEM = "*"
MIN_STEM_LETTERS = 4
_TOKEN = re.compile(TOKEN_PATTERN)
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Glossary:
    """Normalised local entry (words separated by one space; a stem word ends in ``*``) ->
    normalised English term."""

    terms: Mapping[str, str]
    _compiled: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def canonical(self, text: str) -> str:
        """``text`` (already normalised) with every glossary entry replaced by its term."""
        if not self.terms or not text:
            return text
        pattern, exact, stems = self._matcher()
        return str(pattern.sub(lambda match: _term(match.group(0), exact, stems), text))

    def canonical_texts(self, texts: Iterable[str]) -> list[str]:
        """:meth:`canonical` of each text."""
        return [self.canonical(text) for text in texts]

    def _matcher(self) -> tuple[re.Pattern[str], dict[str, str], list[tuple[re.Pattern[str], str]]]:
        """One alternation of every entry (most words first, then longest), the exact
        entries' terms and each stem entry's own pattern, built once."""
        if not self._compiled:
            ordered = sorted(self.terms, key=lambda entry: (-entry.count(" "), -len(entry), entry))
            patterns = {entry: _entry_pattern(entry) for entry in ordered}
            self._compiled["pattern"] = re.compile(
                r"\b(?:" + "|".join(patterns[entry] for entry in ordered) + r")\b"
            )
            self._compiled["exact"] = {e: t for e, t in self.terms.items() if STEM not in e}
            self._compiled["stems"] = [
                (re.compile(patterns[entry]), self.terms[entry])
                for entry in ordered
                if STEM in entry
            ]
        return self._compiled["pattern"], self._compiled["exact"], self._compiled["stems"]

    def to_state(self) -> dict[str, str]:
        """JSON-ready form, saved with the fitted builder."""
        return dict(sorted(self.terms.items()))

    @classmethod
    def from_state(cls, state: Mapping[str, str]) -> Glossary:
        """The glossary saved by :meth:`to_state`, exactly."""
        return cls({str(entry): str(term) for entry, term in state.items()})


def _entry_pattern(entry: str) -> str:
    """An entry as a regular expression: its words in order, one or more spaces between."""
    return r"\s+".join(
        re.escape(word.removesuffix(STEM)) + (r"\w*" if word.endswith(STEM) else "")
        for word in entry.split(" ")
    )


def _term(matched: str, exact: Mapping[str, str], stems: list[tuple[re.Pattern[str], str]]) -> str:
    """The term of the entry that matched: an exact entry, else the first stem entry (in
    the alternation's order) that matches the whole text."""
    words = " ".join(matched.split())
    if words in exact:
        return exact[words]
    return next(term for pattern, term in stems if pattern.fullmatch(matched))


def read_glossary(label: str, glossary: object) -> dict[str, str]:
    """The normalised entries -> terms of one document's ``glossary`` mapping.

    Raises ValueError naming the file (``label``) and the fix for a glossary that is not a
    mapping of English term -> list of local words or phrases, or an entry that is not words
    (a stem at least four letters).
    """
    if not isinstance(glossary, dict):
        raise ValueError(
            f"word list {label}: 'glossary' must map each English term to a list of local "
            "words or phrases, e.g. glossary: {spare parts: [rezervni delovi]}"
        )
    terms: dict[str, str] = {}
    for raw_term, entries in glossary.items():
        term = normalised_text(str(raw_term))
        if not _TOKEN.search(term) or STEM in term:
            raise ValueError(f"word list {label}: glossary term {raw_term!r} must be words")
        if not isinstance(entries, list):
            raise ValueError(f"word list {label}: glossary term {raw_term!r} needs a list")
        for raw in entries:
            terms[_entry(label, raw)] = term
    return terms


def _entry(label: str, raw_entry: object) -> str:
    """One glossary entry normalised, its stems keeping their ``*``."""
    raw = str(raw_entry).strip()
    words = []
    for raw_word in raw.split():
        stem = raw_word.endswith(STEM)
        word = normalised_text(raw_word.removesuffix(STEM))
        if not _WORD.fullmatch(word) or (stem and len(word) < MIN_STEM_LETTERS):
            raise ValueError(
                f"word list {label}: glossary entry {raw!r} must be words separated by spaces "
                f"(a stem ending in '*' at least {MIN_STEM_LETTERS} letters)"
            )
        words.append(word + STEM if stem else word)
    if not words:
        raise ValueError(f"word list {label}: an empty glossary entry")
    return " ".join(words)
