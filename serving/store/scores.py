"""Reading and writing the operational store: plain functions over a SQLAlchemy session.

Functions here never commit: the caller opens one transaction per request
(`Store.transaction`), so a request's writes land together or not at all, and a route answers
2xx only after the commit has returned.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Table, func, insert, select
from sqlalchemy.orm import Session, joinedload

from features.schema import DECLARATION_COLUMNS, OUTCOME_COLUMNS
from models.bundle import ScoredDeclaration as BundleScore
from serving.inspections.worklist import Pick
from serving.store.database import conflict_insert
from serving.store.group_commit import insert_rows
from serving.store.tables import (
    DeclarationLodging,
    DriftReport,
    InspectionOutcome,
    PerformanceReport,
    ScoredDeclaration,
    WorklistRun,
    WorklistSelection,
)


def _json_value(value: Any) -> Any:
    """A JSON-ready scalar: timestamps as ISO text, NaN/NaT as None, numpy as Python."""
    if type(value) is str:  # most fields: nothing to convert (checked first, on every score)
        return value
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp | datetime):
        return pd.Timestamp(value).isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def declaration_record(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A canonical declaration row as the JSON the store keeps (missing values as null)."""
    return {str(k): _json_value(v) for k, v in row.items()}


# -- scores ------------------------------------------------------------------------------------


def score_rows(
    declarations: pd.DataFrame | Sequence[Mapping[str, Any]],
    scored: Sequence[BundleScore],
    *,
    model_name: str,
    model_version: str,
    scored_at: datetime | None = None,
) -> list[dict[str, Any]]:
    """The ``scored_declarations`` rows of one scoring, ready for `insert_score_rows`.

    Pure: built before any transaction opens, so the transaction only inserts.

    Args:
        declarations: the canonical declarations that were scored, row for row with
            ``scored``: a canonical frame, or its rows as mappings
            (`features.records.CanonicalRecords.rows`).
    """
    if len(declarations) != len(scored):
        raise ValueError(f"{len(declarations)} declarations but {len(scored)} scores")
    at = scored_at or datetime.now(UTC)
    records: Sequence[Mapping[Any, Any]] = (
        declarations.to_dict(orient="records")
        if isinstance(declarations, pd.DataFrame)
        else declarations
    )
    rows = []
    for record, score in zip(records, scored, strict=True):
        lodged_at = record["lodged_at"]
        if not isinstance(lodged_at, pd.Timestamp):
            lodged_at = pd.Timestamp(lodged_at)
        lodged = lodged_at.tz_convert("UTC").to_pydatetime()
        rows.append(
            {
                "declaration_id": str(record["declaration_id"]),
                "office_id": str(record["office_id"]),
                "lodged_at": lodged,
                "lodged_day": lodged.date(),
                "declaration": declaration_record(record),
                "risk": {t: float(r) for t, r in score.risk.items()},
                "overall": float(score.overall),
                "lane": score.lane,
                "reasons": [_reason_record(reason) for reason in score.reasons],
                "model_name": model_name,
                "model_version": model_version,
                "scored_at": at,
            }
        )
    return rows


def insert_score_rows(session: Session, rows: Sequence[Mapping[str, Any]]) -> set[str]:
    """Insert rows made by `score_rows` in one multi-row statement (no ORM objects); in a group
    commit, with the rows of the other writes of the group. Returns the declaration ids the
    store records for the first time (their first scoring).

    The lodging facts are claimed first (`claim_lodgings`): a row that would move a declaration
    to another office, lodging time, declarant or importer raises before anything is added.

    Raises:
        LodgingConflictError: a row's lodging facts differ from the recorded ones.
    """
    first = claim_lodgings(session, rows)
    insert_rows(session, cast(Table, ScoredDeclaration.__table__), rows)
    return first


# -- lodging facts: fixed once recorded --------------------------------------------------------

# What identifies a lodging. Other fields (values, goods, HS code) may change when an amended
# declaration is scored again, and each scoring is kept as history; these may not: a changed
# office would move the declaration (and its outcomes) into another office's remit, and a
# changed declarant or importer would hand its inspection results to another trader's history.
LODGING_FACTS = ("office_id", "lodged_at", "declarant_id", "importer_id")


