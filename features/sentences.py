"""How a reason sentence is written: the words for parties, threats and fields, values as the
locale writes them, and `Sentences`, one feature family's messages chosen by the value.

`features.descriptions` says which family explains which feature. The messages here are of
the ``reasons`` domain too (extracted with those of `features.descriptions`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from features.i18n import DEFAULT_LOCALE, Language, mark_in

ENTITY_WORDS: dict[str, str] = {
    "importer": mark_in("party", "importer"),
    "declarant": mark_in("party", "declarant"),
    "exporter": mark_in("party", "exporter"),
    "carrier": mark_in("party", "carrier"),
    "vehicle": mark_in("party", "vehicle"),
    "route": mark_in("party", "this route and office"),
    "hs4_origin": mark_in("party", "this commodity from this origin"),
    "itinerary": mark_in("party", "this route"),
    "hs_code": mark_in("party", "this HS code"),
}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
CODE_WORDS: dict[str, str] = {
    "office_id": mark_in("field", "customs office"),
    "flow": mark_in("field", "flow"),
    "procedure_code": mark_in("field", "procedure"),
    "transport_mode": mark_in("field", "transport mode"),
    "vehicle_type": mark_in("field", "vehicle type"),
    "origin_country": mark_in("field", "origin country"),
    "dispatch_country": mark_in("field", "dispatch country"),
    "destination_country": mark_in("field", "destination country"),
    "hs_chapter": mark_in("field", "HS chapter"),
}
# Threats come from data: these are the usual ones, translated; another reads as named.
THREAT_WORDS = (
    mark_in("threat", "weapons"),
    mark_in("threat", "migrants"),
    mark_in("threat", "revenue"),
)
VEHICLE_WORDS = (
    mark_in("vehicle type", "truck"),
    mark_in("vehicle type", "van"),
    mark_in("vehicle type", "car"),
    mark_in("vehicle type", "bus"),
    mark_in("vehicle type", "container"),
    mark_in("vehicle type", "parcel"),
    mark_in("vehicle type", "other"),
    mark_in("vehicle type", "vehicle"),
)


# ---------------------------------------------------------------------------- helpers
def missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def field_text(
    declaration: Mapping[str, Any], field: str, lang: Language, fallback: str | None = None
) -> str:
    value = declaration.get(field)
    if missing(value):
        return lang.gettext("unknown") if fallback is None else fallback
    return str(value)


def number(value: float, lang: Language) -> str:
    if missing(value):
        return lang.gettext("unknown")
    if float(value) == int(value):
        return lang.number("count", value)
    return lang.number("general", value)


def percent(rate: float, lang: Language) -> str:
    return lang.number("percent" if rate >= 0.01 else "percent_tenth", rate)


def change(log_ratio: float) -> float | None:
    """The relative change for a log ratio to the usual; None when within 5% of it."""
    change = math.exp(log_ratio) - 1.0
    return None if abs(change) < 0.05 else change


def who(match: re.Match[str], lang: Language) -> str:
    return lang.pgettext("party", ENTITY_WORDS[match["entity"]])


def threat(match: re.Match[str], lang: Language) -> str:
    return lang.pgettext("threat", match["threat"])


def hs_heading(declaration: Mapping[str, Any], lang: Language) -> str:
    return field_text(declaration, "hs_code", lang)[:4]


def per(match: re.Match[str], lang: Language) -> str:
    if match["quantity"] == "unit":
        return lang.pgettext("quantity", "per kg")
    return lang.pgettext("quantity", "per package")


# ---------------------------------------------------------------------------- families
Message = str | tuple[str, str]  # a message, or a plural's (singular, plural)
Test = Callable[[float], bool]
Context = Callable[[re.Match[str], Mapping[str, Any], Language], dict[str, str]]
Shown = Callable[[float, Language], str]
Sentence = Callable[[re.Match[str], float, Mapping[str, Any], Language], str]


def no_context(
    match: re.Match[str], declaration: Mapping[str, Any], lang: Language
) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class Sentences:
    """The sentences of one feature family, read from the feature's value.

    ``absent`` is said when the value is missing; otherwise the message of the first of
    ``cases`` whose test holds for the value (a plural is counted by the value). Placeholders
    come from ``context`` (the feature name's match and the declaration) and, named
    ``shown[0]``, from the value as ``shown[1]`` writes it.
    """

    absent: str
    cases: tuple[tuple[Test, Message], ...]
    context: Context = no_context
    shown: tuple[str, Shown] | None = field(default=None)

    def __call__(
        self, match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
    ) -> str:
        values = self.context(match, declaration, lang)
        if missing(value):
            return lang.gettext(self.absent) % values
        if self.shown is not None:
            name, shown = self.shown
            values[name] = shown(value, lang)
        for test, message in self.cases:
            if test(value):
                if isinstance(message, tuple):
                    return lang.ngettext(*message, int(value)) % values
                return lang.gettext(message) % values
        raise AssertionError("a family's last case holds for every value")


# Tests on a present value, in the order a family's cases try them.
def always(value: float) -> bool:
    return True


def is_zero(value: float) -> bool:
    return value == 0


def is_set(value: float) -> bool:
    return bool(value)


def is_unset(value: float) -> bool:
    return not value


def below_one(value: float) -> bool:
    return value < 1


def negative(value: float) -> bool:
    return value < 0


def positive(value: float) -> bool:
    return value > 0


def in_line(value: float) -> bool:
    return change(value) is None


def poor_fit(value: float) -> bool:
    return value < 0.2


# How a value is written into its sentence.
def count(value: float, lang: Language) -> str:
    return lang.number("count", value)


def tenth(value: float, lang: Language) -> str:
    return lang.number("tenth", value)


def spreads(value: float, lang: Language) -> str:
    return lang.number("tenth", abs(value))


def changed(log_ratio: float, lang: Language) -> str:
    return lang.number("percent", abs(math.exp(log_ratio) - 1.0))


def general(value: float, lang: Language) -> str:
    return lang.number("general", value)


def signed_tenth(value: float, lang: Language) -> str:
    return lang.number("signed_tenth", value)


def weekday_of(value: float, lang: Language) -> str:
    return weekday_name(int(value), lang)


# What a family's sentences name besides the value.
def party(match: re.Match[str], declaration: Mapping[str, Any], lang: Language) -> dict[str, str]:
    return {"who": who(match, lang)}


def party_and_threat(
    match: re.Match[str], declaration: Mapping[str, Any], lang: Language
) -> dict[str, str]:
    return {"who": who(match, lang), "threat": threat(match, lang)}


def threat_only(
    match: re.Match[str], declaration: Mapping[str, Any], lang: Language
) -> dict[str, str]:
    return {"threat": threat(match, lang)}


def per_and_hs(
    match: re.Match[str], declaration: Mapping[str, Any], lang: Language
) -> dict[str, str]:
    return {"per": per(match, lang), "hs": hs_heading(declaration, lang)}


def hs(match: re.Match[str], declaration: Mapping[str, Any], lang: Language) -> dict[str, str]:
    return {"hs": hs_heading(declaration, lang)}


def chapter(match: re.Match[str], declaration: Mapping[str, Any], lang: Language) -> dict[str, str]:
    return {"chapter": field_text(declaration, "hs_code", lang)[:2]}


def vehicle_type(
    match: re.Match[str], declaration: Mapping[str, Any], lang: Language
) -> dict[str, str]:
    vehicle = field_text(declaration, "vehicle_type", lang, "vehicle")
    return {"vehicle": lang.pgettext("vehicle type", vehicle)}


def fields(**placeholders: str) -> Context:
    """Placeholders read from the declaration: placeholder name -> canonical field."""

    def context(
        match: re.Match[str], declaration: Mapping[str, Any], lang: Language
    ) -> dict[str, str]:
        return {name: field_text(declaration, field, lang) for name, field in placeholders.items()}

    return context


def weekday_name(day: int, lang: Language) -> str:
    """Monday is 0, as pandas counts; the name as the locale writes it (CLDR, stand-alone)."""
    if lang.locale == DEFAULT_LOCALE:
        return WEEKDAYS[day]
    return lang.weekday(day)


def declared_amount(field: str, absent: str, message: str, name: str, kind: str) -> Sentence:
    """A sentence on a declared amount, read from the declaration rather than the feature."""

    def sentence(
        match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
    ) -> str:
        amount = declaration.get(field)
        if missing(amount):
            return lang.gettext(absent)
        return lang.gettext(message) % {name: lang.number(kind, float(str(amount)))}

    return sentence


# The shapes most families take: each names what chooses between its messages once.
def stated(
    absent: str,
    message: Message,
    context: Context = no_context,
    shown: tuple[str, Shown] | None = None,
) -> Sentences:
    """One sentence whenever the value is given."""
    return Sentences(absent, ((always, message),), context, shown)


def either(absent: str, yes: Message, no: Message, context: Context = no_context) -> Sentences:
    """``yes`` when the feature is set (not zero), ``no`` when it is not."""
    return Sentences(absent, ((is_set, yes), (always, no)), context)


def counted(
    absent: str,
    none: Message,
    some: Message,
    context: Context = no_context,
    none_when: Test = is_zero,
) -> Sentences:
    """A count: ``none`` when ``none_when`` holds for it, else ``some`` (a plural counted by
    the value), the count written as ``%(count)s``."""
    return Sentences(absent, ((none_when, none), (always, some)), context, ("count", count))


def compared(absent: str, usual: str, below: str, above: str, context: Context) -> Sentences:
    """A log ratio to the usual: ``usual`` when in line, else ``below`` or ``above``, the
    change written as ``%(change)s``."""
    return Sentences(
        absent, ((in_line, usual), (negative, below), (always, above)), context, ("change", changed)
    )
