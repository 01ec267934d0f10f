"""Plain-language reasons: one sentence per feature value, for the officer reading a score.

Sentences name codes, counts and rates from the structured fields only; free text from
``goods_description`` is never repeated back (it may hold personal data or be misleading).

Every sentence is a gettext message of the ``reasons`` domain (`features.i18n`), written in
the locale asked for with its numbers as that locale writes them; English is the source.
The translations name the subject first ("uvoznik: ...") so that a noun filled in by the code
never needs a grammatical case or gender it does not have.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from features.entities import ENTITY_KINDS
from features.i18n import DEFAULT_LOCALE, Language, language, mark, mark_plural
from features.sentences import (
    CODE_WORDS,
    Sentence,
    Sentences,
    always,
    below_one,
    chapter,
    compared,
    count,
    counted,
    declared_amount,
    either,
    field_text,
    fields,
    general,
    hs,
    is_unset,
    is_zero,
    missing,
    negative,
    number,
    party,
    party_and_threat,
    per_and_hs,
    percent,
    poor_fit,
    positive,
    signed_tenth,
    spreads,
    stated,
    tenth,
    threat_only,
    vehicle_type,
    weekday_of,
)


def reason_text(
    feature: str, value: float, declaration: Mapping[str, Any], locale: str = DEFAULT_LOCALE
) -> str:
    """The sentence explaining ``feature`` = ``value`` for this declaration, in ``locale``
    (one of `features.i18n.LOCALES`; English by default)."""
    lang = language(locale)
    rule = _rule_for(feature)
    if rule is not None:
        sentence, match = rule
        return sentence(match, value, declaration, lang)
    name = field_text(declaration, feature, lang) if feature.startswith("x_") else None
    return lang.gettext("%(name)s is %(value)s") % {
        "name": name or feature.replace("_", " "),
        "value": number(value, lang),
    }


@functools.lru_cache(maxsize=4096)
def _rule_for(feature: str) -> tuple[Sentence, re.Match[str]] | None:
    """The first rule whose pattern matches the whole feature name, and its match.

    Looked up once per feature name: a score's reasons ask again for the same few names.
    """
    for pattern, sentence in _RULES:
        match = re.fullmatch(pattern, feature)
        if match:
            return sentence, match
    return None


_NOT_GIVEN = mark("%(who)s is not given on the declaration")
_NO_DESCRIPTION = mark("goods description is missing")
_NOT_CHECKED = mark("watchlist could not be checked")

_DECLARATIONS = counted(
    _NOT_GIVEN,
    mark("%(who)s has not been seen before (first declaration)"),
    mark_plural(
        "%(who)s was seen in %(count)s earlier declaration",
        "%(who)s was seen in %(count)s earlier declarations",
    ),
    party,
)
_INSPECTIONS = counted(
    _NOT_GIVEN,
    mark("%(who)s was never inspected before"),
    mark_plural(
        "%(who)s had %(count)s inspection before", "%(who)s had %(count)s inspections before"
    ),
    party,
)
_HITS = counted(
    _NOT_GIVEN,
    mark("no earlier inspection of %(who)s found %(threat)s"),
    mark_plural(
        "%(who)s had %(count)s earlier inspection that found %(threat)s",
        "%(who)s had %(count)s earlier inspections that found %(threat)s",
    ),
    party_and_threat,
)
_HIT_RATE = stated(
    _NOT_GIVEN,
    mark("earlier inspections of %(who)s found %(threat)s at an estimated rate of %(rate)s"),
    party_and_threat,
    ("rate", percent),
)
_FIRST_SEEN = counted(
    mark("%(who)s has never been seen before"),
    mark("%(who)s was first seen less than a day before"),
    mark_plural(
        "%(who)s was first seen %(count)s day before",
        "%(who)s was first seen %(count)s days before",
    ),
    party,
    none_when=below_one,
)
_VALUE_VS_MEDIAN = compared(
    mark("declared value %(per)s cannot be compared (value, mass or packages missing)"),
    mark("declared value %(per)s is in line with the usual for HS %(hs)s"),
    mark("declared value %(per)s is %(change)s below the usual for HS %(hs)s"),
    mark("declared value %(per)s is %(change)s above the usual for HS %(hs)s"),
    per_and_hs,
)
_VALUE_Z = Sentences(
    mark("declared value %(per)s cannot be compared (value, mass or packages missing)"),
    (
        (
            negative,
            mark(
                "declared value %(per)s is %(spreads)s typical spreads below the usual for HS %(hs)s"
            ),
        ),
        (
            always,
            mark(
                "declared value %(per)s is %(spreads)s typical spreads above the usual for HS %(hs)s"
            ),
        ),
    ),
    per_and_hs,
    ("spreads", spreads),
)
_REFERENCE_LEVEL = Sentences(
    mark("no reference value is known for this HS code"),
    (
        (
            is_zero,
            mark("value is compared with all declarations (too few with a similar HS code)"),
        ),
        (
            always,
            mark("value is compared with declarations sharing the first %(digits)s HS digits"),
        ),
    ),
    shown=("digits", count),
)
_MASS_RATIO = stated(
    mark("gross or net mass is missing"),
    mark("gross mass is %(ratio)s times the net mass"),
    shown=("ratio", tenth),
)
_VEHICLE_MASS = compared(
    mark("gross mass cannot be compared with the vehicle type"),
    mark("declared gross mass is in line with the usual for a %(vehicle)s"),
    mark("declared gross mass is %(change)s below the usual for a %(vehicle)s"),
    mark("declared gross mass is %(change)s above the usual for a %(vehicle)s"),
    vehicle_type,
)
_PACKAGES = stated(
    mark("number of packages is missing"),
    mark_plural("declared %(count)s package", "declared %(count)s packages"),
    shown=("count", count),
)
_DUTY_RATE = stated(
    mark("duty rate is missing"), mark("duty rate is %(rate)s%%"), shown=("rate", general)
)
_ITINERARY_START = either(
    mark("itinerary or dispatch country is missing"),
    mark("route %(route)s does not start in the declared dispatch country %(dispatch)s"),
    mark("route %(route)s starts in the declared dispatch country %(dispatch)s"),
    fields(route="itinerary", dispatch="dispatch_country"),
)
_ITINERARY_END = either(
    mark("itinerary or destination country is missing"),
    mark("route %(route)s does not end in the declared destination %(destination)s"),
    mark("route %(route)s ends in the declared destination %(destination)s"),
    fields(route="itinerary", destination="destination_country"),
)
_TRANSIT_COUNT = stated(
    mark("no itinerary is declared"),
    mark_plural(
        "route %(route)s passes through %(count)s transit country",
        "route %(route)s passes through %(count)s transit countries",
    ),
    fields(route="itinerary"),
    ("count", count),
)
_ORIGIN_DISPATCH = either(
    mark("origin or dispatch country is missing"),
    mark("goods of origin %(origin)s were dispatched from another country (%(dispatch)s)"),
    mark("goods were dispatched from their origin country %(origin)s"),
    fields(origin="origin_country", dispatch="dispatch_country"),
)
_TRANSIT_RATE = stated(
    mark("route has no transit country"),
    mark(
        "route transits a country where earlier inspections found %(threat)s "
        "at an estimated rate of %(rate)s"
    ),
    threat_only,
    ("rate", percent),
)
_WEEKDAY = stated(
    mark("lodging day is unknown"),
    mark("lodged on a %(weekday)s"),
    shown=("weekday", weekday_of),
)
_POSTAL = either(
    mark("transport mode and vehicle type are unknown"),
    mark("sent by post or as a parcel"),
    mark("not a postal or parcel consignment"),
)
_POSTAL_NEW = either(
    mark("importer is not given on the declaration"),
    mark("postal or parcel consignment to an importer seen rarely or never before"),
    mark("not a postal consignment to a new or rarely seen importer"),
)
_TEXT_SCORE = Sentences(
    mark("goods description could not be scored"),
    (
        (
            positive,
            mark(
                "goods description wording resembles that of earlier inspections that found "
                "%(threat)s (text score %(score)s)"
            ),
        ),
        (
            always,
            mark(
                "goods description wording does not resemble that of earlier inspections that "
                "found %(threat)s (text score %(score)s)"
            ),
        ),
    ),
    threat_only,
    ("score", signed_tenth),
)
_WEAPON_WORDS = counted(
    _NO_DESCRIPTION,
    mark("goods description uses no words often used to disguise weapon parts"),
    mark_plural(
        "goods description uses %(count)s word often used to disguise weapon parts",
        "goods description uses %(count)s words often used to disguise weapon parts",
    ),
    none_when=is_unset,
)
_WEAPON_WORDS_OUTSIDE = either(
    _NO_DESCRIPTION,
    mark(
        "goods description uses words typical of weapon parts, but HS %(hs)s is outside "
        "chapter 93 (arms and ammunition)"
    ),
    mark("goods description and HS code raise no weapon-parts mismatch"),
    hs,
)
_CHAPTER_FIT = Sentences(
    mark("goods description has no words known for HS chapter %(chapter)s"),
    (
        (
            poor_fit,
            mark("goods description reads unlike the usual goods of HS chapter %(chapter)s"),
        ),
        (always, mark("goods description fits the usual goods of HS chapter %(chapter)s")),
    ),
    chapter,
)
_WATCHLIST_HITS = counted(
    _NOT_CHECKED,
    mark("no party or vehicle is on a partner watchlist for %(threat)s"),
    mark_plural(
        "%(count)s watchlist entry for %(threat)s matches this declaration's parties or vehicle",
        "%(count)s watchlist entries for %(threat)s match this declaration's parties or vehicle",
    ),
    threat_only,
    none_when=is_unset,
)
_WATCHLIST_ENTITY = either(
    _NOT_CHECKED,
    mark("%(who)s is on a partner watchlist for %(threat)s"),
    mark("%(who)s is not on a partner watchlist for %(threat)s"),
    party_and_threat,
)

# ------------------------------------------------------------- sentences of their own
_CUSTOMS_VALUE = declared_amount(
    "customs_value_eur",
    mark("customs value is missing"),
    mark("declared customs value is EUR %(amount)s"),
    "amount",
    "grouped",
)
_NET_MASS = declared_amount(
    "net_mass_kg",
    mark("net mass is missing"),
    mark("declared net mass is %(mass)s kg"),
    "mass",
    "grouped_tenth",
)


def _lodged_time(declaration: Mapping[str, Any]) -> pd.Timestamp | None:
    lodged = declaration.get("lodged_at")
    if missing(lodged):
        return None
    stamp = pd.Timestamp(str(lodged))
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _hour(
    match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
) -> str:
    stamp = _lodged_time(declaration)
    if stamp is None:
        return lang.gettext("lodging time is unknown")
    return lang.gettext("lodged at %(time)s UTC") % {"time": f"{stamp:%H:%M}"}


def _night(
    match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
) -> str:
    stamp = _lodged_time(declaration)
    if stamp is None:
        return lang.gettext("lodging time is unknown")
    if value:
        return lang.gettext("lodged at %(time)s, outside usual hours") % {"time": f"{stamp:%H:%M}"}
    return lang.gettext("lodged at %(time)s, within usual hours") % {"time": f"{stamp:%H:%M}"}


def _code(
    match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
) -> str:
    field = match["field"]
    if field == "hs_chapter":
        code = field_text(declaration, "hs_code", lang)[:2]
    else:
        code = field_text(declaration, field, lang)
    values = {"what": lang.pgettext("field", CODE_WORDS[field]), "code": code}
    if missing(value):
        return lang.gettext("%(what)s %(code)s was not seen in training") % values
    return lang.gettext("%(what)s is %(code)s") % values


_ENTITY_PATTERN = "|".join(kind.name for kind in ENTITY_KINDS)
_RULES: tuple[tuple[str, Sentence], ...] = (
    (rf"(?P<entity>{_ENTITY_PATTERN})_declarations", _DECLARATIONS),
    (rf"(?P<entity>{_ENTITY_PATTERN})_inspections", _INSPECTIONS),
    (rf"(?P<entity>{_ENTITY_PATTERN})_hits_(?P<threat>.+)", _HITS),
    (rf"(?P<entity>{_ENTITY_PATTERN})_hit_rate_(?P<threat>.+)", _HIT_RATE),
    (rf"(?P<entity>{_ENTITY_PATTERN})_days_since_first_seen", _FIRST_SEEN),
    (r"(?P<quantity>unit|package)_value_vs_hs_median", _VALUE_VS_MEDIAN),
    (r"(?P<quantity>unit|package)_value_robust_z", _VALUE_Z),
    (r"unit_value_reference_level", _REFERENCE_LEVEL),
    (r"gross_net_mass_ratio", _MASS_RATIO),
    (r"gross_mass_vs_vehicle_type_median", _VEHICLE_MASS),
    (r"customs_value_log", _CUSTOMS_VALUE),
    (r"net_mass_log", _NET_MASS),
    (r"packages", _PACKAGES),
    (r"duty_rate", _DUTY_RATE),
    (r"itinerary_starts_elsewhere", _ITINERARY_START),
    (r"itinerary_ends_elsewhere", _ITINERARY_END),
    (r"transit_countries", _TRANSIT_COUNT),
    (r"origin_differs_from_dispatch", _ORIGIN_DISPATCH),
    (r"transit_hit_rate_max_(?P<threat>.+)", _TRANSIT_RATE),
    (r"lodged_hour", _hour),
    (r"lodged_at_night", _night),
    (r"lodged_weekday", _WEEKDAY),
    (r"postal_or_parcel", _POSTAL),
    (r"postal_to_new_importer", _POSTAL_NEW),
    (r"text_score_(?P<threat>.+)", _TEXT_SCORE),
    (r"description_weapon_words", _WEAPON_WORDS),
    (r"description_weapon_words_outside_ch93", _WEAPON_WORDS_OUTSIDE),
    (r"description_chapter_fit", _CHAPTER_FIT),
    (r"watchlist_hits_(?P<threat>.+)", _WATCHLIST_HITS),
    (
        r"watchlist_(?P<entity>vehicle|importer|exporter|carrier|declarant|itinerary|hs_code)_(?P<threat>.+)",
        _WATCHLIST_ENTITY,
    ),
    (rf"(?P<field>{'|'.join(CODE_WORDS)})", _code),
)
