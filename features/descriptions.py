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
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from features.entities import ENTITY_KINDS
from features.i18n import DEFAULT_LOCALE, Language, language, mark_in

_ENTITY_WORDS: dict[str, str] = {
    "importer": mark_in("party", "importer"),
    "declarant": mark_in("party", "declarant"),
    "exporter": mark_in("party", "exporter"),
    "carrier": mark_in("party", "carrier"),
    "vehicle": mark_in("party", "vehicle"),
    "route": mark_in("party", "this route and office"),
    "hs4_origin": mark_in("party", "this commodity from this origin"),
}
_ENTITY_PATTERN = "|".join(kind.name for kind in ENTITY_KINDS)
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_CODE_WORDS: dict[str, str] = {
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
_THREAT_WORDS = (
    mark_in("threat", "weapons"),
    mark_in("threat", "migrants"),
    mark_in("threat", "revenue"),
)
_VEHICLE_WORDS = (
    mark_in("vehicle type", "truck"),
    mark_in("vehicle type", "van"),
    mark_in("vehicle type", "car"),
    mark_in("vehicle type", "bus"),
    mark_in("vehicle type", "container"),
    mark_in("vehicle type", "parcel"),
    mark_in("vehicle type", "other"),
    mark_in("vehicle type", "vehicle"),
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
    name = _field_text(declaration, feature, lang) if feature.startswith("x_") else None
    return lang.gettext("%(name)s is %(value)s") % {
        "name": name or feature.replace("_", " "),
        "value": _number(value, lang),
    }


@functools.lru_cache(maxsize=4096)
def _rule_for(feature: str) -> tuple[_Sentence, re.Match[str]] | None:
    """The first rule whose pattern matches the whole feature name, and its match.

    Looked up once per feature name: a score's reasons ask again for the same few names.
    """
    for pattern, sentence in _RULES:
        match = re.fullmatch(pattern, feature)
        if match:
            return sentence, match
    return None


# ---------------------------------------------------------------------------- helpers
def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _field_text(
    declaration: Mapping[str, Any], field: str, lang: Language, fallback: str | None = None
) -> str:
    value = declaration.get(field)
    if _missing(value):
        return lang.gettext("unknown") if fallback is None else fallback
    return str(value)


def _number(value: float, lang: Language) -> str:
    if _missing(value):
        return lang.gettext("unknown")
    if float(value) == int(value):
        return lang.number("count", value)
    return lang.number("general", value)


def _percent(rate: float, lang: Language) -> str:
    return lang.number("percent" if rate >= 0.01 else "percent_tenth", rate)


def _change(log_ratio: float) -> float | None:
    """The relative change for a log ratio to the usual; None when within 5% of it."""
    change = math.exp(log_ratio) - 1.0
    return None if abs(change) < 0.05 else change


def _who(match: re.Match[str], lang: Language) -> str:
    return lang.pgettext("party", _ENTITY_WORDS[match["entity"]])


def _threat(match: re.Match[str], lang: Language) -> str:
    return lang.pgettext("threat", match["threat"])


def _hs_heading(declaration: Mapping[str, Any], lang: Language) -> str:
    return _field_text(declaration, "hs_code", lang)[:4]


def _per(match: re.Match[str], lang: Language) -> str:
    if match["quantity"] == "unit":
        return lang.pgettext("quantity", "per kg")
    return lang.pgettext("quantity", "per package")


# ---------------------------------------------------------------------------- families
def _declarations(
    match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
) -> str:
    who = _who(match, lang)
    if _missing(value):
        return lang.gettext("%(who)s is not given on the declaration") % {"who": who}
    if value == 0:
        return lang.gettext("%(who)s has not been seen before (first declaration)") % {"who": who}
    return lang.ngettext(
        "%(who)s was seen in %(count)s earlier declaration",
        "%(who)s was seen in %(count)s earlier declarations",
        int(value),
    ) % {"who": who, "count": lang.number("count", value)}


def _inspections(
    match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
) -> str:
    who = _who(match, lang)
    if _missing(value):
        return lang.gettext("%(who)s is not given on the declaration") % {"who": who}
    if value == 0:
        return lang.gettext("%(who)s was never inspected before") % {"who": who}
    return lang.ngettext(
        "%(who)s had %(count)s inspection before",
        "%(who)s had %(count)s inspections before",
        int(value),
    ) % {"who": who, "count": lang.number("count", value)}


def _hits(
    match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
) -> str:
    who, threat = _who(match, lang), _threat(match, lang)
    if _missing(value):
        return lang.gettext("%(who)s is not given on the declaration") % {"who": who}
    if value == 0:
        return lang.gettext("no earlier inspection of %(who)s found %(threat)s") % {
            "who": who,
            "threat": threat,
        }
    return lang.ngettext(
        "%(who)s had %(count)s earlier inspection that found %(threat)s",
        "%(who)s had %(count)s earlier inspections that found %(threat)s",
        int(value),
    ) % {"who": who, "count": lang.number("count", value), "threat": threat}


def _hit_rate(
    match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
) -> str:
    who, threat = _who(match, lang), _threat(match, lang)
    if _missing(value):
        return lang.gettext("%(who)s is not given on the declaration") % {"who": who}
    return lang.gettext(
        "earlier inspections of %(who)s found %(threat)s at an estimated rate of %(rate)s"
    ) % {"who": who, "threat": threat, "rate": _percent(value, lang)}


def _first_seen(
    match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
) -> str:
    who = _who(match, lang)
    if _missing(value):
        return lang.gettext("%(who)s has never been seen before") % {"who": who}
    if value < 1:
        return lang.gettext("%(who)s was first seen less than a day before") % {"who": who}
    return lang.ngettext(
        "%(who)s was first seen %(count)s day before",
        "%(who)s was first seen %(count)s days before",
        int(value),
    ) % {"who": who, "count": lang.number("count", value)}


def _not_comparable(match: re.Match[str], lang: Language) -> str:
    return lang.gettext(
        "declared value %(per)s cannot be compared (value, mass or packages missing)"
    ) % {"per": _per(match, lang)}


def _value_vs_median(
    match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
) -> str:
    if _missing(value):
        return _not_comparable(match, lang)
    values = {"per": _per(match, lang), "hs": _hs_heading(declaration, lang)}
    change = _change(value)
    if change is None:
        return (
            lang.gettext("declared value %(per)s is in line with the usual for HS %(hs)s") % values
        )
    values["change"] = lang.number("percent", abs(change))
    if change < 0:
        return (
            lang.gettext("declared value %(per)s is %(change)s below the usual for HS %(hs)s")
            % values
        )
    return (
        lang.gettext("declared value %(per)s is %(change)s above the usual for HS %(hs)s") % values
    )


def _value_z(
    match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
) -> str:
    if _missing(value):
        return _not_comparable(match, lang)
    values = {
        "per": _per(match, lang),
        "spreads": lang.number("tenth", abs(value)),
        "hs": _hs_heading(declaration, lang),
    }
    if value < 0:
        return (
            lang.gettext(
                "declared value %(per)s is %(spreads)s typical spreads below the usual for HS %(hs)s"
            )
            % values
        )
    return (
        lang.gettext(
            "declared value %(per)s is %(spreads)s typical spreads above the usual for HS %(hs)s"
        )
        % values
    )


def _reference_level(
    match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
) -> str:
    if _missing(value):
        return lang.gettext("no reference value is known for this HS code")
    if value == 0:
        return lang.gettext(
            "value is compared with all declarations (too few with a similar HS code)"
        )
    return lang.gettext(
        "value is compared with declarations sharing the first %(digits)s HS digits"
    ) % {"digits": lang.number("count", value)}


def _mass_ratio(
    match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
) -> str:
    if _missing(value):
        return lang.gettext("gross or net mass is missing")
    return lang.gettext("gross mass is %(ratio)s times the net mass") % {
        "ratio": lang.number("tenth", value)
    }


def _vehicle_mass(
    match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
) -> str:
    if _missing(value):
        return lang.gettext("gross mass cannot be compared with the vehicle type")
    vehicle = _field_text(declaration, "vehicle_type", lang, "vehicle")
    values = {"vehicle": lang.pgettext("vehicle type", vehicle)}
    change = _change(value)
    if change is None:
        return (
            lang.gettext("declared gross mass is in line with the usual for a %(vehicle)s") % values
        )
    values["change"] = lang.number("percent", abs(change))
    if change < 0:
        return (
            lang.gettext("declared gross mass is %(change)s below the usual for a %(vehicle)s")
            % values
        )
    return (
        lang.gettext("declared gross mass is %(change)s above the usual for a %(vehicle)s") % values
    )


def _customs_value(
    match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
) -> str:
    amount = declaration.get("customs_value_eur")
    if _missing(amount):
        return lang.gettext("customs value is missing")
    return lang.gettext("declared customs value is EUR %(amount)s") % {
        "amount": lang.number("grouped", float(str(amount)))
    }


def _net_mass(
    match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
) -> str:
    mass = declaration.get("net_mass_kg")
    if _missing(mass):
        return lang.gettext("net mass is missing")
    return lang.gettext("declared net mass is %(mass)s kg") % {
        "mass": lang.number("grouped_tenth", float(str(mass)))
    }


def _packages(
    match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
) -> str:
    if _missing(value):
        return lang.gettext("number of packages is missing")
    return lang.ngettext(
        "declared %(count)s package", "declared %(count)s packages", int(value)
    ) % {"count": lang.number("count", value)}


def _duty_rate(
    match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
) -> str:
    if _missing(value):
        return lang.gettext("duty rate is missing")
    return lang.gettext("duty rate is %(rate)s%%") % {"rate": lang.number("general", value)}


def _itinerary_start(
    match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
) -> str:
    if _missing(value):
        return lang.gettext("itinerary or dispatch country is missing")
    values = {
        "route": _field_text(declaration, "itinerary", lang),
        "dispatch": _field_text(declaration, "dispatch_country", lang),
    }
    if value:
        return (
            lang.gettext(
                "route %(route)s does not start in the declared dispatch country %(dispatch)s"
            )
            % values
        )
    return (
        lang.gettext("route %(route)s starts in the declared dispatch country %(dispatch)s")
        % values
    )


def _itinerary_end(
    match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
) -> str:
    if _missing(value):
        return lang.gettext("itinerary or destination country is missing")
    values = {
        "route": _field_text(declaration, "itinerary", lang),
        "destination": _field_text(declaration, "destination_country", lang),
    }
    if value:
        return (
            lang.gettext("route %(route)s does not end in the declared destination %(destination)s")
            % values
        )
    return lang.gettext("route %(route)s ends in the declared destination %(destination)s") % values


def _transit_count(
    match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
) -> str:
    if _missing(value):
        return lang.gettext("no itinerary is declared")
    return lang.ngettext(
        "route %(route)s passes through %(count)s transit country",
        "route %(route)s passes through %(count)s transit countries",
        int(value),
    ) % {"route": _field_text(declaration, "itinerary", lang), "count": lang.number("count", value)}


def _origin_dispatch(
    match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
) -> str:
    if _missing(value):
        return lang.gettext("origin or dispatch country is missing")
    values = {
        "origin": _field_text(declaration, "origin_country", lang),
        "dispatch": _field_text(declaration, "dispatch_country", lang),
    }
    if value:
        return (
            lang.gettext(
                "goods of origin %(origin)s were dispatched from another country (%(dispatch)s)"
            )
            % values
        )
    return lang.gettext("goods were dispatched from their origin country %(origin)s") % values


def _transit_rate(
    match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
) -> str:
    if _missing(value):
        return lang.gettext("route has no transit country")
    return lang.gettext(
        "route transits a country where earlier inspections found %(threat)s "
        "at an estimated rate of %(rate)s"
    ) % {"threat": _threat(match, lang), "rate": _percent(value, lang)}


def _lodged_time(declaration: Mapping[str, Any]) -> pd.Timestamp | None:
    lodged = declaration.get("lodged_at")
    if _missing(lodged):
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


def _weekday(
    match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
) -> str:
    if _missing(value):
        return lang.gettext("lodging day is unknown")
    return lang.gettext("lodged on a %(weekday)s") % {"weekday": _weekday_name(int(value), lang)}


def _weekday_name(day: int, lang: Language) -> str:
    """Monday is 0, as pandas counts; the name as the locale writes it (CLDR, stand-alone)."""
    if lang.locale == DEFAULT_LOCALE:
        return _WEEKDAYS[day]
    return lang.weekday(day)


def _postal(
    match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
) -> str:
    if _missing(value):
        return lang.gettext("transport mode and vehicle type are unknown")
    if value:
        return lang.gettext("sent by post or as a parcel")
    return lang.gettext("not a postal or parcel consignment")


def _postal_new(
    match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
) -> str:
    if _missing(value):
        return lang.gettext("importer is not given on the declaration")
    if value:
        return lang.gettext(
            "postal or parcel consignment to an importer seen rarely or never before"
        )
    return lang.gettext("not a postal consignment to a new or rarely seen importer")


def _text_score(
    match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
) -> str:
    if _missing(value):
        return lang.gettext("goods description could not be scored")
    values = {"threat": _threat(match, lang), "score": lang.number("signed_tenth", value)}
    if value > 0:
        return (
            lang.gettext(
                "goods description wording resembles that of earlier inspections that found "
                "%(threat)s (text score %(score)s)"
            )
            % values
        )
    return (
        lang.gettext(
            "goods description wording does not resemble that of earlier inspections that found "
            "%(threat)s (text score %(score)s)"
        )
        % values
    )


def _weapon_words(
    match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
) -> str:
    if _missing(value):
        return lang.gettext("goods description is missing")
    if not value:
        return lang.gettext("goods description uses no words often used to disguise weapon parts")
    return lang.ngettext(
        "goods description uses %(count)s word often used to disguise weapon parts",
        "goods description uses %(count)s words often used to disguise weapon parts",
        int(value),
    ) % {"count": lang.number("count", value)}


def _weapon_words_outside(
    match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
) -> str:
    if _missing(value):
        return lang.gettext("goods description is missing")
    if not value:
        return lang.gettext("goods description and HS code raise no weapon-parts mismatch")
    return lang.gettext(
        "goods description uses words typical of weapon parts, but HS %(hs)s is outside "
        "chapter 93 (arms and ammunition)"
    ) % {"hs": _hs_heading(declaration, lang)}


def _chapter_fit(
    match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
) -> str:
    values = {"chapter": _field_text(declaration, "hs_code", lang)[:2]}
    if _missing(value):
        return (
            lang.gettext("goods description has no words known for HS chapter %(chapter)s") % values
        )
    if value < 0.2:
        return (
            lang.gettext("goods description reads unlike the usual goods of HS chapter %(chapter)s")
            % values
        )
    return lang.gettext("goods description fits the usual goods of HS chapter %(chapter)s") % values


def _watchlist(
    match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
) -> str:
    if _missing(value):
        return lang.gettext("watchlist could not be checked")
    entity, threat = match["entity"], _threat(match, lang)
    if entity == "hits":
        if not value:
            return lang.gettext("no party or vehicle is on a partner watchlist for %(threat)s") % {
                "threat": threat
            }
        return lang.ngettext(
            "%(count)s watchlist entry for %(threat)s matches this declaration's parties or vehicle",
            "%(count)s watchlist entries for %(threat)s match this declaration's parties or vehicle",
            int(value),
        ) % {"count": lang.number("count", value), "threat": threat}
    values = {"who": _who(match, lang), "threat": threat}
    if value:
        return lang.gettext("%(who)s is on a partner watchlist for %(threat)s") % values
    return lang.gettext("%(who)s is not on a partner watchlist for %(threat)s") % values


def _code(
    match: re.Match[str], value: float, declaration: Mapping[str, Any], lang: Language
) -> str:
    field = match["field"]
    if field == "hs_chapter":
        code = _field_text(declaration, "hs_code", lang)[:2]
    else:
        code = _field_text(declaration, field, lang)
    values = {"what": lang.pgettext("field", _CODE_WORDS[field]), "code": code}
    if _missing(value):
        return lang.gettext("%(what)s %(code)s was not seen in training") % values
    return lang.gettext("%(what)s is %(code)s") % values


_Sentence = Callable[[re.Match[str], float, Mapping[str, Any], Language], str]

_RULES: tuple[tuple[str, _Sentence], ...] = (
    (rf"(?P<entity>{_ENTITY_PATTERN})_declarations", _declarations),
    (rf"(?P<entity>{_ENTITY_PATTERN})_inspections", _inspections),
    (rf"(?P<entity>{_ENTITY_PATTERN})_hits_(?P<threat>.+)", _hits),
    (rf"(?P<entity>{_ENTITY_PATTERN})_hit_rate_(?P<threat>.+)", _hit_rate),
    (rf"(?P<entity>{_ENTITY_PATTERN})_days_since_first_seen", _first_seen),
    (r"(?P<quantity>unit|package)_value_vs_hs_median", _value_vs_median),
    (r"(?P<quantity>unit|package)_value_robust_z", _value_z),
    (r"unit_value_reference_level", _reference_level),
    (r"gross_net_mass_ratio", _mass_ratio),
    (r"gross_mass_vs_vehicle_type_median", _vehicle_mass),
    (r"customs_value_log", _customs_value),
    (r"net_mass_log", _net_mass),
    (r"packages", _packages),
    (r"duty_rate", _duty_rate),
    (r"itinerary_starts_elsewhere", _itinerary_start),
    (r"itinerary_ends_elsewhere", _itinerary_end),
    (r"transit_countries", _transit_count),
    (r"origin_differs_from_dispatch", _origin_dispatch),
    (r"transit_hit_rate_max_(?P<threat>.+)", _transit_rate),
    (r"lodged_hour", _hour),
    (r"lodged_at_night", _night),
    (r"lodged_weekday", _weekday),
    (r"postal_or_parcel", _postal),
    (r"postal_to_new_importer", _postal_new),
    (r"text_score_(?P<threat>.+)", _text_score),
    (r"description_weapon_words", _weapon_words),
    (r"description_weapon_words_outside_ch93", _weapon_words_outside),
    (r"description_chapter_fit", _chapter_fit),
    (r"watchlist_(?P<entity>vehicle|importer|exporter|carrier|hits)_(?P<threat>.+)", _watchlist),
    (rf"(?P<field>{'|'.join(_CODE_WORDS)})", _code),
)
