"""Scored declarations and their lodging facts: the rows of each scoring, the claim of a
declaration's lodging (office, lodging time, declarant, importer: fixed once recorded), and
the reads of scorings.

Plain functions over a SQLAlchemy session. Functions here never commit: the caller opens one
transaction per request (`Store.transaction`), so a request's writes land together or not at
all, and a route answers 2xx only after the commit has returned. The other store modules
(`worklists`, `outcomes`, `export`, `performance`, `drift`, `offices`, `profiles`, `waivers`,
`watchlist`, `intelligence`) follow the same rule.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, Connection, Table, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from models.bundle import ScoredDeclaration as BundleScore
from models.explain import Reason
from serving.store.database import conflict_insert
from serving.store.group_commit import insert_rows
from serving.store.rows import declaration_rows
from serving.store.tables import DeclarationLodging, ScoredDeclaration


def json_value(value: Any) -> Any:
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
    return {str(k): json_value(v) for k, v in row.items()}


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

    One ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` with a parameter set per
    declaration (ids in sorted order, so concurrent transactions lock them in the same
    order): a declaration id that is new is recorded as this scoring says; one already
    recorded, here or by a concurrent transaction that committed first (PostgreSQL waits for
    it; SQLite writes one transaction at a time), is read back and compared. The first facts
    recorded win.

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
    # The rows go as parameters, not into the statement, so SQLAlchemy compiles it once per
    # process rather than at every scoring, and sends them as multi-row INSERTs in pages of
    # its own ("insertmanyvalues"), in this order.
    claim = (
        conflict_insert(session, _LODGINGS)
        .on_conflict_do_nothing(index_elements=["declaration_id"])
        .returning(_LODGINGS.c.declaration_id)
    )
    connection = session.connection()
    inserted = set(connection.execute(claim, [facts[i] for i in ids]).scalars())
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


# The fields of `Reason.to_dict` that a reason of each kind leaves out of its stored record
# (any other kind keeps the common fields only).
_WATCHLIST_FIELDS = ("source_agency", "handling_code")
_PROFILE_FIELDS = ("profile_id", "title", "rationale")
_UNUSED_FIELDS = {
    "model": (*_WATCHLIST_FIELDS, *_PROFILE_FIELDS),
    "watchlist": _PROFILE_FIELDS,
    "profile": _WATCHLIST_FIELDS,
}


def _reason_record(reason: Reason) -> dict[str, Any]:
    """A reason as the store keeps it: `Reason.to_dict` without the fields of other kinds."""
    record = reason.to_dict()
    for name in _UNUSED_FIELDS.get(reason.kind, _UNUSED_FIELDS["model"]):
        del record[name]
    return record


def newest_scorings(
    session: Session,
    *where: ColumnElement[bool],
    lodged_at: str | None = None,
    order_by: Sequence[ColumnElement[Any] | InstrumentedAttribute[Any]] = (),
) -> list[ScoredDeclaration]:
    """The newest scoring of each declaration among the scorings that meet ``where``, in
    ``order_by`` (none: as the database returns them).

    Args:
        lodged_at: only declarations whose recorded lodging is at this office (a scoring that
            named another office before lodging facts were fixed, store revision 0003, does
            not move one in).
    """
    newest = select(func.max(ScoredDeclaration.id))
    if lodged_at is not None:
        newest = newest.join(
            DeclarationLodging,
            (DeclarationLodging.declaration_id == ScoredDeclaration.declaration_id)
            & (DeclarationLodging.office_id == lodged_at),
        )
    newest = newest.where(*where).group_by(ScoredDeclaration.declaration_id)
    query = select(ScoredDeclaration).where(ScoredDeclaration.id.in_(newest))
    return list(session.scalars(query.order_by(*order_by)))


def latest_scores(session: Session, declaration_ids: Iterable[str]) -> dict[str, ScoredDeclaration]:
    """The newest scoring of each of ``declaration_ids`` that the store knows."""
    ids = list(dict.fromkeys(declaration_ids))
    found: dict[str, ScoredDeclaration] = {}
    for start in range(0, len(ids), 500):  # stay under bound-parameter limits
        chunk = ids[start : start + 500]
        for row in newest_scorings(session, ScoredDeclaration.declaration_id.in_(chunk)):
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
    return declaration_rows(session, ScoredDeclaration, declaration_id, ScoredDeclaration.id)


def scored_between(session: Session, start: datetime, end: datetime) -> list[ScoredDeclaration]:
    """Newest scoring of each declaration scored in ``[start, end)`` (for drift monitoring)."""
    return newest_scorings(
        session,
        ScoredDeclaration.scored_at >= start,
        ScoredDeclaration.scored_at < end,
        order_by=[ScoredDeclaration.id],
    )
