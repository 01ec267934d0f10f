"""The pages' words for machine names: every feature the builder makes has a label in every
shipped language, declaration fields and coded values are named, the API's names stay."""

from __future__ import annotations

import pytest

from features.builder import FeatureBuilder
from features.i18n import LOCALES
from features.schema import DECLARATION_FIELDS, DEFAULT_THREATS
from serving.web.labels import CODED_VALUES, coded_value, feature_label, field_name


def every_feature() -> list[str]:
    """Every feature a builder makes for the default threats (no extra columns)."""
    builder = FeatureBuilder(list(DEFAULT_THREATS))
    builder._describe_features()  # the names only: no fit needed
    return list(builder.feature_names_)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_feature_has_a_label_in_every_language(locale: str) -> None:
    """No importance row shows a machine name: a feature added without a label fails here."""
    features = every_feature()
    labels = {feature: feature_label(feature, locale) for feature in features}
    assert not [label for label in labels.values() if "_" in label], labels
    assert len(set(labels.values())) == len(features)  # two features never read alike
    if locale != "en":
        english = {feature: feature_label(feature) for feature in features}
        same = [f for f in features if labels[f] == english[f]]
        assert not same, same


def test_labels_name_the_entity_and_the_threat_in_the_locale() -> None:
    assert feature_label("importer_hit_rate_weapons") == "importer: hit rate for weapons"
    assert feature_label("importer_hit_rate_weapons", "sr_Latn") == (
        "uvoznik: stopa nalaza u kategoriji „oružje“"
    )
    assert feature_label("packages", "sq") == "numri i pakove"
    # a deployment's extra column reads as its name; a threat from data as named
    assert feature_label("x_Process_Type", "sr_Latn") == "Process Type"
    assert feature_label("text_score_tobacco") == "goods description read for tobacco"


@pytest.mark.parametrize("locale", [locale for locale in LOCALES if locale != "en"])
def test_declaration_fields_and_coded_values_are_named_in_the_locale(locale: str) -> None:
    for field in DECLARATION_FIELDS:
        assert field_name(field.name, locale) != field_name(field.name), field.name
    for field, (_, words) in CODED_VALUES.items():
        for code in words:
            assert coded_value(field, code, locale) != code or code in {"transit", "model"}, (
                field,
                code,
            )
    assert coded_value("transport_mode", "teleport", locale) == "teleport"  # unknown: as given
