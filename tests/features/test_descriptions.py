"""Reason sentences: exact wording per feature family, never the free-text description."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from features.builder import FeatureBuilder
from features.descriptions import reason_text
from tests.features.builder_frames import declarations_frame, labels_frame

DECLARATION = {
    "declaration_id": "D1",
    "lodged_at": pd.Timestamp("2024-03-03T03:00Z"),
    "hs_code": "93059000",
    "itinerary": "GR>MK>RS",
    "dispatch_country": "GR",
    "destination_country": "HU",
    "origin_country": "TR",
    "vehicle_type": "van",
    "office_id": "MK-TAB",
    "customs_value_eur": 12345.0,
    "goods_description": "SECRET consignee note: call Ana",
}


@pytest.mark.parametrize(
    ("feature", "value", "sentence"),
    [
        (
            "unit_value_vs_hs_median",
            math.log(0.1),
            "declared value per kg is 90% below the usual for HS 9305",
        ),
        (
            "package_value_vs_hs_median",
            math.log(2.5),
            "declared value per package is 150% above the usual for HS 9305",
        ),
        (
            "unit_value_vs_hs_median",
            0.01,
            "declared value per kg is in line with the usual for HS 9305",
        ),
        ("importer_hits_revenue", 3.0, "importer had 3 earlier inspections that found revenue"),
        ("importer_inspections", 5.0, "importer had 5 inspections before"),
        ("carrier_declarations", 0.0, "carrier has not been seen before (first declaration)"),
        ("vehicle_days_since_first_seen", np.nan, "vehicle has never been seen before"),
        (
            "exporter_hit_rate_weapons",
            0.125,
            "earlier inspections of exporter found weapons at an estimated rate of 12%",
        ),
        ("watchlist_vehicle_migrants", 1.0, "vehicle is on a partner watchlist for migrants"),
        (
            "watchlist_hits_weapons",
            2.0,
            "2 watchlist entries for weapons match this declaration's parties or vehicle",
        ),
        ("lodged_at_night", 1.0, "lodged at 03:00, outside usual hours"),
        ("lodged_weekday", 6.0, "lodged on a Sunday"),
        (
            "itinerary_ends_elsewhere",
            1.0,
            "route GR>MK>RS does not end in the declared destination HU",
        ),
        (
            "itinerary_starts_elsewhere",
            0.0,
            "route GR>MK>RS starts in the declared dispatch country GR",
        ),
        ("transit_countries", 1.0, "route GR>MK>RS passes through 1 transit country"),
        (
            "transit_hit_rate_max_migrants",
            0.08,
            "route transits a country where earlier inspections found migrants at an estimated rate of 8%",
        ),
        (
            "gross_mass_vs_vehicle_type_median",
            math.log(0.2),
            "declared gross mass is 80% below the usual for a van",
        ),
        ("customs_value_log", 9.42, "declared customs value is EUR 12,345"),
        (
            "description_weapon_words_outside_ch93",
            2.0,
            "goods description uses words typical of weapon parts, but HS 9305 is outside chapter 93 (arms and ammunition)",
        ),
        ("office_id", np.nan, "customs office MK-TAB was not seen in training"),
        ("hs_chapter", 3.0, "HS chapter is 93"),
        ("x_process_type", 2.0, "B is 2"),
    ],
)
def test_sentence_for_each_family(feature: str, value: float, sentence: str) -> None:
    declaration = {**DECLARATION, "x_process_type": "B"}
    assert reason_text(feature, value, declaration) == sentence


def test_no_sentence_repeats_the_goods_description() -> None:
    declarations = declarations_frame(
        [
            {"declaration_id": "D1", "lodged_at": "2024-01-01T00:00Z"},
            {"declaration_id": "D2", "lodged_at": "2024-01-02T00:00Z"},
        ]
    )
    labels = labels_frame([{"known_at": "2024-01-01T12:00Z", "weapons": 1}, None])
    builder = FeatureBuilder(("weapons", "migrants", "revenue")).fit(declarations, labels)
    features = builder.transform(
        declarations_frame([DECLARATION | {"lodged_at": "2024-03-03T03:00Z"}])
    )
    for name in builder.feature_names_:
        for value in (float(features[name].to_numpy()[0]), 0.0, 1.0, np.nan):
            sentence = reason_text(name, value, DECLARATION)
            assert "secret" not in sentence.casefold() and "ana" not in sentence.split()
            assert sentence and "_" not in sentence, (name, sentence)


# ---------------------------------------------------------------------------- languages
@pytest.mark.parametrize(
    ("locale", "feature", "value", "sentence"),
    [
        ("sr_Latn", "customs_value_log", 9.42, "prijavljena carinska vrednost je 12.345 EUR"),
        ("sq", "customs_value_log", 9.42, "vlera doganore e deklaruar është 12\xa0345 EUR"),
        (
            "sr_Latn",
            "transit_hit_rate_max_migrants",
            0.005,
            "ruta prolazi kroz zemlju u kojoj je procenjena stopa nalaza u kategoriji "
            "„skriveni migranti“ u ranijim kontrolama 0,5%",
        ),
        (
            "sq",
            "unit_value_vs_hs_median",
            math.log(0.1),
            "vlera e deklaruar për kg është 90% nën vlerën e zakonshme për pozicionin tarifor HS 9305",
        ),
        # Serbian has three plural forms: 1 and 21, 2-4 and 22-24, the rest
        ("sr_Latn", "importer_inspections", 21.0, "uvoznik: 21 ranija kontrola"),
        ("sr_Latn", "importer_inspections", 3.0, "uvoznik: 3 ranije kontrole"),
        ("sr_Latn", "importer_inspections", 12.0, "uvoznik: 12 ranijih kontrola"),
        ("sq", "importer_inspections", 1.0, "importuesi: 1 kontroll i mëparshëm"),
        ("sq", "importer_inspections", 5.0, "importuesi: 5 kontrolle të mëparshme"),
        ("sr_Latn", "lodged_weekday", 6.0, "dan podnošenja: nedelja"),
        ("sq", "lodged_weekday", 0.0, "dita e paraqitjes: e hënë"),
        ("sr_Latn", "hs_chapter", 3.0, "glava carinske tarife: 93"),
        (
            "sq",
            "itinerary_ends_elsewhere",
            1.0,
            "rruga GR>MK>RS nuk përfundon në destinacionin e deklaruar HU",
        ),
        ("sr_Latn", "duty_rate", 7.5, "stopa carine je 7,5%"),
    ],
)
def test_sentences_in_the_regions_languages(
    locale: str, feature: str, value: float, sentence: str
) -> None:
    assert reason_text(feature, value, DECLARATION, locale) == sentence


def test_every_feature_has_a_translated_sentence_in_each_language() -> None:
    """No sentence of a shipped language falls back to English (a catalogue entry missing)."""
    declarations = declarations_frame([{"declaration_id": "D1", "lodged_at": "2024-01-01T00:00Z"}])
    labels = labels_frame([{"known_at": "2024-01-01T12:00Z", "weapons": 1}])
    builder = FeatureBuilder(("weapons", "migrants", "revenue")).fit(declarations, labels)
    for name in builder.feature_names_:
        for value in (0.0, 1.0, 2.0, np.nan):
            english = reason_text(name, value, DECLARATION)
            for locale in ("sr_Latn", "sq"):
                translated = reason_text(name, value, DECLARATION, locale)
                assert translated and translated != english, (name, value, locale, english)


def test_an_unknown_locale_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown locale"):
        reason_text("packages", 2.0, DECLARATION, "de")
