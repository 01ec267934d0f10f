"""Every message the code and templates use, extracted with Babel's extractors, per domain.

Shared by the catalogue tests of features/ (reasons) and serving/web (pages).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from jinja2.ext import babel_extract

from features.i18n import EXTRACT_KEYWORDS, LOCALES, REASONS_CATALOGUES, catalogue_file

ROOT = Path(__file__).resolve().parents[1]
PAGES_CATALOGUES = ROOT / "serving" / "web" / "locale"
TRANSLATED = tuple(locale for locale in LOCALES if locale != "en")

# domain -> (catalogue directory, [(extraction method, files)])
SOURCES = {
    "reasons": (
        REASONS_CATALOGUES,
        [("python", [ROOT / "features" / "descriptions.py", ROOT / "features" / "sentences.py"])],
    ),
    "pages": (
        PAGES_CATALOGUES,
        [
            ("python", sorted((ROOT / "serving" / "web").glob("*.py"))),
            ("jinja2", sorted((ROOT / "serving" / "web" / "templates").glob("*.html"))),
        ],
    ),
}

Key = tuple[str | None, str]  # (context, msgid)
# A %-placeholder: %(name)s, %s, %d ...; "%%" is a literal percent sign, not a placeholder,
# and a lone "%" (which would break formatting) counts as one of its own.
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?[sdifgr%]|%")


def extracted(domain: str) -> dict[Key, str | tuple[str, ...]]:
    """Every message id of a domain as the code uses it: (context, msgid) -> msgid(s)."""
    _, sources = SOURCES[domain]
    found: dict[Key, str | tuple[str, ...]] = {}
    for method, files in sources:
        extractor = babel_extract if method == "jinja2" else method
        for path in files:
            options = {"trimmed": "true"} if method == "jinja2" else {}
            for _, message, _, context in extract_from_file(
                extractor,  # type: ignore[arg-type]
                str(path),
                keywords=EXTRACT_KEYWORDS,
                options=options,
            ):
                singular = message[0] if isinstance(message, tuple) else message
                found[(context, singular)] = message
    return found


def catalogue(domain: str, locale: str) -> Catalog:
    directory, _ = SOURCES[domain]
    with catalogue_file(directory, domain, locale).open("rb") as po:
        return read_po(po, locale=locale, domain=domain)


def placeholders(text: str) -> list[str]:
    """The placeholders of a message, sorted (literal percent signs left out)."""
    return sorted(match.group(0) for match in PLACEHOLDER.finditer(text) if match.group(0) != "%%")


def entries(domain: str, locale: str) -> Iterator[tuple[Key, str | tuple[str, ...], object]]:
    """(key, msgid(s), translation(s)) of every message in a catalogue but its header."""
    for message in catalogue(domain, locale):
        if message.id:
            singular = message.id[0] if isinstance(message.id, tuple) else message.id
            yield (message.context, singular), message.id, message
