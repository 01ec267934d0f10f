"""Worklist draws: the candidates of an office's day, each draw stored as its own version with
its picks, and the picks of declarations (which pick an inspection followed).

Functions here never commit: the caller opens one transaction per request
(`Store.transaction`), so a request's writes land together or not at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Protocol, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session, joinedload

from serving.store.database import conflict_insert
from serving.store.scores import newest_scorings
from serving.store.tables import (
    ScoredDeclaration,
    WorklistRun,
    WorklistSelection,
)


class DrawnPick(Protocol):
    """A pick of a draw, as the store keeps it (`serving.inspections.worklist.Pick` is one;
    the store names no room's type: the rooms sit above it)."""

    @property
    def declaration_id(self) -> str: ...
    @property
    def rank(self) -> int: ...
    @property
    def reason(self) -> str: ...
    @property
    def selection_probability(self) -> float: ...
    @property
    def expected_harm(self) -> float: ...
    @property
    def profile_id(self) -> str | None: ...


def day_candidates(session: Session, office_id: str, day: date) -> list[ScoredDeclaration]:
    """Newest scoring of each declaration lodged at ``office_id`` on ``day`` (UTC).

    Only declarations whose recorded lodging is at ``office_id``: a scoring that named
    another office before lodging facts were fixed (store revision 0003) does not move one in.
    """
    return newest_scorings(
        session,
        ScoredDeclaration.office_id == office_id,
        ScoredDeclaration.lodged_day == day,
        lodged_at=office_id,
        order_by=[ScoredDeclaration.declaration_id],
    )


def pool_digest(declaration_ids: Iterable[str]) -> str:
    """Fingerprint of a worklist's candidates: it changes exactly when new declarations arrive."""
    digest = hashlib.sha256()
    for declaration_id in sorted(declaration_ids):
        digest.update(declaration_id.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def find_worklist(
    session: Session, office_id: str, day: date, capacity: int, digest: str
) -> WorklistRun | None:
    """The worklist already built from exactly these candidates at this capacity, if any."""
    return session.scalars(
        select(WorklistRun).where(
            WorklistRun.office_id == office_id,
            WorklistRun.day == day,
            WorklistRun.capacity == capacity,
            WorklistRun.pool_digest == digest,
        )
    ).first()


def worklist_run(
    *,
    office_id: str,
    day: date,
    capacity: int,
    exploration_share: float,
    pool_size: int,
    digest: str,
    picks: Sequence[DrawnPick],
    version: int = 1,
    created_at: datetime | None = None,
) -> WorklistRun:
    """A worklist draw and its picks with reason and selection probability, not yet stored.

    ``version``: the draw's number among the office's draws of the day
    (`next_worklist_version` when it was drawn).
    """
    at = created_at or datetime.now(UTC)
    return WorklistRun(
        office_id=office_id,
        day=day,
        version=version,
        capacity=capacity,
        exploration_share=exploration_share,
        pool_size=pool_size,
        pool_digest=digest,
        created_at=at,
        selections=[
            WorklistSelection(
                office_id=office_id,
                day=day,
                declaration_id=pick.declaration_id,
                rank=pick.rank,
                reason=pick.reason,
                selection_probability=pick.selection_probability,
                expected_harm=pick.expected_harm,
                created_at=at,
                profile_id=pick.profile_id,
            )
            for pick in picks
        ],
    )


def next_worklist_version(session: Session, office_id: str, day: date) -> int:
    """The version a new draw of the office's day takes: one more than the newest stored."""
    latest = session.scalar(
        select(func.max(WorklistRun.version)).where(
            WorklistRun.office_id == office_id, WorklistRun.day == day
        )
    )
    return (latest or 0) + 1


class WorklistDrawTaken(RuntimeError):
    """Another worklist of the office's day was stored under this draw's version meanwhile
    (two requests drew different worklists at the same moment): ask again."""


def store_worklist_run(session: Session, run: WorklistRun) -> bool:
    """Store a drawn worklist and its picks; False when the same draw is stored already.

    Two serving processes asked for one office's worklist at the same moment draw the same
    picks under the same version (same candidates, same seed, same stored draws before
    them): the later insert waits for the earlier (PostgreSQL) or runs after it (SQLite),
    then adds nothing instead of failing the request. The draw's version was answered
    before this write, so it is never renumbered here.

    Raises:
        WorklistDrawTaken: a different draw of the office's day took this version first, or
            this draw is stored under another version.
    """
    runs = cast(Table, WorklistRun.__table__)
    values = {column.key: getattr(run, column.key) for column in runs.columns if column.key != "id"}
    # no conflict target: a clash on the draw (uq_worklist_run) or on its version does nothing
    statement = conflict_insert(session, runs).values(values).on_conflict_do_nothing()
    run_id = session.scalar(statement.returning(runs.c.id))
    if run_id is None:
        stored = session.execute(
            select(WorklistRun.capacity, WorklistRun.pool_digest).where(
                WorklistRun.office_id == run.office_id,
                WorklistRun.day == run.day,
                WorklistRun.version == run.version,
            )
        ).first()
        if stored is None or tuple(stored) != (run.capacity, run.pool_digest):
            raise WorklistDrawTaken(
                f"worklist {run.office_id} {run.day}: version {run.version} was drawn anew"
            )
        return False
    picks = cast(Table, WorklistSelection.__table__)
    rows = [
        {column.key: getattr(pick, column.key) for column in picks.columns if column.key != "id"}
        | {"run_id": run_id}
        for pick in run.selections
    ]
    if rows:
        session.execute(insert(picks), rows)
    return True


def worklist_picks(
    session: Session, declaration_ids: Collection[str]
) -> dict[str, list[WorklistSelection]]:
    """Every worklist pick of each declaration, in the order the draws were made."""
    found: dict[str, list[WorklistSelection]] = {}
    ids = list(declaration_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = session.scalars(
            select(WorklistSelection)
            .options(joinedload(WorklistSelection.run))  # its draw's version, in the same query
            .where(WorklistSelection.declaration_id.in_(chunk))
            .order_by(WorklistSelection.id)
        )
        for row in rows:
            found.setdefault(row.declaration_id, []).append(row)
    return found


def pick_acted_on(
    picks: Sequence[WorklistSelection], inspected_at: datetime, draw_id: int | None = None
) -> WorklistSelection | None:
    """The pick an inspection followed: the named draw's, else the draw in force when it was
    inspected (the newest drawn by then; the first one when every draw came later).

    A redraw made after the inspection never replaces the draw in force, so the selection
    probability of an outcome does not move when new declarations are scored later.
    """
    if draw_id is not None:
        return next((pick for pick in picks if pick.run_id == draw_id), None)
    drawn_by_then = [pick for pick in picks if pick.created_at <= inspected_at]
    if drawn_by_then:
        return drawn_by_then[-1]
    return picks[0] if picks else None


def draw_versions(session: Session, draw_ids: Iterable[int | None]) -> dict[int, int]:
    """The version of each stored draw id (an outcome's ``draw_id``)."""
    ids = sorted({draw_id for draw_id in draw_ids if draw_id is not None})
    if not ids:
        return {}
    rows = session.execute(
        select(WorklistRun.id, WorklistRun.version).where(WorklistRun.id.in_(ids))
    )
    return {draw_id: version for draw_id, version in rows}
