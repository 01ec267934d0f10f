"""Translations stay complete: every message the code and pages use is in every shipped
catalogue, translated, with the same placeholders as its source (issue 19, item 5)."""

from __future__ import annotations

import pytest

from tests.i18n_messages import SOURCES, TRANSLATED, entries, extracted, placeholders

CASES = [(domain, locale) for domain in SOURCES for locale in TRANSLATED]


@pytest.mark.parametrize(("domain", "locale"), CASES)
def test_every_message_used_has_a_translation(domain: str, locale: str) -> None:
    used = extracted(domain)
    assert len(used) > 20, "the extractors found almost nothing: the test would pass vacuously"
    translated = {key: message for key, _, message in entries(domain, locale)}
    missing = sorted(str(key) for key in used if key not in translated)
    assert not missing, f"{domain}/{locale} lacks {len(missing)} message(s): {missing}"
    untranslated = []
    for key in used:
        message = translated[key]
        forms = message.string if isinstance(message.string, tuple) else (message.string,)  # type: ignore[attr-defined]
        if message.fuzzy or not all(forms):  # type: ignore[attr-defined]
            untranslated.append(str(key))
    assert not untranslated, f"{domain}/{locale}: empty or fuzzy: {sorted(untranslated)}"


@pytest.mark.parametrize(("domain", "locale"), CASES)
def test_catalogues_hold_no_message_the_code_no_longer_uses(domain: str, locale: str) -> None:
    used = extracted(domain)
    stale = sorted(str(key) for key, _, _ in entries(domain, locale) if key not in used)
    assert not stale, f"{domain}/{locale} keeps messages nothing uses: {stale}"


@pytest.mark.parametrize(("domain", "locale"), CASES)
def test_translations_keep_the_placeholders_of_their_source(domain: str, locale: str) -> None:
    wrong = []
    for key, source, message in entries(domain, locale):
        sources = source if isinstance(source, tuple) else (source,)
        forms = message.string if isinstance(message.string, tuple) else (message.string,)  # type: ignore[attr-defined]
        expected = placeholders(sources[-1])
        for form in forms:
            # %(count)s may be left out of a form that names its one number in words.
            if placeholders(form) != expected:
                wrong.append((key, form))
    assert not wrong, f"{domain}/{locale}: placeholders differ from the source: {wrong}"


def test_the_placeholder_check_sees_a_wrong_placeholder() -> None:
    assert placeholders("%(who)s had %(count)s") != placeholders("%(who)s imao %(broj)s")
    assert placeholders("duty rate is %(rate)s%%") == placeholders("stopa je %(rate)s%%")
    assert placeholders("rate %(rate)s%%") != placeholders("rate %(rate)s%")
