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
    changed,
    chapter,
    count,
    declared_amount,
    field_text,
    fields,
    general,
    hs,
    in_line,
    is_set,
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

_DECLARATIONS = Sentences(
    _NOT_GIVEN,
    (
        (is_zero, mark("%(who)s has not been seen before (first declaration)")),
        (
            always,
            mark_plural(
                "%(who)s was seen in %(count)s earlier declaration",
                "%(who)s was seen in %(count)s earlier declarations",
            ),
        ),
    ),
    party,
    ("count", count),
)
_INSPECTIONS = Sentences(
    _NOT_GIVEN,
    (
        (is_zero, mark("%(who)s was never inspected before")),
        (
            always,
            mark_plural(
                "%(who)s had %(count)s inspection before",
                "%(who)s had %(count)s inspections before",
            ),
        ),
    ),
    party,
    ("count", count),
)
_HITS = Sentences(
    _NOT_GIVEN,
    (
        (is_zero, mark("no earlier inspection of %(who)s found %(threat)s")),
        (
            always,
            mark_plural(
                "%(who)s had %(count)s earlier inspection that found %(threat)s",
                "%(who)s had %(count)s earlier inspections that found %(threat)s",
            ),
        ),
    ),
    party_and_threat,
    ("count", count),
)
_HIT_RATE = Sentences(
    _NOT_GIVEN,
    (
        (
            always,
            mark(
                "earlier inspections of %(who)s found %(threat)s at an estimated rate of %(rate)s"
            ),
        ),
    ),
    party_and_threat,
    ("rate", percent),
)
_FIRST_SEEN = Sentences(
    mark("%(who)s has never been seen before"),
    (
        (below_one, mark("%(who)s was first seen less than a day before")),
        (
            always,
            mark_plural(
                "%(who)s was first seen %(count)s day before",
                "%(who)s was first seen %(count)s days before",
            ),
        ),
    ),
    party,
    ("count", count),
)
_VALUE_VS_MEDIAN = Sentences(
    mark("declared value %(per)s cannot be compared (value, mass or packages missing)"),
    (
        (in_line, mark("declared value %(per)s is in line with the usual for HS %(hs)s")),
        (negative, mark("declared value %(per)s is %(change)s below the usual for HS %(hs)s")),
        (always, mark("declared value %(per)s is %(change)s above the usual for HS %(hs)s")),
    ),
    per_and_hs,
    ("change", changed),
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
_MASS_RATIO = Sentences(
    mark("gross or net mass is missing"),
    ((always, mark("gross mass is %(ratio)s times the net mass")),),
    shown=("ratio", tenth),
)
_VEHICLE_MASS = Sentences(
    mark("gross mass cannot be compared with the vehicle type"),
    (
        (in_line, mark("declared gross mass is in line with the usual for a %(vehicle)s")),
        (negative, mark("declared gross mass is %(change)s below the usual for a %(vehicle)s")),
        (always, mark("declared gross mass is %(change)s above the usual for a %(vehicle)s")),
    ),
    vehicle_type,
    ("change", changed),
)
_PACKAGES = Sentences(
    mark("number of packages is missing"),
    ((always, mark_plural("declared %(count)s package", "declared %(count)s packages")),),
    shown=("count", count),
)
_DUTY_RATE = Sentences(
    mark("duty rate is missing"),
    ((always, mark("duty rate is %(rate)s%%")),),
    shown=("rate", general),
)
_ITINERARY_START = Sentences(
    mark("itinerary or dispatch country is missing"),
    (
        (
            is_set,
            mark("route %(route)s does not start in the declared dispatch country %(dispatch)s"),
        ),
        (always, mark("route %(route)s starts in the declared dispatch country %(dispatch)s")),
    ),
    fields(route="itinerary", dispatch="dispatch_country"),
)
_ITINERARY_END = Sentences(
    mark("itinerary or destination country is missing"),
    (
        (is_set, mark("route %(route)s does not end in the declared destination %(destination)s")),
        (always, mark("route %(route)s ends in the declared destination %(destination)s")),
    ),
    fields(route="itinerary", destination="destination_country"),
)
_TRANSIT_COUNT = Sentences(
    mark("no itinerary is declared"),
    (
        (
            always,
            mark_plural(
                "route %(route)s passes through %(count)s transit country",
                "route %(route)s passes through %(count)s transit countries",
            ),
        ),
    ),
    fields(route="itinerary"),
    ("count", count),
)
_ORIGIN_DISPATCH = Sentences(
    mark("origin or dispatch country is missing"),
    (
        (
            is_set,
            mark("goods of origin %(origin)s were dispatched from another country (%(dispatch)s)"),
        ),
        (always, mark("goods were dispatched from their origin country %(origin)s")),
    ),
    fields(origin="origin_country", dispatch="dispatch_country"),
)
_TRANSIT_RATE = Sentences(
    mark("route has no transit country"),
    (
        (
            always,
            mark(
                "route transits a country where earlier inspections found %(threat)s "
                "at an estimated rate of %(rate)s"
            ),
        ),
    ),
    threat_only,
    ("rate", percent),
)
_WEEKDAY = Sentences(
    mark("lodging day is unknown"),
    ((always, mark("lodged on a %(weekday)s")),),
    shown=("weekday", weekday_of),
)
_POSTAL = Sentences(
    mark("transport mode and vehicle type are unknown"),
    (
        (is_set, mark("sent by post or as a parcel")),
        (always, mark("not a postal or parcel consignment")),
    ),
)
_POSTAL_NEW = Sentences(
    mark("importer is not given on the declaration"),
    (
        (is_set, mark("postal or parcel consignment to an importer seen rarely or never before")),
        (always, mark("not a postal consignment to a new or rarely seen importer")),
    ),
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
_WEAPON_WORDS = Sentences(
    _NO_DESCRIPTION,
    (
        (is_unset, mark("goods description uses no words often used to disguise weapon parts")),
        (
            always,
            mark_plural(
                "goods description uses %(count)s word often used to disguise weapon parts",
                "goods description uses %(count)s words often used to disguise weapon parts",
            ),
        ),
    ),
    shown=("count", count),
)
_WEAPON_WORDS_OUTSIDE = Sentences(
    _NO_DESCRIPTION,
    (
        (is_unset, mark("goods description and HS code raise no weapon-parts mismatch")),
        (
            always,
            mark(
                "goods description uses words typical of weapon parts, but HS %(hs)s is outside "
                "chapter 93 (arms and ammunition)"
            ),
        ),
    ),
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
_WATCHLIST_HITS = Sentences(
    _NOT_CHECKED,
    (
        (is_unset, mark("no party or vehicle is on a partner watchlist for %(threat)s")),
        (
            always,
            mark_plural(
                "%(count)s watchlist entry for %(threat)s matches this declaration's parties "
                "or vehicle",
                "%(count)s watchlist entries for %(threat)s match this declaration's parties "
                "or vehicle",
            ),
        ),
    ),
    threat_only,
    ("count", count),
)
_WATCHLIST_ENTITY = Sentences(
    _NOT_CHECKED,
    (
        (is_set, mark("%(who)s is on a partner watchlist for %(threat)s")),
        (always, mark("%(who)s is not on a partner watchlist for %(threat)s")),
    ),
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
