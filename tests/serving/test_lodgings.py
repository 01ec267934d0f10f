"""Lodging facts are fixed once recorded: on SQLite and PostgreSQL, alone and under races,
and for declarations stored before the facts were recorded (migration 0004)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from alembic import command
from sqlalchemy import insert, select

from serving.store import Store, scores, worklists
from serving.store.database import _alembic_config, create_store_engine
from serving.store.tables import DeclarationLodging, ScoredDeclaration
from tests.serving.operations_data import canonical_declarations, scores_for
from tests.serving.store_backends import operational_store, store_url  # noqa: F401

AT = datetime(2024, 5, 2, 9, tzinfo=UTC)


def rows_for(declarations: pd.DataFrame, version: str = "1") -> list[dict[str, object]]:
    ids = declarations["declaration_id"].tolist()
    return scores.score_rows(
        declarations,
        scores_for(ids, [0.1] * len(ids)),
        model_name="shiprisk",
        model_version=version,
        scored_at=AT,
    )


def stored(store: Store) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    with store.sessions() as session:
        lodgings = session.execute(
            select(
                DeclarationLodging.declaration_id,
                DeclarationLodging.office_id,
                DeclarationLodging.lodged_at,
                DeclarationLodging.declarant_id,
                DeclarationLodging.importer_id,
            ).order_by(DeclarationLodging.declaration_id)
        ).all()
        scorings = session.execute(
            select(ScoredDeclaration.declaration_id, ScoredDeclaration.office_id).order_by(
                ScoredDeclaration.id
            )
        ).all()
    return [tuple(r) for r in lodgings], [tuple(r) for r in scorings]


def test_the_first_scoring_records_the_lodging_and_a_rescoring_may_change_other_fields(
    operational_store: Store,  # noqa: F811
) -> None:
    first = canonical_declarations(["D1", "D2"])
    with operational_store.transaction() as session:
        scores.insert_score_rows(session, rows_for(first))
    amended = first.iloc[:1].copy()
    amended["customs_value_eur"] = 9999.0  # an amendment: scored again, kept as history
    with operational_store.transaction() as session:
        scores.insert_score_rows(session, rows_for(amended, "2"))
    lodgings, scorings = stored(operational_store)
    assert [(r[0], r[1], r[3], r[4]) for r in lodgings] == [
        ("D1", "RS-HORGOS", "DCL-1", "IMP-0"),
        ("D2", "RS-HORGOS", "DCL-1", "IMP-1"),
    ]
    assert lodgings[0][2] == datetime(2024, 5, 2, 8, 15, tzinfo=UTC)
    assert scorings == [("D1", "RS-HORGOS"), ("D2", "RS-HORGOS"), ("D1", "RS-HORGOS")]


def test_insert_score_rows_names_only_first_scorings_even_twice_in_one_transaction(
    operational_store: Store,  # noqa: F811
) -> None:
    """What entity history counts (`count_declarations`): a declaration once, at its first
    scoring; not again when a group commit's transaction scores it twice, nor on a re-scoring."""
    first = canonical_declarations(["D1", "D2"])
    with operational_store.transaction() as session:
        assert scores.insert_score_rows(session, rows_for(first)) == {"D1", "D2"}
        assert scores.insert_score_rows(session, rows_for(first.iloc[:1], "2")) == set()
    both = canonical_declarations(["D1", "D2", "D3"])
    with operational_store.transaction() as session:
        assert scores.insert_score_rows(session, rows_for(both, "3")) == {"D3"}


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"office_id": "AL-KAKAVIJE"}, ("office_id",)),
        ({"lodged_at": pd.Timestamp("2024-05-03T08:15:00Z")}, ("lodged_at",)),
        ({"declarant_id": "DCL-9", "importer_id": "IMP-9"}, ("declarant_id", "importer_id")),
        (
            {"office_id": "AL-KAKAVIJE", "lodged_at": pd.Timestamp("2024-01-01T00:00:00Z")},
            ("office_id", "lodged_at"),
        ),
    ],
    ids=["office", "lodged_at", "parties", "office and time"],
)
def test_a_rescoring_that_changes_a_lodging_fact_is_refused_and_keeps_nothing(
    operational_store: Store,  # noqa: F811
    change: dict[str, object],
    fields: tuple[str, ...],
) -> None:
    first = canonical_declarations(["D0", "D1"])
    with operational_store.transaction() as session:
        scores.insert_score_rows(session, rows_for(first))
    before = stored(operational_store)
    moved = first.copy()
    for name, value in change.items():
        moved.loc[moved["declaration_id"] == "D1", name] = value
    with (
        pytest.raises(scores.LodgingConflictError) as refused,
        operational_store.transaction() as session,
    ):
        scores.insert_score_rows(session, rows_for(moved, "2"))
    assert refused.value.conflicts == [
        scores.LodgingConflict(
            position=1, declaration_id="D1", fields=fields, recorded_office="RS-HORGOS"
        )
    ]
    assert stored(operational_store) == before  # D0's scoring in the same write is not kept


def test_two_first_scorings_of_one_id_at_different_offices_keep_only_the_first_to_commit(
    operational_store: Store,  # noqa: F811
) -> None:
    here = rows_for(canonical_declarations(["NEW"], office="RS-HORGOS"))
    there = rows_for(canonical_declarations(["NEW"], office="AL-KAKAVIJE"))
    first_claimed = threading.Event()
    outcome: dict[str, object] = {}

    def second_writer() -> None:
        first_claimed.wait()
        try:
            with operational_store.transaction() as session:
                scores.insert_score_rows(session, there)  # waits for the first to commit
            outcome["second"] = "kept"
        except scores.LodgingConflictError as error:
            outcome["second"] = error.conflicts

    thread = threading.Thread(target=second_writer)
    thread.start()
    with operational_store.transaction() as session:
        scores.insert_score_rows(session, here)
        first_claimed.set()
        thread.join(timeout=0.5)  # the second is blocked on the first's claim meanwhile
        assert thread.is_alive()
    thread.join(timeout=30)
    assert outcome["second"] == [
        scores.LodgingConflict(0, "NEW", ("office_id",), recorded_office="RS-HORGOS")
    ]
    lodgings, scorings = stored(operational_store)
    assert [(r[0], r[1]) for r in lodgings] == [("NEW", "RS-HORGOS")]
    assert scorings == [("NEW", "RS-HORGOS")]


def test_the_migration_records_each_stored_declaration_at_its_first_scoring(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_store_engine(url)
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0002")
    first = rows_for(canonical_declarations(["D1"], office="AL-KAKAVIJE"))
    moved = rows_for(canonical_declarations(["D1"], office="RS-HORGOS"), "2")
    with engine.begin() as connection:  # as the bypass left it: a later scoring elsewhere
        connection.execute(insert(ScoredDeclaration.__table__), [*first, *moved])
    engine.dispose()

    store = Store.open(url)  # migrates to head
    lodgings, _ = stored(store)
    assert lodgings == [
        ("D1", "AL-KAKAVIJE", datetime(2024, 5, 2, 8, 15, tzinfo=UTC), "DCL-1", "IMP-0")
    ]
    with store.sessions() as session:
        assert scores.lodged_offices(session, ["D1", "D9"]) == {"D1": "AL-KAKAVIJE"}
        # The moved scoring does not put it in the other office's worklist; its own office
        # still has it, with the scoring made there.
        assert worklists.day_candidates(session, "RS-HORGOS", AT.date()) == []
        kept = worklists.day_candidates(session, "AL-KAKAVIJE", AT.date())
        assert [(r.declaration_id, r.model_version) for r in kept] == [("D1", "1")]
    store.close()
