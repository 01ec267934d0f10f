"""One spelling per goods description, whatever the script, case or diacritics.

Descriptions in the Western Balkans come in Serbian, Bosnian, Croatian, Montenegrin
(Latin and Serbian Cyrillic), Macedonian (Cyrillic) and Albanian, often without diacritics
(DOMAIN.md). Every text feature reads descriptions through :func:`normalised_text`, so
"delovi za pištolj", "delovi za pistolj" and "делови за пиштољ" are one text:

1. Unicode NFKC (compatibility forms and ligatures: "ﬁ" -> "fi", "ǆ" -> "dž"), then case
   folding;
2. Serbian and Macedonian Cyrillic to Latin, folded as in step 3 (ђ -> dj, ж -> z,
   љ -> lj, њ -> nj, ћ -> c, џ -> dz; ѓ -> gj, ќ -> kj, ѕ -> dz), and the Latin letters
   that carry no separable mark (đ -> dj, and ð, which is often typed for it);
3. diacritics dropped (č ć š ž -> c c s z; Albanian ë ç -> e c): decomposed, combining
   marks removed, recomposed;
4. whitespace runs collapsed to one space, trimmed.

Each step is one ``str.translate`` or ``unicodedata`` call (C loops; the mark table runs
Python once per character the process has never seen), and callers normalise distinct
texts only. Cyrillic letters of neighbouring languages (Russian, Bulgarian, Ukrainian) are
transliterated too, so no Cyrillic letter survives.
"""

from __future__ import annotations

import unicodedata
from functools import cache

TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # scikit-learn's default word token: how every text feature splits

# Serbian Cyrillic (Vuk's alphabet) and the Macedonian letters it lacks, lower case (the
# text is case-folded first). Latin values are already diacritic-folded: ж is ž, read z.
SERBIAN_CYRILLIC: dict[str, str] = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "ђ": "dj",
    "е": "e",
    "ж": "z",
    "з": "z",
    "и": "i",
    "ј": "j",
    "к": "k",
    "л": "l",
    "љ": "lj",
    "м": "m",
    "н": "n",
    "њ": "nj",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "ћ": "c",
    "у": "u",
    "ф": "f",
    "х": "h",
    "ц": "c",
    "ч": "c",
    "џ": "dz",
    "ш": "s",
}
MACEDONIAN_CYRILLIC: dict[str, str] = {"ѓ": "gj", "ѕ": "dz", "ќ": "kj"}
# Cyrillic letters of neighbouring languages that trade terms sometimes arrive in
# (Russian, Bulgarian, Ukrainian), so no Cyrillic letter is left behind.
OTHER_CYRILLIC: dict[str, str] = {
    "ё": "e",
    "й": "j",
    "щ": "sc",
    "ъ": "",
    "ы": "y",
    "ь": "",
    "э": "e",
    "ю": "ju",
    "я": "ja",
    "є": "je",
    "і": "i",
    "ї": "ji",
    "ґ": "g",
}
# Latin letters whose diacritic is not a separable combining mark.
LATIN_LETTERS: dict[str, str] = {
    "đ": "dj",
    "ð": "dj",
    "ł": "l",
    "ø": "o",
    "æ": "ae",
    "œ": "oe",
    "ı": "i",
}


@cache
def _letters() -> dict[int, str]:
    """The translation table of step 2 (letters to folded Latin)."""
    return str.maketrans(
        {**SERBIAN_CYRILLIC, **MACEDONIAN_CYRILLIC, **OTHER_CYRILLIC, **LATIN_LETTERS}
    )


class _CombiningMarks(dict[int, int | None]):
    """The translation table of step 3: a combining mark (category Mn) maps to ``None``
    (removed), any other character to itself.

    Filled one character at a time as texts meet it, so no process pays for walking the
    1.1 million code points (about 0.1 s) before its first description.
    """

    def __missing__(self, code: int) -> int | None:
        value = None if unicodedata.category(chr(code)) == "Mn" else code
        self[code] = value
        return value


_MARKS = _CombiningMarks()


def normalised_text(text: str) -> str:
    """The one spelling of ``text`` every text feature reads (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_letters())
    if not text.isascii():
        text = unicodedata.normalize("NFD", text).translate(_MARKS)
        text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(text.split())