@dataclass(frozen=True)
class LodgingConflict:
    """A scoring whose lodging facts differ from those recorded for its declaration id."""

    position: int  # the row of the scoring (of the request)
    declaration_id: str
    fields: tuple[str, ...]  # the facts that differ, in `LODGING_FACTS` order
    recorded_office: str  # where the declaration lies: decides what the caller may be told


class LodgingConflictError(ValueError):
    """Scorings that would change the recorded lodging facts of their declarations."""

    def __init__(self, conflicts: Sequence[LodgingConflict]) -> None:
        self.conflicts = list(conflicts)
        super().__init__(
            f"{len(conflicts)} scoring(s) differ from the recorded lodging of their declaration"
        )


def _lodging(row: Mapping[str, Any]) -> dict[str, Any]:
    declaration = row["declaration"]
    return {
        "declaration_id": row["declaration_id"],
        "office_id": row["office_id"],
        "lodged_at": row["lodged_at"],
        "declarant_id": declaration.get("declarant_id"),
        "importer_id": declaration.get("importer_id"),
        "recorded_at": row["scored_at"],
    }


def claim_lodgings(session: Session, rows: Sequence[Mapping[str, Any]]) -> set[str]:
    """Record the lodging facts of declarations scored for the first time; check the others.
    Returns the ids recorded now: a lodging is recorded with a declaration's first scoring
    (and migration 0004 recorded those of earlier scorings), so these are its first scoring,
    also against a concurrent transaction that recorded the same id first.

    One ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` per 500 declarations (ids in sorted
    order, so concurrent transactions lock them in the same order): a declaration id that is
    new is recorded as this scoring says; one already recorded, here or by a concurrent
    transaction that committed first (PostgreSQL waits for it; SQLite writes one transaction
    at a time), is read back and compared. The first facts recorded win.

    Raises:
        LodgingConflictError: a row's facts differ from the recorded ones (nothing is added
            by the caller's transaction then, once it rolls back).
    """
    facts: dict[str, dict[str, Any]] = {}
    positions: dict[str, int] = {}
    for position, row in enumerate(rows):
        lodging = _lodging(row)
        facts.setdefault(lodging["declaration_id"], lodging)
        positions.setdefault(lodging["declaration_id"], position)
    ids = sorted(facts)
    # Core statements on the session's connection (its transaction): the ORM's per-statement
    # work cost more than the statements on the scoring path, where every request claims.
    connection = session.connection()
    inserted: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = [facts[i] for i in ids[start : start + 500]]
        statement = (
            conflict_insert(session, _LODGINGS)
            .values(chunk)
            .on_conflict_do_nothing(index_elements=["declaration_id"])
        )
        inserted.update(
            connection.execute(statement.returning(_LODGINGS.c.declaration_id)).scalars()
        )
    recorded = _recorded_facts(connection, [i for i in ids if i not in inserted])
    conflicts = []
    for declaration_id, stored in recorded.items():
        submitted = facts[declaration_id]
        differ = tuple(name for name in LODGING_FACTS if stored[name] != submitted[name])
        if differ:
            conflicts.append(
                LodgingConflict(
                    positions[declaration_id], declaration_id, differ, stored["office_id"]
                )
            )
    if conflicts:
        raise LodgingConflictError(sorted(conflicts, key=lambda c: c.position))
    return inserted


_LODGINGS = cast(Table, DeclarationLodging.__table__)
_LODGING_COLUMNS = [_LODGINGS.c.declaration_id, *(_LODGINGS.c[name] for name in LODGING_FACTS)]


