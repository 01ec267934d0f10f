"""Which features a `features.builder.FeatureBuilder` makes: their names, groups and the
canonical fields each is computed from (SHAP contributions are grouped by those fields).

The lists depend only on the builder's parameters (threats, extra columns), never on the
fitted data, so a loaded builder describes its features exactly as the fitted one did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from features.codes import CODE_FIELDS
from features.entities import ENTITY_KINDS
from features.history import entity_feature_names
from features.schema import WATCHLIST_ENTITY_TYPES
from features.watchlist import watchlist_feature_name, watchlist_feature_names

VALUE_FEATURES: tuple[str, ...] = (
    "unit_value_vs_hs_median",
    "unit_value_robust_z",
    "unit_value_reference_level",
    "package_value_vs_hs_median",
    "package_value_robust_z",
    "gross_net_mass_ratio",
    "gross_mass_vs_vehicle_type_median",
    "customs_value_log",
    "net_mass_log",
    "packages",
    "duty_rate",
)
ITINERARY_FEATURES: tuple[str, ...] = (
    "itinerary_starts_elsewhere",
    "itinerary_ends_elsewhere",
    "transit_countries",
    "origin_differs_from_dispatch",
)
CALENDAR_FEATURES: tuple[str, ...] = ("lodged_hour", "lodged_weekday", "lodged_at_night")
POSTAL_FEATURES: tuple[str, ...] = ("postal_or_parcel", "postal_to_new_importer")
DESCRIPTION_FEATURES: tuple[str, ...] = (
    "description_weapon_words",
    "description_weapon_words_outside_ch93",
    "description_chapter_fit",
)

# Canonical fields each fixed feature is computed from.
FIXED_FEATURE_FIELDS: dict[str, list[str]] = {
    "unit_value_vs_hs_median": ["customs_value_eur", "net_mass_kg", "hs_code"],
    "unit_value_robust_z": ["customs_value_eur", "net_mass_kg", "hs_code"],
    "unit_value_reference_level": ["hs_code"],
    "package_value_vs_hs_median": ["customs_value_eur", "packages", "hs_code"],
    "package_value_robust_z": ["customs_value_eur", "packages", "hs_code"],
    "gross_net_mass_ratio": ["gross_mass_kg", "net_mass_kg"],
    "gross_mass_vs_vehicle_type_median": ["gross_mass_kg", "vehicle_type"],
    "customs_value_log": ["customs_value_eur"],
    "net_mass_log": ["net_mass_kg"],
    "packages": ["packages"],
    "duty_rate": ["duty_rate"],
    "itinerary_starts_elsewhere": ["itinerary", "dispatch_country"],
    "itinerary_ends_elsewhere": ["itinerary", "destination_country"],
    "transit_countries": ["itinerary"],
    "origin_differs_from_dispatch": ["origin_country", "dispatch_country"],
    "lodged_hour": ["lodged_at"],
    "lodged_weekday": ["lodged_at"],
    "lodged_at_night": ["lodged_at"],
    "postal_or_parcel": ["transport_mode", "vehicle_type"],
    "postal_to_new_importer": ["transport_mode", "vehicle_type", "importer_id"],
    "description_weapon_words": ["goods_description"],
    "description_weapon_words_outside_ch93": ["goods_description", "hs_code"],
    "description_chapter_fit": ["goods_description", "hs_code"],
    "hs_chapter": ["hs_code"],
}


@dataclass(frozen=True)
class FeatureLists:
    """A builder's features: ``names`` in matrix order, ``groups`` (group -> features;
    training may drop groups), the ``categorical`` ones and ``fields`` (feature ->
    canonical fields it is computed from)."""

    groups: dict[str, list[str]]
    names: list[str]
    categorical: list[str]
    fields: dict[str, list[str]]


def feature_lists(
    threats: Sequence[str], extra_categorical: Sequence[str], extra_numeric: Sequence[str]
) -> FeatureLists:
    """The features a builder with these parameters makes, group by group."""
    threats = list(threats)
    groups: dict[str, list[str]] = {
        "history": [
            name for kind in ENTITY_KINDS for name in entity_feature_names(kind.name, threats)
        ],
        "value": list(VALUE_FEATURES),
        "route": [
            *ITINERARY_FEATURES,
            *[f"transit_hit_rate_max_{threat}" for threat in threats],
        ],
        "calendar": list(CALENDAR_FEATURES),
        "postal": list(POSTAL_FEATURES),
        "text": [*[f"text_score_{threat}" for threat in threats], *DESCRIPTION_FEATURES],
        "watchlist": watchlist_feature_names(threats),
        "codes": [*CODE_FIELDS, *extra_categorical],
        "extra": list(extra_numeric),
    }
    names = [name for group in groups.values() for name in group]
    fields: dict[str, list[str]] = {}
    for kind in ENTITY_KINDS:
        for name in entity_feature_names(kind.name, threats):
            fields[name] = list(kind.fields)
    for threat in threats:
        fields[f"transit_hit_rate_max_{threat}"] = ["itinerary"]
        fields[f"text_score_{threat}"] = ["goods_description"]
    for entity_type in WATCHLIST_ENTITY_TYPES:
        for threat in threats:
            fields[watchlist_feature_name(entity_type, threat)] = [entity_type]
    for threat in threats:
        fields[f"watchlist_hits_{threat}"] = list(WATCHLIST_ENTITY_TYPES)
    for name in [*CODE_FIELDS, *extra_categorical, *extra_numeric]:
        fields.setdefault(name, [name])
    for name, source in FIXED_FEATURE_FIELDS.items():
        fields[name] = list(source)
    return FeatureLists(
        groups=groups,
        names=names,
        categorical=list(groups["codes"]),
        fields={name: fields[name] for name in names},
    )
