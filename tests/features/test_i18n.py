"""Locales: Accept-Language negotiation, numbers per locale, English at Python's speed."""

from __future__ import annotations

import pytest
from babel.numbers import format_decimal, format_percent

from features.i18n import LOCALES, NUMBER_KINDS, Language, language, negotiate


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        (None, "en"),
        ("", "en"),
        ("sr-Latn", "sr_Latn"),
        ("sr-Latn-RS,sr;q=0.9,en;q=0.8", "sr_Latn"),
        ("sr-Cyrl-RS", "sr_Latn"),  # Serbian is shipped in Latin script only
        ("sq", "sq"),
        ("sq-AL,en;q=0.5", "sq"),
        ("de-DE,sq;q=0.4,en;q=0.3", "sq"),
        ("en;q=0.2,sq;q=0.9", "sq"),
        ("sq;q=0,sr", "sr_Latn"),
        ("fr, de", "en"),
        ("*", "en"),
        ("sq;q=abc,sr;q=0.5", "sr_Latn"),
        ("mk-MK", "en"),
    ],
)
def test_accept_language_picks_a_shipped_locale(header: str | None, locale: str) -> None:
    assert negotiate(header) == locale


@pytest.mark.parametrize("value", [0.0, 0.004, 0.125, 0.5, 1.0, 12.5, 999.95, 12345.0, 1234567.89])
@pytest.mark.parametrize("kind", ["grouped", "grouped_tenth", "percent", "percent_tenth"])
def test_english_fast_path_writes_what_babel_writes(kind: str, value: float) -> None:
    """English numbers skip Babel (a twentieth of the cost) and read the same."""
    pattern = NUMBER_KINDS[kind][1]
    if kind.startswith("percent"):
        expected = format_percent(value, pattern, locale="en")
    else:
        expected = format_decimal(value, pattern, locale="en")
    assert language("en").number(kind, value) == expected


def test_numbers_as_each_locale_writes_them() -> None:
    assert language("sr_Latn").number("grouped_tenth", 1234.5) == "1.234,5"
    assert language("sq").number("grouped_tenth", 1234.5) == "1\xa0234,5"
    assert language("sq").number("percent_tenth", 0.005) == "0,5%"
    assert language("sr_Latn").number("signed_tenth", -1.25) in ("-1,2", "-1,3")
    assert isinstance(language("sq"), Language) and set(LOCALES) >= {"en", "sr_Latn", "sq"}
