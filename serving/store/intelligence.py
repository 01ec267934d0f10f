"""Live intelligence in the store: the watchlist and entity history, read at scoring time.

Plain functions over a session that never commit (as `serving.store.repository`). A scoring
batch reads its live inputs with `read_live`: one query per table (entity history, its
per-threat counts, watchlist entries) for the whole batch, whatever its size. The writes
that change history (`count_declarations`, `count_outcomes`) run in the transaction of the
scores and outcomes that cause them, so history and what it counts commit together.

What a declaration's features see ("as of", docs/internals.md): everything committed before
its batch read the store, at the moment kept as the scoring's ``scored_at``; training
rebuilds the same from `shiprisk export` (features.live.live_point_in_time).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Table, case, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from features.columns import NAT_NS, DeclarationColumns
from features.dataset import derive_labels
from features.entities import ENTITY_KINDS, TRANSIT_COUNTRY, entity_keys
from features.history import HistoryTable, count_columns
from features.live import HISTORY_KINDS, LiveInputs, history_keys, live_from_state
from features.route import transit_countries
from features.schema import WATCHLIST_COLUMNS
from features.sources import OUTCOME_THREATS
from features.watchlist import WATCHLIST_ENTRY_COLUMNS, declaration_watchlist_keys
from serving.store.repository import known_declaration_ids
from serving.store.tables import (
    EntityHistory,
    EntityThreatHistory,
    InspectionOutcome,
    ScoredDeclaration,
    WatchlistEntry,
)

# Keys per IN list: stays under every backend's bound-parameter limit.
CHUNK = 400
# Watchlist columns a scoring reason may show (never the provider's text or H3 note).
REASON_COLUMNS = ("id", "source_agency", "source_country", "handling_code")


@dataclass(frozen=True)
class LiveRead:
    """A batch's live inputs and the watchlist entries they hit (for the reasons)."""

    live: LiveInputs
    entries: pd.DataFrame  # candidate entries, WATCHLIST_ENTRY_COLUMNS + REASON_COLUMNS
    scored_at: datetime


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _keys_in(key_column: Any, pairs: Sequence[tuple[str, str]]) -> Any:
    """``key IN (...)`` over the pairs' keys: one statement, read from the index that starts
    with the key; the kind is checked on the rows returned."""
    return key_column.in_(sorted({key for _, key in pairs}))


def read_live(
    session: Session, columns: DeclarationColumns, threats: Sequence[str], scored_at: datetime
) -> LiveRead:
    """Entity history and watchlist entries for the declarations of one scoring batch, as the
    store holds them now (``scored_at``): one query per table for the whole batch."""
    pairs = [(kind, key) for kind, keys in history_keys(columns).items() for key in keys]
    history = _history_state(session, pairs, threats)
    watch_pairs = sorted(
        {
            (entity_type, str(key))
            for entity_type, (_, keys) in declaration_watchlist_keys(columns).items()
            for key in keys.tolist()
        }
    )
    entries = watchlist_candidates(session, watch_pairs, scored_at)
    moment = np.full(len(columns), pd.Timestamp(scored_at).value, dtype=np.int64)
    live = live_from_state(columns, threats, history, entries, moment)
    return LiveRead(live, entries, scored_at)


def _history_state(
    session: Session, pairs: Sequence[tuple[str, str]], threats: Sequence[str]
) -> dict[str, HistoryTable]:
    """History rows of (entity, key) pairs as lookup tables per kind (no frame: this runs on
    every scoring batch)."""
    names = count_columns(threats)
    column = {name: position for position, name in enumerate(names)}
    found: dict[tuple[str, str], list[float]] = {}
    first: dict[tuple[str, str], int] = {}
    wanted = set(pairs)
    for chunk in _chunks(pairs):
        for row in session.execute(
            select(
                EntityHistory.entity,
                EntityHistory.key,
                EntityHistory.declarations,
                EntityHistory.inspections,
                EntityHistory.first_seen,
            ).where(_keys_in(EntityHistory.key, chunk))
        ):
            if (row.entity, row.key) not in wanted:
                continue
            values = found.setdefault((row.entity, row.key), [0.0] * len(names))
            values[0], values[1] = float(row.declarations), float(row.inspections)
            if row.first_seen is not None:
                first[(row.entity, row.key)] = pd.Timestamp(row.first_seen).value
        for threat_row in session.execute(
            select(
                EntityThreatHistory.entity,
                EntityThreatHistory.key,
                EntityThreatHistory.threat,
                EntityThreatHistory.labelled,
                EntityThreatHistory.hits,
            ).where(_keys_in(EntityThreatHistory.key, chunk))
        ):
            if (threat_row.entity, threat_row.key) not in wanted:
                continue
            labelled = column.get(f"labelled_{threat_row.threat}")
            if labelled is None:  # a threat this model does not score
                continue
            values = found.setdefault((threat_row.entity, threat_row.key), [0.0] * len(names))
            values[labelled] = float(threat_row.labelled)
            values[column[f"hits_{threat_row.threat}"]] = float(threat_row.hits)
    tables: dict[str, HistoryTable] = {}
    for kind in HISTORY_KINDS:
        keys = [key for entity, key in found if entity == kind]
        tables[kind] = HistoryTable(
            keys,
            np.array([found[(kind, key)] for key in keys], dtype=np.float64),
            np.array([first.get((kind, key), NAT_NS) for key in keys], dtype=np.int64),
            names,
        )
    return tables


