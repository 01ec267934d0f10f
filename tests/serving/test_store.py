"""The operational store on SQLite and PostgreSQL: migrations, history, idempotence, export."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from features.validation import validate_declarations, validate_outcomes
from serving.inspections.worklist import Pick
from serving.store import (
    Store,
    default_database_url,
    drift,
    export,
    scores,
    upgrade_to_head,
    worklists,
)
from serving.store import outcomes as stored_outcomes
from serving.store.tables import Base
from tests.serving.operations_data import (
    canonical_declarations,
    canonical_outcomes,
    outcome_record,
    scores_for,
)
from tests.serving.store_backends import operational_store, store_url  # noqa: F401

DAY = date(2024, 5, 2)


def test_default_store_is_a_sqlite_file_under_the_data_directory(tmp_path: Path) -> None:
    url = default_database_url(tmp_path / "data")
    assert url == f"sqlite:///{tmp_path / 'data' / 'shiprisk.db'}"
    upgrade_to_head(url)  # creates the folder and the file
    assert (tmp_path / "data" / "shiprisk.db").is_file()


def test_migrations_build_exactly_the_declared_tables(store_url: str) -> None:  # noqa: F811
    upgrade_to_head(store_url)
    upgrade_to_head(store_url)  # a second start changes nothing
    store = Store.open(store_url)
    with store.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        assert MigrationContext.configure(connection).get_current_revision() == "0011"
    assert set(inspect(store.engine).get_table_names()) == {
        "alembic_version",
        "scored_declarations",
        "declaration_lodgings",
        "worklist_runs",
        "worklist_selections",
        "inspection_outcomes",
        "drift_reports",
        "performance_reports",
        "office_lanes",
        "api_keys",
        "audit_records",
        "web_sessions",
        "audit_declarations",
        "store_identity",
        "watchlist_entries",
        "entity_history",
        "entity_threat_history",
        "exchange_messages",
        "exchange_entities",
        "risk_profiles",
        "risk_profile_revisions",
        "inspection_overrides",
    }
    store.close()


def test_rescoring_keeps_history_and_latest_is_the_newest(
    operational_store: Store,  # noqa: F811
) -> None:
    declarations = canonical_declarations(["D1", "D2"])
    with operational_store.transaction() as session:
        scores.record_scores(
            session,
            declarations,
            scores_for(["D1", "D2"], [0.1, 0.2]),
            model_name="shiprisk",
            model_version="3",
            scored_at=datetime(2024, 5, 2, 9, tzinfo=UTC),
        )
    with operational_store.transaction() as session:
        scores.record_scores(
            session,
            declarations.iloc[:1],
            scores_for(["D1"], [0.7]),
            model_name="shiprisk",
            model_version="4",
            scored_at=datetime(2024, 5, 3, 9, tzinfo=UTC),
        )
    with operational_store.transaction() as session:
        latest = scores.latest_scores(session, ["D1", "D2", "D9"])
        history = scores.scoring_history(session, "D1")
    assert sorted(latest) == ["D1", "D2"]
    assert (latest["D1"].risk["revenue"], latest["D1"].model_version) == (0.7, "4")
    assert latest["D1"].scored_at == datetime(2024, 5, 3, 9, tzinfo=UTC)
    assert [row.model_version for row in history] == ["3", "4"]
    assert latest["D2"].reasons == [
        {
            "threat": "revenue",
            "feature": "unit_value_vs_hs_median",
            "value": -2.5,
            "contribution": 0.8,
            "text": "declared value per kg is 92% below the usual for HS 8708",
            "kind": "model",
        }
    ]
    # the canonical declaration, JSON-ready: UTC time as ISO text, missing values as null
    stored = latest["D2"].declaration
    assert stored["lodged_at"] == "2024-05-02T09:15:00+00:00"
    assert stored["itinerary"] == "TR>BG>RS"
    assert stored["hs_code"] == "870899"
    assert stored["gross_mass_kg"] is None
    assert stored["flow"] == "import"
    assert latest["D2"].lodged_day == DAY


@pytest.mark.parametrize(
    ("kind", "extra"),
    [
        ("model", {}),
        ("watchlist", {"source_agency": "EUROPOL", "handling_code": "H2"}),
        ("profile", {"profile_id": "P-1", "title": "Parts by post", "rationale": "seen"}),
    ],
)
def test_a_stored_reason_keeps_the_fields_of_its_kind_only(
    kind: str, extra: dict[str, str]
) -> None:
    scored = scores_for(["D1"], [0.4])
    every_kind = {
        "source_agency": "EUROPOL",
        "handling_code": "H2",
        "profile_id": "P-1",
        "title": "Parts by post",
        "rationale": "seen",
    }
    scored[0].reasons[0] = replace(scored[0].reasons[0], kind=kind, **every_kind)
    [row] = scores.score_rows(
        canonical_declarations(["D1"]), scored, model_name="shiprisk", model_version="3"
    )
    assert row["reasons"] == [
        {
            "threat": "revenue",
            "feature": "unit_value_vs_hs_median",
            "value": -2.5,
            "contribution": 0.8,
            "text": "declared value per kg is 92% below the usual for HS 8708",
            "kind": kind,
            **extra,
        }
    ]


def test_day_candidates_are_the_newest_scores_at_that_office_and_day(
    operational_store: Store,  # noqa: F811
) -> None:
    with operational_store.transaction() as session:
        scores.record_scores(
            session,
            canonical_declarations(["A1", "A2"]),
            scores_for(["A1", "A2"], [0.1, 0.2]),
            model_name="shiprisk",
            model_version="1",
        )
        scores.record_scores(
            session,
            canonical_declarations(["B1"], office="RS-BATROVCI"),
            scores_for(["B1"], [0.3]),
            model_name="shiprisk",
            model_version="1",
        )
        scores.record_scores(
            session,
            canonical_declarations(["A3"], day="2024-05-03"),
            scores_for(["A3"], [0.4]),
            model_name="shiprisk",
            model_version="1",
        )
        scores.record_scores(
            session,
            canonical_declarations(["A1"]),
            scores_for(["A1"], [0.9]),
            model_name="shiprisk",
            model_version="2",
        )
    with operational_store.transaction() as session:
        rows = worklists.day_candidates(session, "RS-HORGOS", DAY)
    assert [(r.declaration_id, r.risk["revenue"]) for r in rows] == [("A1", 0.9), ("A2", 0.2)]


def _scored(store: Store, ids: list[str]) -> None:
    with store.transaction() as session:
        scores.record_scores(
            session,
            canonical_declarations(ids),
            scores_for(ids, [0.5] * len(ids)),
            model_name="shiprisk",
            model_version="1",
        )


def test_outcomes_are_idempotent_on_declaration_and_inspection_time(
    operational_store: Store,  # noqa: F811
) -> None:
    _scored(operational_store, ["D1", "D2"])
    outcomes = canonical_outcomes(
        [outcome_record("D1", result="irregular", revenue_irregularity=True), outcome_record("D2")]
    )
    with operational_store.transaction() as session:
        first = stored_outcomes.record_outcomes(session, outcomes)
    with operational_store.transaction() as session:
        second = stored_outcomes.record_outcomes(session, outcomes)
    assert (first.recorded, first.already_recorded) == (2, 0)
    assert (second.recorded, second.already_recorded) == (0, 2)
    with operational_store.transaction() as session:
        stored = stored_outcomes.outcomes_of(session, "D1")
    assert len(stored) == 1
    assert (stored[0].result, stored[0].revenue_irregularity, stored[0].weapons_found) == (
        "irregular",
        True,
        False,
    )
    assert stored[0].inspected_at == datetime(2024, 5, 2, 15, tzinfo=UTC)


def test_a_conflicting_repeat_stores_nothing_of_the_request(
    operational_store: Store,  # noqa: F811
) -> None:
    _scored(operational_store, ["D1", "D2"])
    with operational_store.transaction() as session:
        stored_outcomes.record_outcomes(session, canonical_outcomes([outcome_record("D1")]))
    request = canonical_outcomes(
        [outcome_record("D2"), outcome_record("D1", result="irregular", weapons_found=True)]
    )
    with (
        pytest.raises(stored_outcomes.OutcomeConflictError) as raised,
        operational_store.transaction() as session,
    ):
        stored_outcomes.record_outcomes(session, request)
    assert raised.value.conflicts == [(1, "D1")]
    with operational_store.transaction() as session:
        assert stored_outcomes.outcomes_of(session, "D2") == []
        assert [o.result for o in stored_outcomes.outcomes_of(session, "D1")] == ["clear"]


def _worklist(store: Store, picks: list[Pick]) -> bool:
    with store.transaction() as session:
        return worklists.store_worklist_run(
            session,
            worklists.worklist_run(
                office_id="RS-HORGOS",
                day=DAY,
                capacity=len(picks),
                exploration_share=0.05,
                pool_size=10,
                digest=worklists.pool_digest(p.declaration_id for p in picks),
                picks=picks,
            ),
        )


def test_the_same_draw_stored_twice_is_stored_once(operational_store: Store) -> None:  # noqa: F811
    """Two processes drawing one worklist at the same moment: the later store adds nothing."""
    picks = [Pick("D1", 1, "model", 1.0, 0.5), Pick("D2", 2, "random", 0.125, 0.5)]
    assert _worklist(operational_store, picks) is True
    assert _worklist(operational_store, picks) is False
    with operational_store.transaction() as session:
        stored = worklists.find_worklist(
            session, "RS-HORGOS", DAY, 2, worklists.pool_digest(["D1", "D2"])
        )
        assert stored is not None
        assert [(p.declaration_id, p.reason) for p in stored.selections] == [
            ("D1", "model"),
            ("D2", "random"),
        ]


def test_outcomes_take_reason_and_probability_from_the_worklist_pick(
    operational_store: Store,  # noqa: F811
) -> None:
    _scored(operational_store, ["D1", "D2", "D3"])
    _worklist(
        operational_store,
        [Pick("D1", 1, "model", 1.0, 0.5), Pick("D2", 2, "random", 0.125, 0.5)],
    )
    with operational_store.transaction() as session:
        stored_outcomes.record_outcomes(
            session,
            canonical_outcomes(
                [
                    outcome_record("D1"),
                    outcome_record("D2", result="irregular", revenue_irregularity=True),
                    outcome_record("D3", selection_reason="officer"),
                ]
            ),
        )
        stored = {
            o.declaration_id: (o.selection_reason, o.selection_probability)
            for d in ("D1", "D2", "D3")
            for o in stored_outcomes.outcomes_of(session, d)
        }
    assert stored == {"D1": ("model", 1.0), "D2": ("random", 0.125), "D3": ("officer", None)}


def test_export_gives_canonical_tables_that_validate_again(
    operational_store: Store,  # noqa: F811
) -> None:
    _scored(operational_store, ["D1", "D2", "D3"])
    _worklist(operational_store, [Pick("D2", 1, "random", 0.25, 0.5)])
    with operational_store.transaction() as session:
        stored_outcomes.record_outcomes(
            session,
            canonical_outcomes(
                [outcome_record("D2", result="irregular", additional_duty_eur=310.5)]
            ),
        )
    with operational_store.transaction() as session:
        declarations, outcomes = export.export_tables(session)
    canonical = validate_declarations(declarations)
    expected = canonical_declarations(["D1", "D2", "D3"])
    pd.testing.assert_frame_equal(canonical, expected)
    outcomes = validate_outcomes(outcomes, known_declaration_ids=canonical["declaration_id"])
    assert outcomes[["declaration_id", "selection_reason", "selection_probability"]].to_dict(
        orient="records"
    ) == [{"declaration_id": "D2", "selection_reason": "random", "selection_probability": 0.25}]
    assert outcomes.loc[0, "additional_duty_eur"] == 310.5


def test_the_newest_drift_report_is_the_one_shown(operational_store: Store) -> None:  # noqa: F811
    window = {
        "window_start": datetime(2024, 5, 1, tzinfo=UTC),
        "window_end": datetime(2024, 5, 8, tzinfo=UTC),
    }
    with operational_store.transaction() as session:
        assert drift.latest_drift_report(session) is None
        drift.record_drift_report(
            session, model_name="shiprisk", model_version="3", summary={"n": 1}, **window
        )
        drift.record_drift_report(
            session, model_name="shiprisk", model_version="4", summary={"n": 2}, **window
        )
    with operational_store.transaction() as session:
        latest = drift.latest_drift_report(session)
    assert latest is not None
    assert (latest.model_version, latest.summary) == ("4", {"n": 2})
    assert latest.window_end == datetime(2024, 5, 8, tzinfo=UTC)
