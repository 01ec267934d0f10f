"""Words the pages show for machine names: a feature's label, a declaration field's name, a
coded value's word, and a declared value as the page's locale writes it.

The API keeps its machine names (``feature``, field names, codes such as ``sea``); the
pages label them here, through the ``pages`` catalogue, so a risk manager reading the
importance table in Serbian reads "uvoznik: ranije deklaracije", not
``importer_declarations``. A feature is labelled by the first pattern that matches its whole
name (features are made per entity and threat, so most labels have placeholders); the words
for parties, threats and fields are the reason sentences' own (`features.sentences`, in
the ``reasons`` catalogue), so a label and a reason name a thing alike. A feature no pattern
knows (a deployment's extra column ``x_...``) reads as its name with spaces.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from babel.numbers import format_decimal
from jinja2 import pass_context
from jinja2.runtime import Context

from features.entities import ENTITY_KINDS
from features.i18n import DEFAULT_LOCALE, language, mark, mark_in
from features.schema import WATCHLIST_ENTITY_TYPES
from features.sentences import CODE_WORDS, ENTITY_WORDS
from serving.web.i18n import DASH, page_language, when

_ENTITIES = "|".join(kind.name for kind in ENTITY_KINDS)
_LISTED = "|".join(kind.removesuffix("_id") for kind in WATCHLIST_ENTITY_TYPES)
# (pattern of the whole feature name, its label); placeholders: who, threat. A coded field's
# feature (office_id, hs_chapter, ...) is labelled with the field's word.
FEATURE_LABELS: tuple[tuple[str, str], ...] = (
    (rf"(?P<entity>{_ENTITIES})_declarations", mark("%(who)s: earlier declarations")),
    (rf"(?P<entity>{_ENTITIES})_inspections", mark("%(who)s: earlier inspections")),
    (rf"(?P<entity>{_ENTITIES})_hits_(?P<threat>.+)", mark("%(who)s: earlier finds of %(threat)s")),
    (rf"(?P<entity>{_ENTITIES})_hit_rate_(?P<threat>.+)", mark("%(who)s: hit rate for %(threat)s")),
    (rf"(?P<entity>{_ENTITIES})_days_since_first_seen", mark("%(who)s: days since first seen")),
    (r"unit_value_vs_hs_median", mark("value per kg against the usual for the HS code")),
    (r"unit_value_robust_z", mark("value per kg, deviation from the usual for the HS code")),
    (r"unit_value_reference_level", mark("usual value per kg of the HS code")),
    (r"package_value_vs_hs_median", mark("value per package against the usual for the HS code")),
    (
        r"package_value_robust_z",
        mark("value per package, deviation from the usual for the HS code"),
    ),
    (r"gross_net_mass_ratio", mark("gross to net mass")),
    (r"gross_mass_vs_vehicle_type_median", mark("gross mass against the usual for the vehicle")),
    (r"customs_value_log", mark("customs value")),
    (r"net_mass_log", mark("net mass")),
    (r"packages", mark("number of packages")),
    (r"duty_rate", mark("duty rate")),
    (r"itinerary_starts_elsewhere", mark("route starts outside the dispatch country")),
    (r"itinerary_ends_elsewhere", mark("route ends outside the destination country")),
    (r"transit_countries", mark("countries in transit")),
    (r"origin_differs_from_dispatch", mark("origin differs from dispatch")),
    (
        r"transit_hit_rate_max_(?P<threat>.+)",
        mark("highest hit rate for %(threat)s of a transit country"),
    ),
    (r"lodged_hour", mark("hour of lodging")),
    (r"lodged_weekday", mark("day of the week of lodging")),
    (r"lodged_at_night", mark("lodged at night")),
    (r"postal_or_parcel", mark("post or parcel")),
    (r"postal_to_new_importer", mark("post or parcel to a new importer")),
    (r"text_score_(?P<threat>.+)", mark("goods description read for %(threat)s")),
    (r"description_weapon_words", mark("weapon words in the goods description")),
    (
        r"description_weapon_words_outside_ch93",
        mark("weapon words in the goods description outside HS chapter 93"),
    ),
    (r"description_chapter_fit", mark("goods description typical of the HS chapter")),
    (r"watchlist_hits_(?P<threat>.+)", mark("watchlist hits for %(threat)s")),
    (
        rf"watchlist_(?P<entity>{_LISTED})_(?P<threat>.+)",
        mark("%(who)s on the watchlist for %(threat)s"),
    ),
)

# Canonical declaration fields (features.schema) as the declaration page names them.
FIELD_NAMES: Mapping[str, str] = {
    "declaration_id": mark_in("field", "declaration"),
    "lodged_at": mark_in("field", "lodged at"),
    "office_id": mark_in("field", "customs office"),
    "flow": mark_in("field", "flow"),
    "procedure_code": mark_in("field", "procedure"),
    "transport_mode": mark_in("field", "transport mode"),
    "vehicle_id": mark_in("field", "vehicle"),
    "vehicle_type": mark_in("field", "vehicle type"),
    "declarant_id": mark_in("field", "declarant"),
    "importer_id": mark_in("field", "importer"),
    "exporter_id": mark_in("field", "exporter"),
    "carrier_id": mark_in("field", "carrier"),
    "origin_country": mark_in("field", "origin country"),
    "dispatch_country": mark_in("field", "dispatch country"),
    "destination_country": mark_in("field", "destination country"),
    "itinerary": mark_in("field", "route"),
    "hs_code": mark_in("field", "HS code"),
    "goods_description": mark_in("field", "goods description"),
    "packages": mark_in("field", "packages"),
    "gross_mass_kg": mark_in("field", "gross mass (kg)"),
    "net_mass_kg": mark_in("field", "net mass (kg)"),
    "customs_value_eur": mark_in("field", "customs value (EUR)"),
    "duty_rate": mark_in("field", "duty rate (percent)"),
}
# Coded values, per field (features.schema's vocabularies): field -> (context, {code: word}).
CODED_VALUES: Mapping[str, tuple[str, Mapping[str, str]]] = {
    "flow": (
        "flow",
        {
            "import": mark_in("flow", "import"),
            "export": mark_in("flow", "export"),
            "transit": mark_in("flow", "transit"),
        },
    ),
    "transport_mode": (
        "transport mode",
        {
            "sea": mark_in("transport mode", "sea"),
            "rail": mark_in("transport mode", "rail"),
            "road": mark_in("transport mode", "road"),
            "air": mark_in("transport mode", "air"),
            "postal": mark_in("transport mode", "post"),
            "fixed": mark_in("transport mode", "fixed installation"),
            "inland_water": mark_in("transport mode", "inland waterway"),
            "own_propulsion": mark_in("transport mode", "own propulsion"),
            "unknown": mark_in("transport mode", "unknown"),
        },
    ),
    "vehicle_type": (
        "vehicle type",
        {
            "truck": mark_in("vehicle type", "truck"),
            "van": mark_in("vehicle type", "van"),
            "car": mark_in("vehicle type", "car"),
            "bus": mark_in("vehicle type", "bus"),
            "container": mark_in("vehicle type", "container"),
            "parcel": mark_in("vehicle type", "parcel"),
            "other": mark_in("vehicle type", "other"),
        },
    ),
    "inspection_type": (
        "inspection type",
        {
            "documentary": mark_in("inspection type", "documentary"),
            "physical": mark_in("inspection type", "physical"),
            "scan": mark_in("inspection type", "scan"),
        },
    ),
    "result": (
        "result",
        {
            "clear": mark_in("result", "clear"),
            "irregular": mark_in("result", "irregular"),
        },
    ),
    "selection_reason": (
        "selected by",
        {
            "model": mark_in("selected by", "model"),
            "rule": mark_in("selected by", "rule"),
            "random": mark_in("selected by", "random"),
            "officer": mark_in("selected by", "officer"),
            "intelligence": mark_in("selected by", "intelligence"),
        },
    ),
}
# The roles of people and keys (serving.access.keys.Role), as the pages' header names them.
ROLE_NAMES: Mapping[str, str] = {
    "officer": mark("officer"),
    "risk_manager": mark("risk manager"),
    "admin": mark("administrator"),
}
# Declared amounts, written as numbers of the locale (grouping, decimal comma).
AMOUNTS = frozenset({"packages", "gross_mass_kg", "net_mass_kg", "customs_value_eur", "duty_rate"})


@functools.lru_cache(maxsize=4096)
def _label_rule(feature: str) -> tuple[str, re.Match[str]] | None:
    for pattern, label in FEATURE_LABELS:
        match = re.fullmatch(pattern, feature)
        if match:
            return label, match
    return None


def feature_label(feature: str, locale: str = DEFAULT_LOCALE) -> str:
    """A feature's label in ``locale`` ("importer: earlier declarations"); a feature no
    pattern knows reads as its name with spaces."""
    if feature in CODE_WORDS:
        return language(locale).pgettext("field", CODE_WORDS[feature])
    rule = _label_rule(feature)
    if rule is None:
        return feature.removeprefix("x_").replace("_", " ")
    label, match = rule
    words = language(locale)  # the reason sentences' words for parties, threats, fields
    groups = match.groupdict()
    values = {
        "who": words.pgettext("party", ENTITY_WORDS[groups["entity"]])
        if groups.get("entity")
        else "",
        "threat": words.pgettext("threat", groups["threat"]) if groups.get("threat") else "",
    }
    return page_language(locale).gettext(label) % values


def field_name(field: str, locale: str = DEFAULT_LOCALE) -> str:
    """A declaration field's name in ``locale``; an extra column reads as its name."""
    name = FIELD_NAMES.get(field)
    if name is None:
        return field.removeprefix("x_").replace("_", " ")
    return page_language(locale).pgettext("field", name)