def watchlist_candidates(
    session: Session, pairs: Sequence[tuple[str, str]], at: datetime | None = None
) -> pd.DataFrame:
    """Watchlist entries listed under (entity type, key) pairs and in force at ``at`` (added
    before, not withdrawn before); the validity window is checked per declaration
    (features.watchlist.watchlist_hits)."""
    columns = [*WATCHLIST_ENTRY_COLUMNS, *REASON_COLUMNS]
    selected = [getattr(WatchlistEntry, name) for name in columns]
    wanted = set(pairs)
    found: list[tuple[Any, ...]] = []
    for chunk in _chunks(pairs):
        query = select(*selected).where(_keys_in(WatchlistEntry.key, chunk))
        if at is not None:
            query = query.where(
                WatchlistEntry.added_at < at,
                or_(WatchlistEntry.withdrawn_at.is_(None), WatchlistEntry.withdrawn_at >= at),
            )
        for entry in session.execute(query.order_by(WatchlistEntry.id)):
            if (entry.entity_type, entry.key) in wanted:
                found.append(tuple(entry))
    if not found:  # the usual case: nobody in the batch is listed
        return _NO_ENTRIES
    frame = pd.DataFrame.from_records(found, columns=columns)
    for name in ("valid_from", "valid_to", "added_at", "withdrawn_at"):
        frame[name] = pd.to_datetime(frame[name], utc=True).astype("datetime64[ns, UTC]")
    return frame


_NO_ENTRIES = pd.DataFrame(
    {name: pd.Series([], dtype="object") for name in (*WATCHLIST_ENTRY_COLUMNS, *REASON_COLUMNS)}
)


# -- history updates, in the transaction of what changes them ------------------------------------


