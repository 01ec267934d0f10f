"""FeatureBuilder: hand-computed value, route, calendar, watchlist and code features;
feature lists; save/load round trip."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from features.builder import FeatureBuilder
from features.builder_state import FORMAT_VERSION
from features.reference import MAD_TO_SIGMA
from features.schema import DECLARATION_COLUMNS
from features.text import FULL_MODEL
from tests.features.builder_frames import (
    declarations_frame,
    generated_frames,
    labels_frame,
    live_inputs,
)

THREATS = ("weapons", "migrants", "revenue")


@pytest.fixture(scope="module")
def generated() -> tuple[FeatureBuilder, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    declarations, labels, watchlist = generated_frames(500, seed=5)
    declarations["x_process_type"] = pd.Series(
        np.where(np.arange(500) % 3 == 0, "A", "B"), dtype="str"
    )
    declarations["x_tax_paid"] = np.arange(500, dtype=np.float64)
    builder = FeatureBuilder(
        THREATS,
        extra_categorical=("x_process_type",),
        extra_numeric=("x_tax_paid",),
        display_names={"x_process_type": "Process Type", "x_tax_paid": "Tax Paid"},
        text_folds=3,
    ).fit(declarations, labels)
    return builder, declarations, labels, watchlist


def value_reference_rows() -> list[dict]:
    """21 rows of HS 930590: value per kg 50 (10 rows), 100 (1 row), 200 (10 rows)."""
    per_kg = [50.0] * 10 + [100.0] + [200.0] * 10
    return [
        {
            "declaration_id": f"R{i}",
            "lodged_at": f"2024-01-01T{i:02d}:00Z",
            "hs_code": "930590",
            "net_mass_kg": 2.0,
            "customs_value_eur": 2.0 * value,
            "packages": 1.0,
            "gross_mass_kg": 1000.0 if i % 2 else 3000.0,
            "vehicle_type": "van",
        }
        for i, value in enumerate(per_kg)
    ]


def test_value_features_against_the_hs_reference_with_back_off() -> None:
    fit_rows = declarations_frame(value_reference_rows())
    builder = FeatureBuilder(THREATS, reference_min_rows=20).fit(
        fit_rows, labels_frame([None] * 21)
    )
    queries = declarations_frame(
        [
            # 10 EUR/kg under the very HS code, and under a sibling subheading (heading 9305)
            {
                "declaration_id": "Q1",
                "lodged_at": "2024-02-01T00:00Z",
                "hs_code": "930590",
                "net_mass_kg": 4.0,
                "customs_value_eur": 40.0,
                "gross_mass_kg": 1000.0,
                "vehicle_type": "van",
                "packages": 4.0,
            },
            {
                "declaration_id": "Q2",
                "lodged_at": "2024-02-01T00:00Z",
                "hs_code": "930510",
                "net_mass_kg": 4.0,
                "customs_value_eur": 40.0,
                "gross_mass_kg": 500.0,
                "vehicle_type": "bus",
            },
            {
                "declaration_id": "Q3",
                "lodged_at": "2024-02-01T00:00Z",
                "hs_code": "010121",
                "net_mass_kg": 0.0,
                "customs_value_eur": 40.0,
                "gross_mass_kg": 8.0,
            },
        ]
    )
    features = builder.transform(queries)
    log_ratio = math.log(10.0 / 100.0)
    spread = math.log(2.0) * MAD_TO_SIGMA  # every deviation but one is log 2
    assert features["unit_value_vs_hs_median"].iloc[0] == pytest.approx(log_ratio, abs=1e-12)
    assert features["unit_value_robust_z"].iloc[0] == pytest.approx(log_ratio / spread, abs=1e-12)
    assert features["unit_value_reference_level"].tolist()[:2] == [6.0, 4.0]
    assert features["unit_value_vs_hs_median"].iloc[1] == pytest.approx(log_ratio, abs=1e-12)
    assert np.isnan(features["unit_value_vs_hs_median"].iloc[2])  # net mass 0: no value per kg
    # per package: 10 EUR vs the usual 200 EUR (fit rows are 2 kg in one package)
    assert features["package_value_vs_hs_median"].iloc[0] == pytest.approx(
        math.log(10.0 / 200.0), abs=1e-12
    )
    assert features["gross_net_mass_ratio"].tolist()[:2] == [250.0, 125.0]
    assert np.isnan(features["gross_net_mass_ratio"].iloc[2])
    # van median gross mass: 10 rows at 1000 and 11 at 3000 -> 3000
    assert features["gross_mass_vs_vehicle_type_median"].iloc[0] == pytest.approx(
        math.log(1000.0 / 3000.0), abs=1e-12
    )
    assert np.isnan(features["gross_mass_vs_vehicle_type_median"].iloc[1])  # no bus reference
    assert features["customs_value_log"].iloc[0] == math.log1p(40.0)
    assert features["duty_rate"].iloc[0] == 5.0


def test_global_reference_when_no_hs_group_has_enough_rows() -> None:
    fit_rows = declarations_frame(value_reference_rows())
    builder = FeatureBuilder(THREATS, reference_min_rows=20).fit(
        fit_rows, labels_frame([None] * 21)
    )
    query = declarations_frame(
        [
            {
                "declaration_id": "Q",
                "lodged_at": "2024-02-01T00:00Z",
                "hs_code": "010121",
                "net_mass_kg": 1.0,
                "customs_value_eur": 400.0,
            }
        ]
    )
    features = builder.transform(query)
    assert features["unit_value_reference_level"].iloc[0] == 0.0
    assert features["unit_value_vs_hs_median"].iloc[0] == pytest.approx(math.log(4.0), abs=1e-12)


def test_route_calendar_and_postal_features_by_hand() -> None:
    declarations = declarations_frame(
        [
            {
                "declaration_id": "D1",
                "lodged_at": "2024-03-03T03:00Z",
                "itinerary": "GR>MK>RS",
                "dispatch_country": "GR",
                "destination_country": "HU",
                "origin_country": "GR",
            },
            {
                "declaration_id": "D2",
                "lodged_at": "2024-03-04T12:30Z",
                "itinerary": "AL>ME",
                "dispatch_country": "GR",
                "destination_country": "ME",
                "transport_mode": "postal",
                "importer_id": "NEW",
            },
            {
                "declaration_id": "D3",
                "lodged_at": "2024-03-05T22:00Z",
                "itinerary": np.nan,
                "vehicle_type": "parcel",
            },
        ]
    )
    labels = labels_frame([None] * 3)
    features = (
        FeatureBuilder(THREATS)
        .fit(declarations, labels)
        .transform_point_in_time(declarations, labels)
    )
    assert features["itinerary_starts_elsewhere"].tolist()[:2] == [0.0, 1.0]
    assert features["itinerary_ends_elsewhere"].tolist()[:2] == [1.0, 0.0]
    assert features["transit_countries"].tolist()[:2] == [1.0, 0.0]
    assert features[["itinerary_starts_elsewhere", "transit_countries"]].iloc[2].isna().all()
    assert features["origin_differs_from_dispatch"].tolist() == [0.0, 1.0, 1.0]
    assert features["lodged_hour"].tolist() == [3.0, 12.0, 22.0]
    assert features["lodged_weekday"].tolist() == [6.0, 0.0, 1.0]  # Sunday, Monday, Tuesday
    assert features["lodged_at_night"].tolist() == [1.0, 0.0, 1.0]
    assert features["postal_or_parcel"].tolist() == [0.0, 1.0, 1.0]
    # D3's importer IMP-1 was seen once before (D1) -> still rare; D2's importer is new
    assert features["postal_to_new_importer"].tolist() == [0.0, 1.0, 1.0]


def test_transit_hit_rate_learns_from_earlier_outcomes_only() -> None:
    declarations = declarations_frame(
        [
            {"declaration_id": "D1", "lodged_at": "2024-01-01T00:00Z", "itinerary": "GR>MK>RS"},
            {"declaration_id": "D2", "lodged_at": "2024-01-01T00:00Z", "itinerary": "GR>AL>RS"},
            {"declaration_id": "D3", "lodged_at": "2024-01-05T00:00Z", "itinerary": "TR>MK>AL>RS"},
        ]
    )
    labels = labels_frame(
        [{"known_at": "2024-01-02T00:00Z", "migrants": 1}, {"known_at": "2024-01-02T00:00Z"}, None]
    )
    builder = FeatureBuilder(THREATS, prior_strength=2.0).fit(declarations, labels)
    features = builder.transform_point_in_time(declarations, labels)
    prior = 0.5  # one migrants find in two outcomes
    assert features["transit_hit_rate_max_migrants"].tolist() == [
        prior,
        prior,
        max((1 + 2 * prior) / 3, (0 + 2 * prior) / 3),  # MK (1 of 1) beats AL (0 of 1)
    ]


def test_watchlist_counts_only_inside_the_validity_window() -> None:
    watchlist = pd.DataFrame(
        {
            "entity_type": pd.Series(["vehicle_id", "importer_id", "carrier_id"], dtype="str"),
            "entity_id": pd.Series(["AB 123", "acme", "CAR-9"], dtype="str"),
            "threat": pd.Series(["migrants", "weapons", "SALW"], dtype="str"),
            "valid_from": pd.to_datetime(["2024-01-10", "2024-02-01", "2024-01-01"], utc=True),
            "valid_to": pd.to_datetime(pd.Series(["2024-01-20T23:59:59", None, None]), utc=True),
            "source": pd.Series(["partner"] * 3, dtype="str"),
        }
    )
    declarations = declarations_frame(
        [
            {"declaration_id": "D1", "lodged_at": "2024-01-09T23:59Z", "vehicle_id": "AB 123"},
            {"declaration_id": "D2", "lodged_at": "2024-01-10T00:00Z", "vehicle_id": "ab  123"},
            {"declaration_id": "D3", "lodged_at": "2024-01-20T23:59:59Z", "vehicle_id": "AB 123"},
            {"declaration_id": "D4", "lodged_at": "2024-01-21T00:00Z", "vehicle_id": "AB 123"},
            {
                "declaration_id": "D5",
                "lodged_at": "2030-03-01T00:00Z",
                "importer_id": " ACME",
                "vehicle_id": "AB 123",
                "carrier_id": "CAR-9",
            },
        ]
    )
    labels = labels_frame([None] * 5)
    builder = FeatureBuilder(THREATS).fit(declarations, labels)
    features = builder.transform_point_in_time(declarations, labels, watchlist)
    served = builder.transform(
        declarations,
        live_inputs(THREATS, declarations, declarations.iloc[:0], labels.iloc[:0], watchlist),
    )
    watchlist_columns = [name for name in features.columns if name.startswith("watchlist_")]
    pd.testing.assert_frame_equal(served[watchlist_columns], features[watchlist_columns])
    assert features["watchlist_vehicle_migrants"].tolist() == [0.0, 1.0, 1.0, 0.0, 0.0]
    assert features["watchlist_importer_weapons"].tolist() == [0.0, 0.0, 0.0, 0.0, 1.0]
    assert features["watchlist_hits_weapons"].tolist() == [0.0, 0.0, 0.0, 0.0, 1.0]
    assert features["watchlist_hits_migrants"].tolist() == [0.0, 1.0, 1.0, 0.0, 0.0]
    # a threat the model does not score ("SALW") is not counted anywhere
    assert features.filter(like="watchlist_carrier").to_numpy().sum() == 0.0


def test_code_vocabulary_keeps_top_k_pools_the_rest_and_leaves_unknown_missing() -> None:
    offices = ["A", "A", "A", "B", "B", "C"]
    declarations = declarations_frame(
        [
            {"declaration_id": f"D{i}", "lodged_at": "2024-01-01T00:00Z", "office_id": office}
            for i, office in enumerate(offices)
        ]
    )
    builder = FeatureBuilder(THREATS, vocabulary_size=2).fit(declarations, labels_frame([None] * 6))
    queries = declarations_frame(
        [
            {"declaration_id": f"Q{i}", "lodged_at": "2024-01-02T00:00Z", "office_id": office}
            for i, office in enumerate(["A", "b ", "C", "D"])
        ]
    )
    codes = builder.transform(queries)["office_id"].tolist()
    assert codes[:3] == [0.0, 1.0, 2.0]  # A most frequent, B next, C pooled as "other" (2)
    assert np.isnan(codes[3])  # never seen
    assert builder.transform(queries)["hs_chapter"].tolist() == [0.0] * 4


def test_trader_id_case_and_spacing_do_not_change_any_feature(generated) -> None:
    builder, declarations, labels, _ = generated
    respelled = declarations.copy()
    for field in ("importer_id", "declarant_id", "exporter_id", "carrier_id", "vehicle_id"):
        respelled[field] = "  " + respelled[field].str.upper() + " "
    pd.testing.assert_frame_equal(
        builder.transform_point_in_time(respelled, labels),
        builder.transform_point_in_time(declarations, labels),
        check_exact=True,
    )


def test_feature_lists_describe_the_matrix(generated) -> None:
    builder, declarations, _, _ = generated
    features = builder.transform(declarations.iloc[:20])
    assert list(features.columns) == builder.feature_names_
    assert (features.dtypes == np.float64).all()
    assert features.index.equals(declarations.index[:20])
    grouped = [name for names in builder.feature_groups_.values() for name in names]
    assert sorted(grouped) == sorted(builder.feature_names_)
    assert builder.categorical_features_ == builder.feature_groups_["codes"]
    assert builder.categorical_features_[-1] == "x_process_type"
    assert builder.feature_groups_["extra"] == ["x_tax_paid"]
    readable = set(DECLARATION_COLUMNS) | {"x_process_type", "x_tax_paid"}
    assert set(builder.feature_fields_) == set(builder.feature_names_)
    assert all(fields and set(fields) <= readable for fields in builder.feature_fields_.values())
    assert builder.feature_fields_["route_declarations"] == [
        "origin_country",
        "dispatch_country",
        "office_id",
    ]
    assert builder.feature_fields_["watchlist_vehicle_migrants"] == ["vehicle_id"]


def test_index_of_the_input_is_kept(generated) -> None:
    builder, declarations, labels, _ = generated
    shuffled_index = pd.Index([f"row{i}" for i in range(len(declarations))])
    features = builder.transform_point_in_time(
        declarations.set_axis(shuffled_index), labels.set_axis(shuffled_index)
    )
    assert features.index.equals(shuffled_index)


def test_labels_must_align_with_declarations(generated) -> None:
    builder, declarations, labels, _ = generated
    with pytest.raises(ValueError, match="labels has 10 rows but declarations has 500"):
        builder.transform_point_in_time(declarations, labels.iloc[:10])


def test_saved_and_loaded_builder_gives_identical_features(generated, tmp_path) -> None:
    builder, declarations, labels, _ = generated
    paths = builder.save(tmp_path / "features")
    assert {path.suffix for path in paths} == {".parquet", ".json"}
    assert sorted(path.name for path in (tmp_path / "features").iterdir()) == sorted(
        path.name for path in paths
    )
    loaded = FeatureBuilder.load(tmp_path / "features")
    assert loaded.get_params() == builder.get_params()
    assert loaded.feature_names_ == builder.feature_names_
    assert loaded.feature_fields_ == builder.feature_fields_
    pd.testing.assert_frame_equal(
        loaded.transform(declarations), builder.transform(declarations), check_exact=True
    )
    # The loaded builder knows no fit rows: its point-in-time features are those the
    # fitted builder gives declarations it never saw (full text model for every row).
    unseen = declarations.assign(declaration_id="NEW" + declarations["declaration_id"])
    pd.testing.assert_frame_equal(
        loaded.transform_point_in_time(declarations, labels),
        builder.transform_point_in_time(unseen, labels),
        check_exact=True,
    )


def test_saved_state_holds_no_declaration_id(generated, tmp_path) -> None:
    builder, declarations, labels, _ = generated
    paths = builder.save(tmp_path)
    assert sorted(path.name for path in paths) == [
        "chapter_words.parquet",
        "code_words.parquet",
        "feature_builder.json",
        "reference.parquet",
        "text_coefficients.parquet",
    ]
    ids = set(declarations["declaration_id"])
    for path in paths:
        if path.suffix == ".parquet":
            table = pd.read_parquet(path)
            assert "declaration_id" not in table.columns
            for column in table.columns:
                assert not ids & set(table[column].astype("str")), (path.name, column)
        else:
            assert not any(identifier in path.read_text() for identifier in ids)
    # only the full text model is kept; the fold models need the fold of each fit row
    assert set(pd.read_parquet(tmp_path / "text_coefficients.parquet")["fold"]) == {FULL_MODEL}
    loaded = FeatureBuilder.load(tmp_path)
    offline = loaded.transform_point_in_time(declarations, labels)["text_score_weapons"]
    served = builder.transform(declarations)["text_score_weapons"]
    pd.testing.assert_series_equal(offline, served, check_exact=True)
    # while in the training session the fit rows get out-of-fold scores
    in_session = builder.transform_point_in_time(declarations, labels)["text_score_weapons"]
    assert (in_session != served).sum() > 0


def test_loading_a_newer_format_names_the_fix(generated, tmp_path) -> None:
    builder, *_ = generated
    builder.save(tmp_path)
    state = tmp_path / "feature_builder.json"
    saved = state.read_text()
    state.write_text(saved.replace(f'"format_version": {FORMAT_VERSION}', '"format_version": 99'))
    with pytest.raises(
        ValueError, match=f"has format 99, this shiprisk reads format {FORMAT_VERSION}: retrain"
    ):
        FeatureBuilder.load(tmp_path)
    # a bundle from before descriptions were normalised across scripts says why it must go
    state.write_text(saved.replace(f'"format_version": {FORMAT_VERSION}', '"format_version": 1'))
    with pytest.raises(ValueError, match=r"has format 1, .*retrain the model .*any script"):
        FeatureBuilder.load(tmp_path)
    # a bundle that froze entity history and the watchlist says the store now serves them
    state.write_text(saved.replace(f'"format_version": {FORMAT_VERSION}', '"format_version": 2'))
    with pytest.raises(ValueError, match=r"has format 2, .*retrain the model .*operational store"):
        FeatureBuilder.load(tmp_path)


def test_a_format_3_state_loads_as_the_n_gram_model_it_holds(generated, tmp_path) -> None:
    """Format 4 only added the HS-code profile: a serving model saved before it keeps scoring
    exactly as it did (its text models are the n-gram models alone) until it is retrained."""
    _, declarations, labels, _ = generated
    before = FeatureBuilder(
        THREATS, text_folds=3, text_ngram_weight=1.0, text_profile_weight=0.0
    ).fit(declarations, labels)
    before.save(tmp_path)
    # the state as format 3 wrote it: no code_words table, no parameters of the profile
    (tmp_path / "code_words.parquet").unlink()
    state = json.loads((tmp_path / "feature_builder.json").read_text())
    for name in ("text_code_digits", "text_ngram_weight", "text_profile_weight"):
        del state["params"][name]
    state["format_version"] = 3
    (tmp_path / "feature_builder.json").write_text(json.dumps(state))
    loaded = FeatureBuilder.load(tmp_path)
    assert (loaded.text_ngram_weight, loaded.text_profile_weight) == (1.0, 0.0)
    assert loaded.code_words_.empty
    pd.testing.assert_frame_equal(
        loaded.transform(declarations), before.transform(declarations), check_exact=True
    )
    assert loaded.transform(declarations)["text_score_weapons"].nunique() > 1


def test_a_ratio_over_a_subnormal_mass_is_unknown_not_infinite(generated) -> None:
    """Found by fuzzing: 5e-324 kg is a valid mass, and gross / net overflowed to infinity
    (then the reason text failed with OverflowError)."""
    builder, declarations, _, _ = generated
    row = declarations.head(1).assign(net_mass_kg=5e-324, gross_mass_kg=10.0)
    features = builder.transform(row)
    assert not np.isinf(features.to_numpy()).any()
    assert np.isnan(features["gross_net_mass_ratio"].iloc[0])
