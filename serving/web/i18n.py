"""The pages' languages: which locale a person reads, its catalogue, and numbers and dates.

`pick_locale` is the one place that decides a person's language: their own choice (the
selector on every page, kept in the session; an identity provider's locale claim will set the
same choice at sign-in), else their browser's ``Accept-Language``, else English. The pages
call the API with that language, so reason texts arrive translated too.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from jinja2 import pass_context
from jinja2.runtime import Context

from features.i18n import (
    DEFAULT_LOCALE,
    LOCALES,
    Language,
    language,
    language_tag,
    locale_name,
    negotiate,
)

PAGES_DOMAIN = "pages"
PAGES_CATALOGUES = Path(__file__).resolve().parent / "locale"
# Before sign-in there is no session: the selector's choice is kept in this plain cookie.
LANGUAGE_COOKIE = "shiprisk_language"
DASH = "–"


def pick_locale(choice: str | None, accept_language: str | None) -> str:
    """The locale a person reads the pages in: their choice, else their browser's, else English.

    ``choice`` is what they picked (the session's, or an identity claim's); one that is not
    shipped is ignored.
    """
    if choice in LOCALES:
        return str(choice)
    return negotiate(accept_language)


def page_language(locale: str) -> Language:
    """The pages' catalogue and number formats in ``locale``."""
    return language(locale, PAGES_CATALOGUES, PAGES_DOMAIN)


@functools.cache
def languages() -> tuple[tuple[str, str], ...]:
    """(locale, its name in its own language) of every shipped locale, for the selector."""
    return tuple((locale, locale_name(locale)) for locale in LOCALES)


def template_context(locale: str) -> dict[str, Any]:
    """What every template gets to speak ``locale``: gettext callables, tag, selector."""
    lang = page_language(locale)
    return {
        "gettext": lang.gettext,
        "ngettext": lang.ngettext,
        "locale": locale,
        "language_tag": language_tag(locale),
        "languages": languages(),
    }


def _figure(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number  # NaN


def _lang(context: Context) -> Language:
    return page_language(str(context.get("locale") or DEFAULT_LOCALE))


@pass_context
def percent(context: Context, value: Any, digits: int = 1) -> str:
    """A share as a percentage in the page's locale ("12.3%", "12,3%"); a dash when unknown."""
    figure = _figure(value)
    return DASH if figure is None else fixed_decimals(_lang(context), figure * 100, digits) + "%"


@pass_context
def number(context: Context, value: Any, digits: int = 3) -> str:
    """A number with fixed decimals in the page's locale; a dash when unknown."""
    figure = _figure(value)
    return DASH if figure is None else fixed_decimals(_lang(context), figure, digits)


def fixed_decimals(lang: Language, value: float, digits: int) -> str:
    """``value`` with exactly ``digits`` decimals, as the locale writes them (English with
    Python's formatting, as the pages always wrote it)."""
    if lang.locale == DEFAULT_LOCALE:
        return f"{value:.{digits}f}"
    pattern = "0" + ("." + "0" * digits if digits > 0 else "")
    return str(format_decimal(value, pattern, locale=lang.locale))


def _moment(value: Any) -> datetime | date | None:
    if isinstance(value, datetime | date):
        return value
    try:
        text = str(value)
        return (
            datetime.fromisoformat(text) if "T" in text or " " in text else date.fromisoformat(text)
        )
    except ValueError:
        return None


@pass_context
def when(context: Context, value: Any) -> str:
    """A time (UTC) or a day as the page's locale writes it; the value as given otherwise."""
    if value is None or value == "":
        return DASH
    moment = _moment(value)
    locale = str(context.get("locale") or DEFAULT_LOCALE)
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return str(format_datetime(moment, "medium", tzinfo=UTC, locale=locale)) + " UTC"
    if isinstance(moment, date):
        return str(format_date(moment, "medium", locale=locale))
    return str(value)


@pass_context
def threat_name(context: Context, threat: Any) -> str:
    """A threat's name in the page's locale (the reason sentences' word for it); threats come
    from data, so one without a translation reads as named."""
    locale = str(context.get("locale") or DEFAULT_LOCALE)
    return language(locale).pgettext("threat", str(threat))


FILTERS: Mapping[str, Any] = {
    "percent": percent,
    "number": number,
    "when": when,
    "threat_name": threat_name,
}
