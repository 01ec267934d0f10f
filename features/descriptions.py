"""Plain-language reasons: one sentence per feature value, for the officer reading a score.

Sentences name codes, counts and rates from the structured fields only; free text from
``goods_description`` is never repeated back (it may hold personal data or be misleading).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from features.entities import ENTITY_KINDS

_ENTITY_WORDS: dict[str, str] = {
    "importer": "importer",
    "declarant": "declarant",
    "exporter": "exporter",
    "carrier": "carrier",
    "vehicle": "vehicle",
    "route": "this route and office",
    "hs4_origin": "this commodity from this origin",
}
_ENTITY_PATTERN = "|".join(kind.name for kind in ENTITY_KINDS)
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_CODE_WORDS: dict[str, str] = {
    "office_id": "customs office",
    "flow": "flow",
    "procedure_code": "procedure",
    "transport_mode": "transport mode",
    "vehicle_type": "vehicle type",
    "origin_country": "origin country",
    "dispatch_country": "dispatch country",
    "destination_country": "destination country",
    "hs_chapter": "HS chapter",
}


def reason_text(feature: str, value: float, declaration: Mapping[str, Any]) -> str:
    """The sentence explaining ``feature`` = ``value`` for this declaration."""
    rule = _rule_for(feature)
    if rule is not None:
        sentence, match = rule
        return sentence(match, value, declaration)
    if feature.startswith("x_"):
        return f"{_field_text(declaration, feature)} is {_number(value)}"
    return f"{feature.replace('_', ' ')} is {_number(value)}"


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


def _field_text(declaration: Mapping[str, Any], field: str, fallback: str = "unknown") -> str:
    value = declaration.get(field)
    return fallback if _missing(value) else str(value)


def _number(value: float) -> str:
    if _missing(value):
        return "unknown"
    return f"{value:g}" if float(value) != int(value) else f"{int(value)}"


def _percent(rate: float) -> str:
    return f"{rate * 100:.0f}%" if rate >= 0.01 else f"{rate * 100:.1f}%"


def _relative(log_ratio: float) -> str:
    """'90% below' / '150% above' / 'in line with' for a log ratio to the usual."""
    change = math.exp(log_ratio) - 1.0
    if abs(change) < 0.05:
        return "in line with"
    return f"{abs(change) * 100:.0f}% {'below' if change < 0 else 'above'}"


def _times(count: float, noun: str, plural: str | None = None) -> str:
    if _missing(count):
        return f"an unknown number of {plural or noun + 's'}"
    count_int = int(count)
    return f"{count_int} {noun if count_int == 1 else plural or noun + 's'}"


def _hs_heading(declaration: Mapping[str, Any]) -> str:
    return _field_text(declaration, "hs_code")[:4]


# ---------------------------------------------------------------------------- families
def _declarations(match: re.Match[str], value: float, declaration: Mapping[str, Any]) -> str:
    who = _ENTITY_WORDS[match["entity"]]
    if _missing(value):
        return f"{who} is not given on the declaration"
    if value == 0:
        return f"{who} has not been seen before (first declaration)"
    return f"{who} was seen in {_times(value, 'earlier declaration')}"


def _inspections(match: re.Match[str], value: float, declaration: Mapping[str, Any]) -> str:
    who = _ENTITY_WORDS[match["entity"]]
    if _missing(value):
        return f"{who} is not given on the declaration"
    if value == 0:
        return f"{who} was never inspected before"
    return f"{who} had {_times(value, 'inspection')} before"


def _hits(match: re.Match[str], value: float, declaration: Mapping[str, Any]) -> str:
    who, threat = _ENTITY_WORDS[match["entity"]], match["threat"]
    if _missing(value):
        return f"{who} is not given on the declaration"
    if value == 0:
        return f"no earlier inspection of {who} found {threat}"
    return f"{who} had {_times(value, 'earlier inspection')} that found {threat}"


def _hit_rate(match: re.Match[str], value: float, declaration: Mapping[str, Any]) -> str:
    who, threat = _ENTITY_WORDS[match["entity"]], match["threat"]
    if _missing(value):
        return f"{who} is not given on the declaration"
    return f"earlier inspections of {who} found {threat} at an estimated rate of {_percent(value)}"


def _first_seen(match: re.Match[str], value: float, declaration: Mapping[str, Any]) -> str:
    who = _ENTITY_WORDS[match["entity"]]
    if _missing(value):
        return f"{who} has never been seen before"
    if value < 1:
        return f"{who} was first seen less than a day before"
    return f"{who} was first seen {_times(value, 'day')} before"


def _value_vs_median(match: re.Match[str], value: float, declaration: Mapping[str, Any]) -> str:
    per = "per kg" if match["quantity"] == "unit" else "per package"
    if _missing(value):
        return f"declared value {per} cannot be compared (value, mass or packages missing)"
    return f"declared value {per} is {_relative(value)} the usual for HS {_hs_heading(declaration)}"


def _value_z(match: re.Match[str], value: float, declaration: Mapping[str, Any]) -> str:
    per = "per kg" if match["quantity"] == "unit" else "per package"
    if _missing(value):
        return f"declared value {per} cannot be compared (value, mass or packages missing)"
    direction = "below" if value < 0 else "above"
    return (
        f"declared value {per} is {abs(value):.1f} typical spreads {direction} the usual "
        f"for HS {_hs_heading(declaration)}"
    )


def _reference_level(match: re.Match[str], value: float, declaration: Mapping[str, Any]) -> str:
    if _missing(value):
        return "no reference value is known for this HS code"
    if value == 0:
        return "value is compared with all declarations (too few with a similar HS code)"
    return f"value is compared with declarations sharing the first {int(value)} HS digits"


def _mass_ratio(match: re.Match[str], value: float, declaration: Mapping[str, Any]) -> str:
    if _missing(value):
        return "gross or net mass is missing"
    return f"gross mass is {value:.1f} times the net mass"


def _vehicle_mass(match: re.Match[str], value: float, declaration: Mapping[str, Any]) -> str:
    vehicle = _field_text(declaration, "vehicle_type", "vehicle")
    if _missing(value):
        return "gross mass cannot be compared with the vehicle type"
    return f"declared gross mass is {_relative(value)} the usual for a {vehicle}"


def _customs_value(match: re.Match[str], value: float, declaration: Mapping[str, Any]) -> str:
    amount = declaration.get("customs_value_eur")
    if _missing(amount):
        return "customs value is missing"
    return f"declared customs value is EUR {float(str(amount)):,.0f}"


def _net_mass(match: re.Match[str], value: float, declaration: Mapping[str, Any]) -> str:
    mass = declaration.get("net_mass_kg")
    if _missing(mass):
        return "net mass is missing"
    return f"declared net mass is {float(str(mass)):,.1f} kg"


def _packages(match: re.Match[str], value: float, declaration: Mapping[str, Any]) -> str:
    if _missing(value):
        return "number of packages is missing"
    return f"declared {_times(value, 'package')}"


def _duty_rate(match: re.Match[str], value: float, declaration: Mapping[str, Any]) -> str:
    if _missing(value):
        return "duty rate is missing"
    return f"duty rate is {value:g}%"


def _itinerary_start(match: re.Match[str], value: float, declaration: Mapping[str, Any]) -> str:
    route = _field_text(declaration, "itinerary")
    dispatch = _field_text(declaration, "dispatch_country")
    if _missing(value):
        return "itinerary or dispatch country is missing"
    if value:
        return f"route {route} does not start in the declared dispatch country {dispatch}"
    return f"route {route} starts in the declared dispatch country {dispatch}"


def _itinerary_end(match: re.Match[str], value: float, declaration: Mapping[str, Any]) -> str:
    route = _field_text(declaration, "itinerary")
    destination = _field_text(declaration, "destination_country")
    if _missing(value):
        return "itinerary or destination country is missing"
    if value:
        return f"route {route} does not end in the declared destination {destination}"
    return f"route {route} ends in the declared destination {destination}"


def _transit_count(match: re.Match[str], value: float, declaration: Mapping[str, Any]) -> str:
    if _missing(value):
        return "no itinerary is declared"
    route = _field_text(declaration, "itinerary")
    return f"route {route} passes through {_times(value, 'transit country', 'transit countries')}"


def _origin_dispatch(match: re.Match[str], value: float, declaration: Mapping[str, Any]) -> str:
    if _missing(value):
        return "origin or dispatch country is missing"
    origin = _field_text(declaration, "origin_country")
    dispatch = _field_text(declaration, "dispatch_country")
    if value:
        return f"goods of origin {origin} were dispatched from another country ({dispatch})"
    return f"goods were dispatched from their origin country {origin}"


def _transit_rate(match: re.Match[str], value: float, declaration: Mapping[str, Any]) -> str:
    if _missing(value):
        return "route has no transit country"
    return (
        f"route transits a country where earlier inspections found {match['threat']} "
        f"at an estimated rate of {_percent(value)}"
    )


def _lodged_time(declaration: Mapping[str, Any]) -> pd.Timestamp | None:
    lodged = declaration.get("lodged_at")
    if _missing(lodged):
        return None
    stamp = pd.Timestamp(str(lodged))
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _hour(match: re.Match[str], value: float, declaration: Mapping[str, Any]) -> str:
    stamp = _lodged_time(declaration)
    if stamp is None:
        return "lodging time is unknown"
    return f"lodged at {stamp:%H:%M} UTC"


def _night(match: re.Match[str], value: float, declaration: Mapping[str, Any]) -> str:
    stamp = _lodged_time(declaration)
    if stamp is None:
        return "lodging time is unknown"
    if value:
        return f"lodged at {stamp:%H:%M}, outside usual hours"
    return f"lodged at {stamp:%H:%M}, within usual hours"


def _weekday(match: re.Match[str], value: float, declaration: Mapping[str, Any]) -> str:
    if _missing(value):
        return "lodging day is unknown"
    return f"lodged on a {_WEEKDAYS[int(value)]}"


def _postal(match: re.Match[str], value: float, declaration: Mapping[str, Any]) -> str:
    if _missing(value):
        return "transport mode and vehicle type are unknown"
    if value:
        return "sent by post or as a parcel"
    return "not a postal or parcel consignment"


def _postal_new(match: re.Match[str], value: float, declaration: Mapping[str, Any]) -> str:
    if _missing(value):
        return "importer is not given on the declaration"
    if value:
        return "postal or parcel consignment to an importer seen rarely or never before"
    return "not a postal consignment to a new or rarely seen importer"


def _text_score(match: re.Match[str], value: float, declaration: Mapping[str, Any]) -> str:
    threat = match["threat"]
    if _missing(value):
        return "goods description could not be scored"
    likeness = "resembles" if value > 0 else "does not resemble"
    return (
        f"goods description wording {likeness} that of earlier inspections that found "
        f"{threat} (text score {value:+.1f})"
    )


def _weapon_words(match: re.Match[str], value: float, declaration: Mapping[str, Any]) -> str:
    if _missing(value):
        return "goods description is missing"
    if not value:
        return "goods description uses no words often used to disguise weapon parts"
    return f"goods description uses {_times(value, 'word')} often used to disguise weapon parts"


def _weapon_words_outside(
    match: re.Match[str], value: float, declaration: Mapping[str, Any]
) -> str:
    if _missing(value):
        return "goods description is missing"
    if not value:
        return "goods description and HS code raise no weapon-parts mismatch"
    return (
        f"goods description uses words typical of weapon parts, but HS "
        f"{_hs_heading(declaration)} is outside chapter 93 (arms and ammunition)"
    )


def _chapter_fit(match: re.Match[str], value: float, declaration: Mapping[str, Any]) -> str:
    chapter = _field_text(declaration, "hs_code")[:2]
    if _missing(value):
        return f"goods description has no words known for HS chapter {chapter}"
    if value < 0.2:
        return f"goods description reads unlike the usual goods of HS chapter {chapter}"
    return f"goods description fits the usual goods of HS chapter {chapter}"


def _watchlist(match: re.Match[str], value: float, declaration: Mapping[str, Any]) -> str:
    if _missing(value):
        return "watchlist could not be checked"
    entity = {"hs_code": "HS code", "itinerary": "route"}.get(match["entity"], match["entity"])
    threat = match["threat"]
    if match["entity"] == "hits":
        if not value:
            return f"no party or vehicle is on a partner watchlist for {threat}"
        return f"{_times(value, 'watchlist entry', 'watchlist entries')} for {threat} match this declaration's parties or vehicle"
    if value:
        return f"{entity} is on a partner watchlist for {threat}"
    return f"{entity} is not on a partner watchlist for {threat}"


def _code(match: re.Match[str], value: float, declaration: Mapping[str, Any]) -> str:
    field = match["field"]
    if field == "hs_chapter":
        code = _field_text(declaration, "hs_code")[:2]
    else:
        code = _field_text(declaration, field)
    if _missing(value):
        return f"{_CODE_WORDS[field]} {code} was not seen in training"
    return f"{_CODE_WORDS[field]} is {code}"


_Sentence = Callable[[re.Match[str], float, Mapping[str, Any]], str]
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
    (
        r"watchlist_(?P<entity>vehicle|importer|exporter|carrier|declarant|itinerary|hs_code|hits)_(?P<threat>.+)",
        _watchlist,
    ),
    (rf"(?P<field>{'|'.join(_CODE_WORDS)})", _code),
)