def coded_value(field: str, value: Any, locale: str = DEFAULT_LOCALE) -> str:
    """The word for a coded value of ``field`` in ``locale``; a code not listed as given."""
    known = CODED_VALUES.get(field)
    text = str(value)
    if known is None or text not in known[1]:
        return text
    context, words = known
    return page_language(locale).pgettext(context, words[text])


def _locale(context: Context) -> str:
    return str(context.get("locale") or DEFAULT_LOCALE)


@pass_context
def feature_label_filter(context: Context, feature: Any) -> str:
    """Template filter: :func:`feature_label` in the page's locale."""
    return feature_label(str(feature), _locale(context))


@pass_context
def field_name_filter(context: Context, field: Any) -> str:
    """Template filter: :func:`field_name` in the page's locale."""
    return field_name(str(field), _locale(context))


@pass_context
def coded_filter(context: Context, value: Any, field: str) -> str:
    """Template filter: :func:`coded_value` of ``field`` in the page's locale."""
    return DASH if value is None or value == "" else coded_value(field, value, _locale(context))


@pass_context
def field_value(context: Context, value: Any, field: str) -> str:
    """A declared value as the page's locale writes it: times and days, amounts with the
    locale's digits, coded values in words, anything else as given."""
    if field == "lodged_at":
        return str(when(context, value))
    if field in CODED_VALUES:
        return coded_value(field, value, _locale(context))
    if field in AMOUNTS and isinstance(value, int | float) and not isinstance(value, bool):
        return str(format_decimal(value, "#,##0.###", locale=_locale(context)))
    return str(value)


@pass_context
def role_name(context: Context, role: Any) -> str:
    """A role's name in the page's locale; a role not listed with spaces for underscores."""
    name = ROLE_NAMES.get(str(role))
    if name is None:
        return str(role or DASH).replace("_", " ")
    return page_language(_locale(context)).gettext(name)


FILTERS: Mapping[str, Any] = {
    "role_name": role_name,
    "feature_label": feature_label_filter,
    "field_name": field_name_filter,
    "coded": coded_filter,
    "field_value": field_value,
}