def _upsert(
    session: Session, table: Table, rows: list[dict[str, Any]], keys: Sequence[str]
) -> None:
    """Add the counts of ``rows`` to the stored rows with the same keys (insert when new);
    ``first_seen`` keeps the earlier, ``last_seen`` the later."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    excluded = statement.excluded
    changes: dict[str, Any] = {}
    for name in rows[0]:
        if name in keys:
            continue
        column = table.c[name]
        if name == "first_seen":
            changes[name] = case(
                (column.is_(None), excluded[name]),
                (excluded[name] < column, excluded[name]),
                else_=column,
            )
        elif name == "last_seen":
            changes[name] = case(
                (column.is_(None), excluded[name]),
                (excluded[name] > column, excluded[name]),
                else_=column,
            )
        else:
            changes[name] = column + excluded[name]
    session.execute(
        statement.on_conflict_do_update(index_elements=list(keys), set_=changes),
        sorted(rows, key=lambda row: tuple(row[k] for k in keys)),  # one lock order
    )


def declaration_entities(columns: DeclarationColumns) -> list[list[tuple[str, str]]]:
    """Per declaration, the (entity kind, key) pairs whose history it adds a declaration to."""
    keys = entity_keys(columns)
    return [
        [
            (kind.name, str(keys[kind.name][row]))
            for kind in ENTITY_KINDS
            if keys[kind.name][row] is not None
        ]
        for row in range(len(columns))
    ]


_COUNTED = "shiprisk.counted_declarations"  # session.info: ids counted in this transaction


def count_declarations(
    session: Session,
    declaration_ids: Sequence[str],
    entities: Sequence[Sequence[tuple[str, str]]],
    lodged_at: Sequence[datetime],
) -> int:
    """Add each declaration the store has not recorded before to its entities' history;
    returns how many were new. Re-scoring a declaration counts nothing."""
    seen = known_declaration_ids(session, declaration_ids)
    counted: set[str] = session.info.setdefault(_COUNTED, set())
    totals: dict[tuple[str, str], dict[str, Any]] = {}
    new = 0
    for declaration_id, pairs, lodged in zip(declaration_ids, entities, lodged_at, strict=True):
        if declaration_id in seen or declaration_id in counted:
            continue
        counted.add(declaration_id)
        new += 1
        for entity, key in pairs:
            row = totals.setdefault(
                (entity, key),
                {
                    "entity": entity,
                    "key": key,
                    "declarations": 0,
                    "inspections": 0,
                    "first_seen": lodged,
                    "last_seen": lodged,
                },
            )
            row["declarations"] += 1
            row["first_seen"] = min(row["first_seen"], lodged)
            row["last_seen"] = max(row["last_seen"], lodged)
    _upsert(session, EntityHistory.__table__, list(totals.values()), ("entity", "key"))  # type: ignore[arg-type]
    return new


def count_outcomes(session: Session, outcomes: pd.DataFrame, already: set[str]) -> int:
    """Add the first outcome of each declaration (not in ``already``: declarations with an
    outcome stored before this write) to its entities' history: one inspection, and per
    threat one labelled outcome and a hit when positive. Returns how many were counted."""
    first = (
        outcomes[~outcomes["declaration_id"].isin(already)]
        .sort_values("inspected_at", kind="stable")
        .drop_duplicates("declaration_id")
    )
    if first.empty:
        return 0
    ids = first["declaration_id"].astype(str).tolist()
    stored = _declarations_of(session, ids)
    declarations = pd.DataFrame([stored[i] for i in ids if i in stored])
    if declarations.empty:
        return 0
    declarations["lodged_at"] = pd.to_datetime(declarations["lodged_at"], utc=True)
    labels = derive_labels(declarations, first, threats=OUTCOME_THREATS)
    columns = DeclarationColumns(declarations)
    keys = entity_keys(columns)
    per_row: list[list[tuple[str, str]]] = [[] for _ in range(len(declarations))]
    for kind in ENTITY_KINDS:
        for row, key in enumerate(keys[kind.name].tolist()):
            if key is not None:
                per_row[row].append((kind.name, str(key)))
    transit = transit_countries(columns)
    for row, country in zip(transit.rows.tolist(), transit.countries.tolist(), strict=True):
        per_row[row].append((TRANSIT_COUNTRY, str(country)))
    history: dict[tuple[str, str], dict[str, Any]] = {}
    threat_rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row, pairs in enumerate(per_row):
        for entity, key in pairs:
            entry = history.setdefault(
                (entity, key),
                {
                    "entity": entity,
                    "key": key,
                    "declarations": 0,
                    "inspections": 0,
                    "first_seen": None,
                    "last_seen": None,
                },
            )
            entry["inspections"] += 1
            for threat in OUTCOME_THREATS:
                label = labels[f"label_{threat}"].iloc[row]
                if pd.isna(label):
                    continue
                counts = threat_rows.setdefault(
                    (entity, key, threat),
                    {"entity": entity, "key": key, "threat": threat, "labelled": 0, "hits": 0},
                )
                counts["labelled"] += 1
                counts["hits"] += int(label >= 0.5)
    _upsert(session, EntityHistory.__table__, list(history.values()), ("entity", "key"))  # type: ignore[arg-type]
    _upsert(
        session,
        EntityThreatHistory.__table__,  # type: ignore[arg-type]
        list(threat_rows.values()),
        ("entity", "key", "threat"),
    )
    return len(declarations)


def declarations_with_outcomes(session: Session, declaration_ids: Iterable[str]) -> set[str]:
    """Which of these declarations already have an outcome in the store."""
    ids = sorted(set(declaration_ids))
    return {
        found
        for chunk in _chunks(ids)
        for found in session.scalars(
            select(InspectionOutcome.declaration_id)
            .where(InspectionOutcome.declaration_id.in_(chunk))
            .distinct()
        )
    }


def _declarations_of(session: Session, ids: Sequence[str]) -> dict[str, Mapping[str, Any]]:
    """The canonical declaration each id was first scored with (what history counted)."""
    found: dict[str, Mapping[str, Any]] = {}
    for chunk in _chunks(list(ids)):
        for row in session.execute(
            select(ScoredDeclaration.declaration_id, ScoredDeclaration.declaration)
            .where(ScoredDeclaration.declaration_id.in_(chunk))
            .order_by(ScoredDeclaration.id)
        ):
            found.setdefault(row.declaration_id, row.declaration)
    return found


# -- the watchlist --------------------------------------------------------------------------------


def add_watchlist_entries(
    session: Session,
    entries: pd.DataFrame,
    keys: Sequence[str],
    *,
    added_by: str,
    added_at: datetime,
    replaces: Sequence[int | None] | None = None,
) -> list[WatchlistEntry]:
    """Add canonical watchlist entries (features.validation.validate_watchlist) with their
    lookup ``keys``; an entry that replaces another withdraws it at the same moment."""
    added = []
    for position, record in enumerate(entries.to_dict(orient="records")):
        values = {name: _plain(record.get(name)) for name in WATCHLIST_COLUMNS}
        replaced = None if replaces is None else replaces[position]
        entry = WatchlistEntry(
            **values,
            key=keys[position],
            added_by=added_by,
            added_at=added_at,
            withdrawn_at=None,
            replaces=replaced,
        )
        if replaced is not None:
            session.execute(
                update(WatchlistEntry)
                .where(WatchlistEntry.id == replaced, WatchlistEntry.withdrawn_at.is_(None))
                .values(withdrawn_at=added_at)
            )
        added.append(entry)
    session.add_all(added)
    session.flush()
    return added


def _plain(value: Any) -> Any:
    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def current_watchlist(
    session: Session, *, limit: int, offset: int = 0, entity_type: str | None = None
) -> list[WatchlistEntry]:
    """Entries not withdrawn (of one entity type when given), newest first."""
    query = select(WatchlistEntry).where(WatchlistEntry.withdrawn_at.is_(None))
    if entity_type is not None:
        query = query.where(WatchlistEntry.entity_type == entity_type)
    return list(
        session.scalars(query.order_by(WatchlistEntry.id.desc()).limit(limit).offset(offset))
    )


def watchlist_entry(session: Session, entry_id: int) -> WatchlistEntry | None:
    """One entry by id (withdrawn or not)."""
    return session.get(WatchlistEntry, entry_id)


def export_watchlist(session: Session) -> pd.DataFrame:
    """Every entry ever stored, withdrawn ones included, with when each was added and
    withdrawn: what training needs to rebuild the hits of any moment."""
    names = [*WATCHLIST_COLUMNS, "id", "added_by", "added_at", "withdrawn_at", "replaces"]
    rows = [
        {name: getattr(entry, name) for name in names}
        for entry in session.scalars(select(WatchlistEntry).order_by(WatchlistEntry.id))
    ]
    return pd.DataFrame(rows, columns=names)


def export_timeline(session: Session) -> pd.DataFrame:
    """Per declaration: when the store first recorded it (its first ``scored_at``, the moment
    its history counts from and its first scoring's live inputs were read) and when its first
    outcome was recorded (``outcome_recorded_at``, NaT without one)."""
    first_scored: dict[str, datetime] = {}
    for row in session.execute(
        select(ScoredDeclaration.declaration_id, ScoredDeclaration.scored_at).order_by(
            ScoredDeclaration.id
        )
    ):
        first_scored.setdefault(row.declaration_id, row.scored_at)
    outcome: dict[str, datetime] = {}
    for row in session.execute(
        select(InspectionOutcome.declaration_id, InspectionOutcome.recorded_at).order_by(
            InspectionOutcome.recorded_at, InspectionOutcome.id
        )
    ):
        outcome.setdefault(row.declaration_id, row.recorded_at)
    ids = sorted(first_scored)
    return pd.DataFrame(
        {
            "declaration_id": pd.Series(ids, dtype="str"),
            "scored_at": pd.to_datetime([first_scored[i] for i in ids], utc=True),
            "outcome_recorded_at": pd.to_datetime(
                pd.Series([outcome.get(i) for i in ids], dtype="object"), utc=True
            ),
        }
    )
