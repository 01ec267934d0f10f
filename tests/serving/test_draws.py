"""Worklist draws are versions, and an outcome keeps the probability of the draw it followed.

Scoring new declarations for an office's day draws its worklist again, with other picks and
other probabilities. A Horvitz-Thompson estimate (and the weights of a retraining) must weigh
an inspection by the probability of the draw the officer acted on, never by a later one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from alembic import command
from sqlalchemy import insert, select

from serving.inspections import service
from serving.inspections.schemas import Worklist
from serving.store import Store
from serving.store.database import _alembic_config, create_store_engine
from serving.store.tables import WorklistRun
from serving.store.worklists import WorklistDrawTaken
from tests.serving.operations_data import canonical_declarations, outcome_record, scores_for
from tests.serving.store_backends import operational_store, store_url  # noqa: F401

OFFICE = "RS-HORGOS"
DAY = date(2024, 5, 2)
FIRST_DRAW = datetime(2024, 5, 2, 10, tzinfo=UTC)
REDRAW = datetime(2024, 5, 2, 14, tzinfo=UTC)
POLICY = service.OperationsPolicy(exploration_share=0.3)  # 3 random slots of 10
CAPACITY = 10


def _score(store: Store, ids: list[str], risks: list[float]) -> None:
    from serving.store import scores

    with store.transaction() as session:
        scores.record_scores(
            session,
            canonical_declarations(ids, office=OFFICE, day=DAY.isoformat()),
            scores_for(ids, risks),
            model_name="shiprisk",
            model_version="1",
        )


def _draw(store: Store, now: datetime | None = None, capacity: int = CAPACITY) -> Worklist:
    """The office's worklist, its write (a new draw) committed as the route's record would."""
    drawn = service.worklist(store, OFFICE, DAY, capacity, POLICY, now=now)
    if drawn.write is not None:
        with store.transaction() as session:
            drawn.write(session)
    return drawn.worklist


def _picks(worklist: Worklist) -> dict[str, tuple[str, float]]:
    return {p.declaration_id: (p.reason, p.selection_probability) for p in worklist.picks}


def _record(store: Store, *outcomes: tuple[dict[str, Any], int | None]) -> None:
    service.record_outcomes(
        store,
        pd.DataFrame.from_records([record for record, _ in outcomes]),
        draws=[draw for _, draw in outcomes],
    )


def _exported(store: Store, directory: Path) -> dict[tuple[str, str], float | None]:
    service.export_training_tables(store, directory)
    outcomes = pd.read_parquet(directory / "outcomes.parquet")
    return {
        (row.declaration_id, row.inspected_at.isoformat()): row.selection_probability
        for row in outcomes.itertuples()
    }


def at(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_a_redraw_keeps_the_probability_of_outcomes_recorded_before_it(
    operational_store: Store,  # noqa: F811
    tmp_path: Path,
) -> None:
    store = operational_store
    first_ids = [f"D{i:02d}" for i in range(30)]
    _score(store, first_ids, [0.01 * (30 - i) for i in range(30)])
    first = _draw(store, FIRST_DRAW)
    assert (first.version, len(first.picks)) == (1, CAPACITY)
    before = _picks(first)
    assert sorted({round(p, 12) for _, p in before.values()}) == [round(3 / 23, 12), 1.0]

    # Every declaration of the first draw is inspected and recorded before the redraw, the
    # officer naming the reason but not the probability.
    inspected = FIRST_DRAW + timedelta(hours=1)
    _record(
        store,
        *(
            (outcome_record(d, inspected_at=at(inspected), selection_reason=reason), None)
            for d, (reason, _) in before.items()
        ),
    )
    exported_before = _exported(store, tmp_path / "before")

    # Riskier declarations arrive: the redraw ranks and draws otherwise.
    new_ids = [f"N{i:02d}" for i in range(5)]
    _score(store, new_ids, [0.9] * 5)
    redraw = _draw(store, REDRAW)
    assert redraw.version == 2
    after = _picks(redraw)
    moved = [d for d in before if d in after and after[d][1] != before[d][1]]
    assert moved, "the redraw must pick some first-draw declaration with another probability"

    exported_after = _exported(store, tmp_path / "after")
    assert exported_after == exported_before
    assert {
        d: exported_after[(d, pd.Timestamp(inspected).isoformat())] for d in before
    } == pytest.approx({d: p for d, (_, p) in before.items()})


def test_an_outcome_takes_the_draw_it_names_or_the_draw_in_force(
    operational_store: Store,  # noqa: F811
    tmp_path: Path,
) -> None:
    store = operational_store
    _score(store, [f"D{i:02d}" for i in range(30)], [0.01 * (30 - i) for i in range(30)])
    first = _picks(_draw(store, FIRST_DRAW))
    first_version = _draw(store).version  # the same draw
    _score(store, [f"N{i:02d}" for i in range(5)], [0.9] * 5)
    second_draw = _draw(store, REDRAW)
    second = _picks(second_draw)
    moved = next(d for d in first if d in second and second[d][1] != first[d][1])
    not_picked = next(f"D{i:02d}" for i in range(30) if f"D{i:02d}" not in first)

    in_first = FIRST_DRAW + timedelta(minutes=30)  # before the redraw: the first draw in force
    in_second = REDRAW + timedelta(hours=1)  # after it: the second
    named = REDRAW + timedelta(hours=2)  # after it, but the officer names the first draw
    _record(
        store,
        (outcome_record(moved, inspected_at=at(in_first)), None),
        (outcome_record(moved, inspected_at=at(in_second)), None),
        (outcome_record(moved, inspected_at=at(named)), first_version),
    )
    exported = _exported(store, tmp_path)
    assert exported[(moved, pd.Timestamp(in_first).isoformat())] == pytest.approx(first[moved][1])
    assert exported[(moved, pd.Timestamp(in_second).isoformat())] == pytest.approx(second[moved][1])
    assert exported[(moved, pd.Timestamp(named).isoformat())] == pytest.approx(first[moved][1])
    detail = service.declaration_detail(store, moved)
    assert detail is not None
    assert [o.draw_version for o in detail.outcomes] == [
        first_version,
        second_draw.version,
        first_version,
    ]

    # A draw that did not pick the declaration, or another probability than its pick: refused.
    late = at(REDRAW + timedelta(hours=3))
    with pytest.raises(service.OutcomesRejected) as refused:
        _record(
            store,
            (outcome_record(not_picked, inspected_at=late), first_version),
            (outcome_record(moved, inspected_at=late, selection_probability=0.5), first_version),
        )
    assert [(p.row, p.column) for p in refused.value.problems] == [
        (0, "draw_version"),
        (1, "selection_probability"),
    ]


def test_draws_made_at_the_same_moment_keep_the_version_they_answered(
    operational_store: Store,  # noqa: F811
) -> None:
    """Versions are answered before the draw is stored (with the request's record): the same
    draw made twice is stored once under its version; a different draw that took the version
    first refuses the later write instead of storing it under a version nobody was told."""
    store = operational_store
    _score(store, [f"D{i:02d}" for i in range(30)], [0.01 * (30 - i) for i in range(30)])
    same = [service.worklist(store, OFFICE, DAY, CAPACITY, POLICY) for _ in range(2)]
    other = service.worklist(store, OFFICE, DAY, CAPACITY - 1, POLICY)
    assert [d.worklist.version for d in (*same, other)] == [1, 1, 1]
    for drawn in same:
        assert drawn.write is not None
        with store.transaction() as session:
            drawn.write(session)
    assert other.write is not None
    with pytest.raises(WorklistDrawTaken), store.transaction() as session:
        other.write(session)
    with store.transaction() as session:
        stored = session.execute(select(WorklistRun.capacity, WorklistRun.version)).all()
    assert [tuple(row) for row in stored] == [(CAPACITY, 1)]
    # Asked again, the other capacity is drawn as the next version.
    assert _draw(store, capacity=CAPACITY - 1).version == 2


def test_the_migration_numbers_earlier_draws_in_the_order_they_were_made(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_store_engine(url)
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0008")
        made = datetime(2024, 5, 2, 9, tzinfo=UTC)
        runs = [
            {"office_id": office, "day": day, "capacity": 5, "pool_digest": digest}
            for office, day, digest in (
                ("A", DAY, "1"),
                ("B", DAY, "2"),
                ("A", DAY, "3"),
                ("A", date(2024, 5, 3), "4"),
            )
        ]
        connection.execute(
            insert(WorklistRun.__table__).values(
                exploration_share=0.05, pool_size=10, created_at=made
            ),
            runs,
        )
    engine.dispose()
    store = Store.open(url)  # migrates to head
    with store.transaction() as session:
        versions = session.execute(
            select(WorklistRun.pool_digest, WorklistRun.version).order_by(WorklistRun.id)
        ).all()
    assert [tuple(v) for v in versions] == [("1", 1), ("2", 1), ("3", 2), ("4", 1)]
    store.close()