def _recorded_facts(
    connection: Connection, declaration_ids: Iterable[str]
) -> dict[str, Mapping[str, Any]]:
    """The recorded lodging facts (`LODGING_FACTS`) of each of ``declaration_ids`` the store
    knows, by declaration id."""
    ids = list(dict.fromkeys(declaration_ids))
    found: dict[str, Mapping[str, Any]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        statement = select(*_LODGING_COLUMNS).where(_LODGINGS.c.declaration_id.in_(chunk))
        for row in connection.execute(statement).mappings():
            found[row["declaration_id"]] = dict(row)
    return found


def lodged_offices(session: Session, declaration_ids: Iterable[str]) -> dict[str, str]:
    """The office each known declaration was lodged at: the one remit checks read."""
    recorded = _recorded_facts(session.connection(), declaration_ids)
    return {i: row["office_id"] for i, row in recorded.items()}


def record_scores(
    session: Session,
    declarations: pd.DataFrame,
    scored: Sequence[BundleScore],
    *,
    model_name: str,
    model_version: str,
    scored_at: datetime | None = None,
) -> int:
    """Add one row per scored declaration; earlier scorings stay as history.

    Args:
        declarations: the canonical frame that was scored, row for row with ``scored``.
    """
    rows = score_rows(
        declarations,
        scored,
        model_name=model_name,
        model_version=model_version,
        scored_at=scored_at,
    )
    insert_score_rows(session, rows)
    return len(rows)


def _reason_record(reason: Any) -> dict[str, Any]:
    value = reason.value
    return {
        "threat": reason.threat,
        "feature": reason.feature,
        "value": None if value is None or not math.isfinite(value) else float(value),
        "contribution": float(reason.contribution),
        "text": reason.text,
        "kind": getattr(reason, "kind", "model"),
        **(
            {"source_agency": reason.source_agency, "handling_code": reason.handling_code}
            if getattr(reason, "kind", "model") == "watchlist"
            else {}
        ),
        **(
            {
                "profile_id": reason.profile_id,
                "title": reason.title,
                "rationale": reason.rationale,
            }
            if getattr(reason, "kind", "model") == "profile"
            else {}
        ),
    }


def latest_scores(session: Session, declaration_ids: Iterable[str]) -> dict[str, ScoredDeclaration]:
    """The newest scoring of each of ``declaration_ids`` that the store knows."""
    ids = list(dict.fromkeys(declaration_ids))
    found: dict[str, ScoredDeclaration] = {}
    for start in range(0, len(ids), 500):  # stay under bound-parameter limits
        chunk = ids[start : start + 500]
        newest = (
            select(func.max(ScoredDeclaration.id))
            .where(ScoredDeclaration.declaration_id.in_(chunk))
            .group_by(ScoredDeclaration.declaration_id)
        )
        for row in session.scalars(
            select(ScoredDeclaration).where(ScoredDeclaration.id.in_(newest))
        ):
            found[row.declaration_id] = row
    return found


def known_declaration_ids(session: Session, declaration_ids: Iterable[str]) -> set[str]:
    """Which of ``declaration_ids`` have been scored (and so may receive outcomes)."""
    ids = list(dict.fromkeys(declaration_ids))
    known: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        known.update(
            session.scalars(
                select(ScoredDeclaration.declaration_id)
                .where(ScoredDeclaration.declaration_id.in_(chunk))
                .distinct()
            )
        )
    return known


def scoring_history(session: Session, declaration_id: str) -> list[ScoredDeclaration]:
    """Every scoring of a declaration, oldest first."""
    return list(
        session.scalars(
            select(ScoredDeclaration)
            .where(ScoredDeclaration.declaration_id == declaration_id)
            .order_by(ScoredDeclaration.id)
        )
    )


def outcomes_of(session: Session, declaration_id: str) -> list[InspectionOutcome]:
    """The recorded inspections of a declaration, oldest first."""
    return list(
        session.scalars(
            select(InspectionOutcome)
            .where(InspectionOutcome.declaration_id == declaration_id)
            .order_by(InspectionOutcome.inspected_at)
        )
    )


def scored_between(session: Session, start: datetime, end: datetime) -> list[ScoredDeclaration]:
    """Newest scoring of each declaration scored in ``[start, end)`` (for drift monitoring)."""
    newest = (
        select(func.max(ScoredDeclaration.id))
        .where(ScoredDeclaration.scored_at >= start, ScoredDeclaration.scored_at < end)
        .group_by(ScoredDeclaration.declaration_id)
    )
    return list(
        session.scalars(
            select(ScoredDeclaration)
            .where(ScoredDeclaration.id.in_(newest))
            .order_by(ScoredDeclaration.id)
        )
    )


# -- worklists ---------------------------------------------------------------------------------


def day_candidates(session: Session, office_id: str, day: date) -> list[ScoredDeclaration]:
    """Newest scoring of each declaration lodged at ``office_id`` on ``day`` (UTC).

    Only declarations whose recorded lodging is at ``office_id``: a scoring that named
    another office before lodging facts were fixed (store revision 0003) does not move one in.
    """
    newest = (
        select(func.max(ScoredDeclaration.id))
        .join(
            DeclarationLodging,
            (DeclarationLodging.declaration_id == ScoredDeclaration.declaration_id)
            & (DeclarationLodging.office_id == office_id),
        )
        .where(ScoredDeclaration.office_id == office_id, ScoredDeclaration.lodged_day == day)
        .group_by(ScoredDeclaration.declaration_id)
    )
    return list(
        session.scalars(
            select(ScoredDeclaration)
            .where(ScoredDeclaration.id.in_(newest))
            .order_by(ScoredDeclaration.declaration_id)
        )
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
    picks: Sequence[Pick],
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


def _named_draw(picks: Sequence[WorklistSelection], version: int | None) -> int | None:
    """The id of the draw an outcome names by its version, among the draws that picked its
    declaration (the declaration's office and day fix which worklist); 0, an id no draw
    has, when none of them has that version."""
    if version is None:
        return None
    return next((pick.run_id for pick in picks if pick.run.version == version), 0)


def _acted_on(
    picks: Sequence[WorklistSelection],
    inspected_at: datetime,
    draw_id: int | None,
    reason: str | None,
) -> WorklistSelection | None:
    """`pick_acted_on`, unless the outcome names another reason and no draw (an officer's or
    intelligence selection, or a profile's own share: it keeps its own probability)."""
    pick = pick_acted_on(picks, inspected_at, draw_id)
    if pick is not None and draw_id is None and reason not in (None, pick.reason):
        return None
    return pick


def _with_pick(values: dict[str, Any], pick: WorklistSelection | None) -> None:
    """Fill an outcome's empty selection reason and probability from the pick it followed."""
    if pick is None:
        return
    if values["selection_reason"] is None:
        values["selection_reason"] = pick.reason
    if values["selection_probability"] is None:
        values["selection_probability"] = pick.selection_probability


# -- outcomes ----------------------------------------------------------------------------------


class OutcomeConflictError(ValueError):
    """An outcome repeats a declaration and inspection time already recorded, with other values."""

    def __init__(self, conflicts: Sequence[tuple[int, str]]) -> None:
        self.conflicts = list(conflicts)  # (0-based row of the request, declaration id)
        super().__init__(
            f"{len(conflicts)} outcome(s) differ from the outcome already recorded for the same "
            "declaration and inspection time"
        )


class OutcomeDrawError(ValueError):
    """An outcome names a draw that did not pick its declaration, or a selection reason or
    probability other than that draw's pick."""

    def __init__(self, mismatches: Sequence[tuple[int, str, str]]) -> None:
        self.mismatches = list(mismatches)  # (0-based row of the request, field, message)
        super().__init__("; ".join(message for _, _, message in self.mismatches))


@dataclass(frozen=True)
class OutcomeWrite:
    """What `record_outcomes` did: rows stored now, and rows already stored identically."""

    recorded: int
    already_recorded: int


_OUTCOME_VALUE_FIELDS = [c for c in OUTCOME_COLUMNS if c not in ("declaration_id", "inspected_at")]


def _outcome_values(record: Mapping[Any, Any]) -> dict[str, Any]:
    values = {}
    for name in _OUTCOME_VALUE_FIELDS:
        value = _json_value(record.get(name))
        if isinstance(value, bool | np.bool_):
            value = bool(value)
        values[name] = value
    return values


def _draw_mismatch(
    values: Mapping[str, Any], pick: WorklistSelection | None
) -> tuple[str, str] | None:
    """What differs between an outcome naming a draw and that draw's pick: (field, message)."""
    if pick is None:
        return "draw_version", "this worklist draw did not pick the declaration"
    if values["selection_reason"] not in (None, pick.reason):
        return "selection_reason", "differs from the reason of the named draw's pick"
    probability = values["selection_probability"]
    if probability is not None and not math.isclose(
        float(probability), pick.selection_probability, rel_tol=1e-9, abs_tol=1e-12
    ):
        return "selection_probability", "differs from the probability of the named draw's pick"
    return None


def _same(stored: InspectionOutcome, values: Mapping[str, Any]) -> bool:
    for name, value in values.items():
        old = getattr(stored, name)
        if isinstance(old, float) and isinstance(value, int | float):
            if not math.isclose(old, float(value), rel_tol=1e-12, abs_tol=1e-12):
                return False
        elif old != value:
            return False
    return True


def record_outcomes(
    session: Session,
    outcomes: pd.DataFrame,
    *,
    draws: Sequence[int | None] | None = None,
    recorded_at: datetime | None = None,
    officer_added: Collection[str] = (),
) -> OutcomeWrite:
    """Store validated outcomes, idempotent on (declaration_id, inspected_at).

    A repeat of an outcome already stored with the same values is skipped; a repeat with
    different values raises `OutcomeConflictError` before anything is added, so a request
    lands whole or not at all. Each outcome keeps the worklist draw it followed (the one it
    names, else the draw in force when it was inspected: `pick_acted_on`), and a selection
    reason or probability left empty is filled from that draw's pick, so a later redraw never
    changes it.

    Args:
        outcomes: canonical outcomes (``features.validation.validate_outcomes``).
        draws: per outcome, the version of the worklist draw the officer acted on (GET
            /v1/worklist's ``version``), or None. The outcome keeps that draw's id.
        officer_added: declarations an officer added for inspection
            (`serving.store.waivers`): an outcome of one that no worklist pick explains and
            that gives no selection reason is recorded as ``officer`` (probability unknown).

    Raises:
        OutcomeDrawError: a named draw did not pick the declaration, or its pick differs.
        OutcomeConflictError: a repeat of a stored outcome with other values.
    """
    at = recorded_at or datetime.now(UTC)
    records = outcomes.to_dict(orient="records")
    keys = [
        (
            str(r["declaration_id"]),
            pd.Timestamp(r["inspected_at"]).tz_convert("UTC").to_pydatetime(),
        )
        for r in records
    ]
    existing: dict[tuple[str, datetime], InspectionOutcome] = {}
    ids = sorted({k[0] for k in keys})
    for start in range(0, len(ids), 500):
        for row in session.scalars(
            select(InspectionOutcome).where(
                InspectionOutcome.declaration_id.in_(ids[start : start + 500])
            )
        ):
            existing[(row.declaration_id, row.inspected_at)] = row
    picks = worklist_picks(session, ids)
    named = list(draws) if draws is not None else [None] * len(records)

    conflicts: list[tuple[int, str]] = []
    mismatches: list[tuple[int, str, str]] = []
    new: dict[tuple[str, datetime], InspectionOutcome] = {}
    repeated = 0
    for position, (record, key) in enumerate(zip(records, keys, strict=True)):
        values = _outcome_values(record)
        declaration_picks = picks.get(key[0], [])
        draw_id = _named_draw(declaration_picks, named[position])
        pick = _acted_on(declaration_picks, key[1], draw_id, values["selection_reason"])
        if draw_id is not None and (mismatch := _draw_mismatch(values, pick)):
            mismatches.append((position, *mismatch))
            continue
        _with_pick(values, pick)
        if pick is None and values["selection_reason"] is None and key[0] in officer_added:
            values["selection_reason"] = "officer"
        values["draw_id"] = None if pick is None else pick.run_id
        before = existing.get(key) or new.get(key)
        if before is not None:
            # The draw counts only when the outcome names it; else the stored one stands.
            compared = values if draw_id is not None else {**values, "draw_id": before.draw_id}
            if _same(before, compared):
                repeated += 1
            else:
                conflicts.append((position, key[0]))
            continue
        new[key] = InspectionOutcome(
            declaration_id=key[0], inspected_at=key[1], recorded_at=at, **values
        )
    if mismatches:
        raise OutcomeDrawError(mismatches)
    if conflicts:
        raise OutcomeConflictError(conflicts)
    session.add_all(new.values())
    session.flush()
    return OutcomeWrite(recorded=len(new), already_recorded=repeated)


def outcome_pick(
    outcome: InspectionOutcome, picks: Sequence[WorklistSelection]
) -> WorklistSelection | None:
    """The worklist pick a stored outcome followed (its draw's; for an outcome recorded before
    draws were named, the draw in force when it was inspected among those made by the time
    it was recorded: a later draw is never one it followed), or None."""
    if outcome.draw_id is None:
        picks = [pick for pick in picks if pick.created_at <= outcome.recorded_at]
    return _acted_on(picks, outcome.inspected_at, outcome.draw_id, outcome.selection_reason)


# -- export for retraining ---------------------------------------------------------------------


def export_tables(session: Session) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Declarations (newest scoring of each, canonical columns) and outcomes with probabilities.

    Each outcome carries the selection probability of the draw it followed (kept when it
    was recorded; for an outcome recorded before draws were named, the draw in force when it
    was inspected), never that of a later redraw; outcomes no worklist picked keep theirs
    (officer or intelligence selections have none).
    """
    newest = select(func.max(ScoredDeclaration.id)).group_by(ScoredDeclaration.declaration_id)
    rows = session.scalars(
        select(ScoredDeclaration.declaration)
        .where(ScoredDeclaration.id.in_(newest))
        .order_by(ScoredDeclaration.lodged_at, ScoredDeclaration.declaration_id)
    ).all()
    declarations = pd.DataFrame.from_records(list(rows))
    extras = sorted(set(declarations.columns) - set(DECLARATION_COLUMNS))
    declarations = declarations.reindex(columns=[*DECLARATION_COLUMNS, *extras])

    stored = session.scalars(
        select(InspectionOutcome).order_by(InspectionOutcome.inspected_at, InspectionOutcome.id)
    ).all()
    picks = worklist_picks(session, sorted({o.declaration_id for o in stored}))
    outcome_rows = []
    for outcome in stored:
        row = {name: getattr(outcome, name) for name in OUTCOME_COLUMNS}
        _with_pick(row, outcome_pick(outcome, picks.get(outcome.declaration_id, [])))
        outcome_rows.append(row)
    outcomes = pd.DataFrame.from_records(outcome_rows, columns=list(OUTCOME_COLUMNS))
    return declarations, outcomes


# -- performance monitoring --------------------------------------------------------------------

_FLAGS = ("weapons_found", "migrants_found", "revenue_irregularity")
_INSPECTED_COLUMNS = [
    "declaration_id",
    "office_id",
    "day",
    "selection_reason",
    "selection_probability",
    *_FLAGS,
    "irregular",
]


def performance_outcomes(
    session: Session, *, weeks: int
) -> tuple[pd.DataFrame, dict[tuple[str, date], int]]:
    """The inspected declarations of the last ``weeks`` lodging weeks that have outcomes, and
    the declarations scored per (office, lodging day) of those weeks.

    One row per inspected declaration (`inspected_declarations`).
    """
    newest = session.scalar(
        select(func.max(DeclarationLodging.lodged_at)).join(
            InspectionOutcome,
            InspectionOutcome.declaration_id == DeclarationLodging.declaration_id,
        )
    )
    if newest is None:
        return pd.DataFrame(columns=_INSPECTED_COLUMNS), {}
    last_day = newest.astimezone(UTC).date()
    start = last_day - timedelta(days=last_day.weekday() + 7 * (weeks - 1))
    frame = inspected_declarations(session, start, None)
    counts = session.execute(
        select(
            ScoredDeclaration.office_id,
            ScoredDeclaration.lodged_day,
            func.count(func.distinct(ScoredDeclaration.declaration_id)),
        )
        .where(ScoredDeclaration.lodged_day >= start)
        .group_by(ScoredDeclaration.office_id, ScoredDeclaration.lodged_day)
    ).all()
    return frame, {(office, day): int(n) for office, day, n in counts}


def inspected_declarations(
    session: Session, since: date | None, until: date | None
) -> pd.DataFrame:
    """The declarations lodged on the UTC days ``since`` to ``until`` (inclusive; None: open)
    that have outcomes, one row each: its first inspection's selection (reason and
    probability of the draw it followed, `outcome_pick`); found (per flag, and ``irregular``)
    when any inspection found it. One query for the outcomes, one per 500 declarations for
    their picks.
    """
    query = select(
        InspectionOutcome, DeclarationLodging.office_id, DeclarationLodging.lodged_at
    ).join(
        DeclarationLodging, DeclarationLodging.declaration_id == InspectionOutcome.declaration_id
    )
    if since is not None:
        query = query.where(
            DeclarationLodging.lodged_at >= datetime.combine(since, datetime.min.time(), UTC)
        )
    if until is not None:
        after = until + timedelta(days=1)
        query = query.where(
            DeclarationLodging.lodged_at < datetime.combine(after, datetime.min.time(), UTC)
        )
    stored = session.execute(
        query.order_by(InspectionOutcome.inspected_at, InspectionOutcome.id)
    ).all()
    picks = worklist_picks(session, sorted({row[0].declaration_id for row in stored}))
    first: dict[str, dict[str, Any]] = {}
    for outcome, office_id, lodged_at in stored:
        row = first.get(outcome.declaration_id)
        if row is None:
            row = {
                "declaration_id": outcome.declaration_id,
                "office_id": office_id,
                "day": lodged_at.astimezone(UTC).date(),
                "selection_reason": outcome.selection_reason,
                "selection_probability": outcome.selection_probability,
                "weapons_found": False,
                "migrants_found": 0.0,
                "revenue_irregularity": False,
                "irregular": False,
            }
            _with_pick(row, outcome_pick(outcome, picks.get(outcome.declaration_id, [])))
            first[outcome.declaration_id] = row
        row["weapons_found"] |= bool(outcome.weapons_found)
        row["migrants_found"] = max(row["migrants_found"], outcome.migrants_found or 0.0)
        row["revenue_irregularity"] |= bool(outcome.revenue_irregularity)
        row["irregular"] |= outcome.result == "irregular"
    frame = pd.DataFrame.from_records(list(first.values()), columns=_INSPECTED_COLUMNS)
    frame["selection_probability"] = frame["selection_probability"].astype("float64")
    return frame


def record_performance_report(
    session: Session, summary: Mapping[str, Any], *, created_at: datetime | None = None
) -> PerformanceReport:
    """Keep one computation of the performance figures."""
    report = PerformanceReport(created_at=created_at or datetime.now(UTC), summary=dict(summary))
    session.add(report)
    session.flush()
    return report


def latest_performance_report(session: Session) -> PerformanceReport | None:
    """The newest performance figures, or None before the first computation."""
    return session.scalars(
        select(PerformanceReport).order_by(PerformanceReport.id.desc()).limit(1)
    ).first()


def latest_performance_report_id(session: Session) -> int | None:
    """The id of the newest performance report: a cheap check whether figures changed."""
    return session.scalar(select(func.max(PerformanceReport.id)))


# -- drift reports -----------------------------------------------------------------------------


def record_drift_report(
    session: Session,
    *,
    model_name: str,
    model_version: str,
    window_start: datetime,
    window_end: datetime,
    summary: Mapping[str, Any],
    created_at: datetime | None = None,
) -> DriftReport:
    """Keep the figures of a monitoring run for GET /v1/model."""
    report = DriftReport(
        created_at=created_at or datetime.now(UTC),
        model_name=model_name,
        model_version=model_version,
        window_start=window_start,
        window_end=window_end,
        summary=dict(summary),
    )
    session.add(report)
    session.flush()
    return report


def latest_drift_report(session: Session) -> DriftReport | None:
    """The newest monitoring figures, or None before the first `shiprisk monitor`."""
    return session.scalars(select(DriftReport).order_by(DriftReport.id.desc()).limit(1)).first()
