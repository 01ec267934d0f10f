"""Entity history: hand-computed counts, smoothed rates, ties, id normalisation, updates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.builder import FeatureBuilder
from features.columns import DeclarationColumns
from features.entities import normalise_ids
from features.history import (
    NAT_NS,
    EventLog,
    as_nanoseconds,
    counts_before,
    smoothed_rate,
)
from features.live import empty_history_state, live_from_state
from features.watchlist import watchlist_entries
from tests.features.builder_frames import (
    declarations_frame,
    labels_frame,
    store_history_state,
    utc,
)

THREATS = ("weapons", "migrants", "revenue")


def test_counts_before_counts_only_strictly_earlier_events_of_the_same_key() -> None:
    events = EventLog(
        keys=np.array(["a", "a", "a", "b"], dtype=object),
        times=np.array([10, 20, 30, 5], dtype=np.int64),
        values=np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 0.0], [1.0, 1.0]]),
        is_declaration=np.array([True, True, False, True]),
        lodged=np.array([10, 20, NAT_NS, 5], dtype=np.int64),
    )
    queries = np.array(["a", "a", "a", "b", "c", None], dtype=object)
    times = np.array([10, 21, 31, 6, 100, 100], dtype=np.int64)
    counts = counts_before(queries, times, events, ["declarations", "hits"])
    # at 10 the event at 10 is not yet seen; at 21 two; at 31 three (the last is no declaration)
    assert counts["declarations"].tolist()[:5] == [0.0, 2.0, 3.0, 1.0, 0.0]
    assert counts["hits"].tolist()[:5] == [0.0, 1.0, 1.0, 1.0, 0.0]
    assert counts.first_seen_ns.tolist() == [NAT_NS, 10, 10, 5, NAT_NS, NAT_NS]
    assert np.isnan(counts["declarations"][5])  # no key: unknown, not zero


def test_normalise_ids_makes_case_and_whitespace_variants_one_entity() -> None:
    ids = pd.Series(["ACME ", " acme", "Acme\tLtd", "acme  ltd", "  ", None], dtype="str")
    assert normalise_ids(ids).tolist()[:4] == ["acme", "acme", "acme ltd", "acme ltd"]
    assert normalise_ids(ids).iloc[4:].isna().all()


@pytest.fixture
def three_visits() -> tuple[pd.DataFrame, pd.DataFrame]:
    """One importer spelled three ways: lodged day 1, 2 (found revenue, known day 3) and 5."""
    declarations = declarations_frame(
        [
            {"declaration_id": "D1", "lodged_at": "2024-01-01T08:00Z", "importer_id": "ACME "},
            {"declaration_id": "D2", "lodged_at": "2024-01-02T08:00Z", "importer_id": "acme"},
            {"declaration_id": "D3", "lodged_at": "2024-01-05T08:00Z", "importer_id": " Acme"},
        ]
    )
    labels = labels_frame([None, {"known_at": "2024-01-03T08:00Z", "revenue": 1}, None])
    return declarations, labels


def test_point_in_time_history_is_hand_computable(three_visits) -> None:
    declarations, labels = three_visits
    builder = FeatureBuilder(THREATS, prior_strength=4.0).fit(declarations, labels)
    features = builder.transform_point_in_time(declarations, labels)
    # the only outcome: revenue found -> prior 1.0 for revenue, 0.0 for the others
    assert builder.global_hit_rates_ == {"weapons": 0.0, "migrants": 0.0, "revenue": 1.0}
    assert features["importer_declarations"].tolist() == [0.0, 1.0, 2.0]
    assert features["importer_inspections"].tolist() == [0.0, 0.0, 1.0]
    assert features["importer_hits_revenue"].tolist() == [0.0, 0.0, 1.0]
    assert features["importer_hit_rate_weapons"].tolist() == [0.0, 0.0, 0.0 / 5.0]
    assert features["importer_days_since_first_seen"].tolist()[1:] == [1.0, 4.0]
    assert np.isnan(features["importer_days_since_first_seen"].iloc[0])


def test_smoothed_rate_shrinks_toward_the_prior() -> None:
    # 3 hits in 5 outcomes, prior 10% with the weight of 20 outcomes: (3 + 2) / 25
    assert smoothed_rate(np.array([3.0]), np.array([5.0]), 0.1, 20.0).tolist() == [0.2]
    assert smoothed_rate(np.array([0.0]), np.array([0.0]), 0.1, 20.0).tolist() == [0.1]


def test_history_rate_uses_the_fitted_prior_strength() -> None:
    declarations = declarations_frame(
        [
            {"declaration_id": "D1", "lodged_at": "2024-01-01T00:00Z", "importer_id": "I1"},
            {"declaration_id": "D2", "lodged_at": "2024-01-01T00:00Z", "importer_id": "I2"},
            {"declaration_id": "D3", "lodged_at": "2024-01-02T00:00Z", "importer_id": "I1"},
            {"declaration_id": "D4", "lodged_at": "2024-01-09T00:00Z", "importer_id": "I1"},
        ]
    )
    labels = labels_frame(
        [
            {"known_at": "2024-01-03T00:00Z", "weapons": 1},
            {"known_at": "2024-01-03T00:00Z", "weapons": 0},
            {"known_at": "2024-01-04T00:00Z", "weapons": 0},
            None,
        ]
    )
    builder = FeatureBuilder(THREATS, prior_strength=2.0).fit(declarations, labels)
    features = builder.transform_point_in_time(declarations, labels)
    # global weapons rate 1/3; I1 before D4: 1 hit in 2 outcomes -> (1 + 2/3) / (2 + 2)
    assert builder.global_hit_rates_["weapons"] == pytest.approx(1 / 3, abs=0)
    assert features.loc[3, "importer_hit_rate_weapons"] == (1 + 2 * (1 / 3)) / 4


def test_same_timestamp_declarations_do_not_see_each_other() -> None:
    declarations = declarations_frame(
        [
            {"declaration_id": "D1", "lodged_at": "2024-01-01T10:00Z"},
            {"declaration_id": "D2", "lodged_at": "2024-01-01T10:00Z"},
            {"declaration_id": "D3", "lodged_at": "2024-01-01T10:00:01Z"},
        ]
    )
    labels = labels_frame([None, None, None])
    features = (
        FeatureBuilder(THREATS)
        .fit(declarations, labels)
        .transform_point_in_time(declarations, labels)
    )
    assert features["vehicle_declarations"].tolist() == [0.0, 0.0, 2.0]
    assert features["carrier_days_since_first_seen"].iloc[2] == 1 / 86_400


def test_outcome_known_at_the_instant_of_lodging_is_not_yet_known() -> None:
    declarations = declarations_frame(
        [
            {"declaration_id": "D1", "lodged_at": "2024-01-01T10:00Z"},
            {"declaration_id": "D2", "lodged_at": "2024-01-02T10:00Z"},
        ]
    )
    labels = labels_frame([{"known_at": "2024-01-02T10:00Z", "migrants": 1}, None])
    features = (
        FeatureBuilder(THREATS)
        .fit(declarations, labels)
        .transform_point_in_time(declarations, labels)
    )
    assert features["vehicle_inspections"].tolist() == [0.0, 0.0]


def test_composite_keys_route_and_commodity_origin() -> None:
    declarations = declarations_frame(
        [
            {"declaration_id": "D1", "lodged_at": "2024-01-01T00:00Z", "office_id": "MK-TAB"},
            {"declaration_id": "D2", "lodged_at": "2024-01-02T00:00Z", "office_id": " mk-tab"},
            {"declaration_id": "D3", "lodged_at": "2024-01-03T00:00Z", "dispatch_country": "AL"},
            {"declaration_id": "D4", "lodged_at": "2024-01-04T00:00Z", "hs_code": "87089900"},
            {
                "declaration_id": "D5",
                "lodged_at": "2024-01-05T00:00Z",
                "hs_code": "87089900",
                "origin_country": "CN",
            },
        ]
    )
    labels = labels_frame([None] * 5)
    features = (
        FeatureBuilder(THREATS)
        .fit(declarations, labels)
        .transform_point_in_time(declarations, labels)
    )
    assert features["route_declarations"].tolist() == [0.0, 1.0, 0.0, 2.0, 0.0]
    assert features["hs4_origin_declarations"].tolist() == [0.0, 1.0, 2.0, 3.0, 0.0]


def test_live_history_from_store_rows_is_hand_computable(three_visits) -> None:
    """The rows the store keeps per entity become the same features as in training."""
    declarations, labels = three_visits
    builder = FeatureBuilder(THREATS, prior_strength=4.0).fit(declarations, labels)
    query = declarations_frame(
        [{"declaration_id": "Q1", "lodged_at": "2024-02-01T08:00Z", "importer_id": "ACME"}]
    )
    state = empty_history_state(THREATS)
    state.loc[0] = {
        "entity": "importer",
        "key": "acme",
        "declarations": 4.0,
        "inspections": 2.0,
        "labelled_weapons": 2.0,
        "labelled_migrants": 2.0,
        "labelled_revenue": 2.0,
        "hits_weapons": 1.0,
        "hits_migrants": 0.0,
        "hits_revenue": 1.0,
        "first_seen": utc("2024-01-01T08:00Z"),
    }
    columns = DeclarationColumns(query)
    live = live_from_state(columns, THREATS, state, None, columns.nanoseconds("lodged_at"))
    after = builder.transform(query, live)
    assert after.loc[0, "importer_declarations"] == 4.0
    assert after.loc[0, "importer_inspections"] == 2.0
    assert after.loc[0, "importer_hits_weapons"] == 1.0
    assert after.loc[0, "importer_hit_rate_weapons"] == (1.0 + 4.0 * 0.0) / (2.0 + 4.0)
    assert after.loc[0, "importer_days_since_first_seen"] == 31.0
    # without live inputs the store is empty: the importer is new
    assert builder.transform(query).loc[0, "importer_declarations"] == 0.0


def test_serving_features_equal_point_in_time_features_after_the_store_state() -> None:
    from tests.features.builder_frames import generated_frames

    declarations, labels, watchlist = generated_frames(600, seed=3)
    builder = FeatureBuilder(THREATS, text_folds=3).fit(declarations, labels)
    cutoff = max(declarations["lodged_at"].max(), labels["known_at"].max())
    newcomer = declarations.iloc[[17, 250]].copy()
    newcomer["declaration_id"] = ["NEW1", "NEW2"]
    newcomer["lodged_at"] = [cutoff + pd.Timedelta(hours=5), cutoff + pd.Timedelta(days=2)]
    newcomer = newcomer.reset_index(drop=True)
    columns = DeclarationColumns(newcomer)
    live = live_from_state(
        columns,
        THREATS,
        store_history_state(declarations, labels),
        watchlist_entries(watchlist),
        columns.nanoseconds("lodged_at"),
    )
    served = builder.transform(newcomer, live)

    everything = pd.concat([declarations, newcomer], ignore_index=True)
    all_labels = pd.concat([labels, labels_frame([None, None])], ignore_index=True)
    offline = (
        builder.transform_point_in_time(everything, all_labels, watchlist)
        .iloc[-2:]
        .reset_index(drop=True)
    )
    assert served["importer_declarations"].iloc[0] > 0  # a real history, not an empty one
    pd.testing.assert_frame_equal(served, offline, check_exact=True)


def test_as_nanoseconds_reads_microsecond_datetimes() -> None:
    times = pd.Series([utc("2024-01-01T00:00:00.000001Z"), pd.NaT], dtype="datetime64[us, UTC]")
    assert as_nanoseconds(times).tolist() == [1_704_067_200_000_001_000, NAT_NS]
