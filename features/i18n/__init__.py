"""Languages: which locales we ship, the catalogue of a locale, numbers as a locale writes them.

Catalogues are gettext ``.po`` files kept in the repository and shipped as package data; they
are read with Babel when first asked for (no compiled ``.mo`` is committed or needed) and kept
for the life of the process. Two domains use this: ``reasons`` (the reason sentences of
`features.descriptions`, in ``features/i18n/locale``) and ``pages`` (the web pages, in
``serving/web/locale``). English is the source language: its catalogue is the identity, and
its numbers are written with Python's own formatting (the same text Babel writes for ``en``,
at a twentieth of the cost), so English reasons cost what they cost before translations.

A locale is named as Babel names it (``sr_Latn``, ``sq``); `negotiate` picks one from an HTTP
``Accept-Language`` header. Serbian is shipped in Latin script only: a request for Serbian in
any script or region gets ``sr_Latn``.

To add a message: use it in code (``lang.gettext("...")``, ``ngettext``, ``pgettext``) or in a
template (``{% trans %}``, ``_("...")``), then add its entry with a translation to every
catalogue; tests/features/test_i18n_catalogues.py extracts every message id with Babel's
extractors and fails on one that a catalogue lacks, or whose placeholders differ.
"""

from __future__ import annotations

import functools
import gettext
import io
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import get_day_names
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import NumberPattern, parse_pattern
from babel.support import Translations

DEFAULT_LOCALE = "en"
LOCALES: tuple[str, ...] = ("en", "sr_Latn", "sq")
REASONS_DOMAIN = "reasons"
REASONS_CATALOGUES = Path(__file__).resolve().parent / "locale"
# An Accept-Language header longer than this is read only up to here (it is client input).
MAX_HEADER_CHARS = 256


def catalogue_file(directory: Path, domain: str, locale: str) -> Path:
    """Where the ``.po`` file of a domain and locale lives under a catalogue directory."""
    return directory / locale / "LC_MESSAGES" / f"{domain}.po"


@functools.lru_cache(maxsize=32)
def translations(directory: Path, domain: str, locale: str) -> gettext.NullTranslations:
    """The messages of ``domain`` in ``locale``, read once from its ``.po`` file.

    English (the source language) is the identity. Fuzzy entries are left out, so a message
    marked for review reads in English until a translator confirms it.

    Raises:
        FileNotFoundError: a shipped locale has no catalogue for this domain.
    """
    if locale == DEFAULT_LOCALE:
        return gettext.NullTranslations()
    with catalogue_file(directory, domain, locale).open("rb") as po:
        catalog = read_po(po, locale=locale, domain=domain)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=domain)


def _primary_language(locale: str) -> str:
    return Locale.parse(locale).language


@functools.lru_cache(maxsize=512)
def negotiate(accept_language: str | None, available: tuple[str, ...] = LOCALES) -> str:
    """The shipped locale an ``Accept-Language`` header asks for first; English when none.

    Tags are tried in order of their quality values (``q=0`` means "not this one"); a tag
    matches a locale of the same language whatever its script or region (``sr``,
    ``sr-Latn-RS`` and ``sr-Cyrl`` all get ``sr_Latn``). Remembered per header value: the
    same few headers come back with every request.
    """
    if not accept_language:
        return DEFAULT_LOCALE
    by_language = {_primary_language(locale): locale for locale in available}
    weighted: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept_language[:MAX_HEADER_CHARS].split(",")):
        tag, _, parameters = item.strip().partition(";")
        quality = 1.0
        name, _, number = parameters.strip().partition("=")
        if name.strip() == "q":
            try:
                quality = float(number)
            except ValueError:
                quality = 0.0
        if tag and quality > 0 and math.isfinite(quality):
            weighted.append((-quality, position, tag.strip().replace("_", "-").lower()))
    for _, _, tag in sorted(weighted):
        language = tag.split("-")[0]
        if language in by_language:
            return by_language[language]
    return DEFAULT_LOCALE


def language_tag(locale: str) -> str:
    """The BCP 47 tag of a locale, as HTTP headers and HTML write it ("sr-Latn")."""
    return locale.replace("_", "-")


def locale_name(locale: str) -> str:
    """The locale's name in its own language ("srpski (latinica)", "shqip")."""
    return str(Locale.parse(locale).get_display_name(locale) or locale)


# ---------------------------------------------------------------------------- numbers
# Each kind of number as Python writes it for English, and as a CLDR pattern for Babel.
NUMBER_KINDS: Mapping[str, tuple[str, str]] = {
    "count": ("d", "#,##0"),  # English: no grouping (as before translations)
    "grouped": (",.0f", "#,##0"),
    "grouped_tenth": (",.1f", "#,##0.0"),
    "tenth": (".1f", "0.0"),
    "signed_tenth": ("+.1f", "+0.0;-0.0"),
    "general": ("g", "#,##0.###"),
    "percent": (",.0f", "#,##0%"),
    "percent_tenth": (",.1f", "#,##0.0%"),
}


class Language:
    """What a sentence needs to be written in one locale: its catalogue and its numbers.

    ``gettext``, ``ngettext`` and ``pgettext`` are the catalogue's; ``number(kind, value)``
    writes a number of one of `NUMBER_KINDS` as the locale writes it (a percent kind takes a
    share: 0.125 is 12%).
    """

    def __init__(self, locale: str, catalogue: gettext.NullTranslations) -> None:
        self.locale = locale
        self.gettext = catalogue.gettext
        self.ngettext = catalogue.ngettext
        self.pgettext = catalogue.pgettext
        self._babel_locale = Locale.parse(locale)
        self._patterns: dict[str, NumberPattern] = {
            kind: parse_pattern(pattern) for kind, (_, pattern) in NUMBER_KINDS.items()
        }

    def number(self, kind: str, value: float) -> str:
        """``value`` written as the locale writes a number of this kind."""
        if self.locale == DEFAULT_LOCALE:
            spec = NUMBER_KINDS[kind][0]
            if kind == "count":
                return str(int(value))
            if kind.startswith("percent"):
                return f"{value * 100:{spec}}%"
            return f"{value:{spec}}"
        if kind == "count":
            value = int(value)
        return str(self._patterns[kind].apply(value, self._babel_locale))

    def weekday(self, day: int) -> str:
        """The name of a day of the week (Monday is 0), stand-alone, as the locale writes it."""
        return str(get_day_names("wide", context="stand-alone", locale=self._babel_locale)[day])

    def __repr__(self) -> str:
        return f"Language({self.locale!r})"


@functools.lru_cache(maxsize=16)
def language(
    locale: str, directory: Path = REASONS_CATALOGUES, domain: str = REASONS_DOMAIN
) -> Language:
    """The `Language` of a shipped locale for one catalogue domain, made once."""
    if locale not in LOCALES:
        raise ValueError(f"unknown locale {locale!r}: expected one of {', '.join(LOCALES)}")
    return Language(locale, translations(directory, domain, locale))


def mark(message: str) -> str:
    """Marks a message for extraction where it is written; translated later, where it is used."""
    return message


def mark_in(context: str, message: str) -> str:
    """`mark` for a message with a context (extracted like ``pgettext``)."""
    return message


def mark_plural(singular: str, plural: str) -> tuple[str, str]:
    """`mark` for a message with a plural form (extracted like ``ngettext``)."""
    return singular, plural


# Keywords the extractors look for (Babel's defaults plus our markers).
EXTRACT_KEYWORDS: dict[str, Any] = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "mark": None,
    "mark_in": ((1, "c"), 2),
    "mark_plural": (1, 2),
}
