"""Live intelligence in the store: the watchlist and entity history, read at scoring time.

Plain functions over a session that never commit (as `serving.store.scores`). A scoring
batch reads its live inputs with `read_live`: two statements (entity history with its
per-threat counts, watchlist entries) per 2,000 distinct keys of the batch. The writes
that change history (`count_declarations`, `count_outcomes`) run in the transaction of the
scores and outcomes that cause them, so history and what it counts commit together.

What a declaration's features see ("as of", docs/internals.md): everything committed before
its batch read the store, at the moment kept as the scoring's ``scored_at``; training
rebuilds the same from `shiprisk export` (features.live.live_point_in_time).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property, lru_cache
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    Connection,
    Select,
    Table,
    and_,
    bindparam,
    case,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from features.columns import NAT_NS, DeclarationColumns
from features.dataset import derive_labels
from features.entities import ENTITY_KINDS, TRANSIT_COUNTRY, entity_keys
from features.history import HistoryTable, count_columns
from features.live import HISTORY_KINDS, LiveInputs, history_keys, live_from_state
from features.route import transit_countries
from features.sources import OUTCOME_THREATS
from features.watchlist import (
    WATCHLIST_ENTRY_COLUMNS,
    WatchlistCandidates,
    declaration_watchlist_keys,
)
from serving.store.database import conflict_insert
from serving.store.tables import (
    EntityHistory,
    EntityThreatHistory,
    InspectionOutcome,
    ScoredDeclaration,
    UtcDateTime,
    WatchlistEntry,
)

# Keys per IN list: stays under every backend's bound-parameter limit (the history statement
# names the list twice).
CHUNK = 2000
# Watchlist columns a scoring reason may show (never the provider's text or H3 note).
REASON_COLUMNS = ("id", "source_agency", "source_country", "handling_code")
# A candidate entry's row as read_live keeps it: what the hit decides on, then the reason's.
CANDIDATE_COLUMNS = (*WATCHLIST_ENTRY_COLUMNS, *REASON_COLUMNS)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_NS_MAX = int(np.iinfo(np.int64).max)

# The read path's statements, built once: SQLAlchemy Core on the session's connection (no ORM
# entity machinery) with the compiled SQL cached by the engine; the key list is one expanding
# parameter, read from the primary key, which starts with the key; the entity kind is checked
# on the rows.
_KEYS: BindParameter[list[str]] = bindparam("keys", expanding=True)
_HISTORY_TABLE = EntityHistory.__table__
_THREAT_TABLE = EntityThreatHistory.__table__
_WATCHLIST_TABLE = WatchlistEntry.__table__


@lru_cache(maxsize=8)
def _history_statement(threats: tuple[str, ...]) -> Select[Any]:
    """One row per entity: its history, then labelled outcomes and hits of each threat (in
    `count_columns` order), then ``first_seen``. Each threat's counts are a left join on the
    per-threat table's full primary key (count_outcomes writes a history row with every
    per-threat row), so the store returns one row per entity instead of one per threat."""
    history = _HISTORY_TABLE
    joined: Any = history
    per_threat = []
    for position, threat in enumerate(threats):
        counts = _THREAT_TABLE.alias(f"threat_{position}")
        joined = joined.outerjoin(
            counts,
            and_(
                counts.c.key == history.c.key,
                counts.c.entity == history.c.entity,
                counts.c.threat == literal(threat),
            ),
        )
        per_threat.append(counts)
    return (
        select(
            history.c.entity,
            history.c.key,
            history.c.declarations,
            history.c.inspections,
            *[counts.c.labelled for counts in per_threat],
            *[counts.c.hits for counts in per_threat],
            history.c.first_seen,
        )
        .select_from(joined)
        .where(history.c.key.in_(_KEYS))
    )


_CANDIDATES = (
    select(*[_WATCHLIST_TABLE.c[name] for name in CANDIDATE_COLUMNS])
    .where(_WATCHLIST_TABLE.c.key.in_(_KEYS))
    .order_by(_WATCHLIST_TABLE.c.id)
)
_CANDIDATES_AT = _CANDIDATES.where(
    _WATCHLIST_TABLE.c.added_at < bindparam("at", type_=UtcDateTime()),
    or_(
        _WATCHLIST_TABLE.c.withdrawn_at.is_(None),
        _WATCHLIST_TABLE.c.withdrawn_at >= bindparam("at", type_=UtcDateTime()),
    ),
)


@dataclass(frozen=True)
class LiveRead:
    """A batch's live inputs and the watchlist entries they may hit (for the reasons).

    ``candidates`` are the entries' rows (``CANDIDATE_COLUMNS``); the hits in
    ``live.watchlist`` point into them. ``entries`` is the same as a frame, built on demand.
    """

    live: LiveInputs
    candidates: Sequence[tuple[Any, ...]]
    scored_at: datetime

    @cached_property
    def entries(self) -> pd.DataFrame:
        """The candidate entries as a frame (``CANDIDATE_COLUMNS``, times UTC)."""
        return _candidate_frame(self.candidates)


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _nanoseconds(moment: datetime | None) -> int:
    """A stored UTC datetime as int64 ns (``NAT_NS`` when missing; beyond the ns range
    clamped, which decides every comparison the same way)."""
    if moment is None:
        return int(NAT_NS)
    return max(int(NAT_NS) + 1, min(_NS_MAX, (moment - _EPOCH) // _MICROSECOND * 1000))


def read_live(
    session: Session, columns: DeclarationColumns, threats: Sequence[str], scored_at: datetime
) -> LiveRead:
    """Entity history and watchlist entries for the declarations of one scoring batch, as the
    store holds them now (``scored_at``): two statements for the whole batch (one per 2,000
    distinct keys), rows read as tuples."""
    connection = session.connection()
    pairs = {(kind, key) for kind, keys in history_keys(columns).items() for key in keys}
    history = _history_state(connection, pairs, threats)
    watch_keys = declaration_watchlist_keys(columns)
    watch_pairs = {
        (entity_type, key) for entity_type, (_, keys) in watch_keys.items() for key in keys.tolist()
    }
    candidates = _candidate_rows(connection, watch_pairs, scored_at)
    moment = np.full(len(columns), _nanoseconds(scored_at), dtype=np.int64)
    live = live_from_state(
        columns, threats, history, _candidate_arrays(candidates), moment, watch_keys
    )
    return LiveRead(live, candidates, scored_at)


def _history_state(
    connection: Connection, pairs: set[tuple[str, str]], threats: Sequence[str]
) -> dict[str, HistoryTable]:
    """History rows of (entity, key) pairs as lookup tables per kind (no frame: this runs on
    every scoring batch)."""
    names = count_columns(threats)
    statement = _history_statement(tuple(threats))
    found: dict[str, list[Any]] = {kind: [] for kind in HISTORY_KINDS}
    for chunk in _chunks(sorted({key for _, key in pairs})):
        for row in connection.execute(statement, {"keys": chunk}):
            if (row[0], row[1]) in pairs:
                found[row[0]].append(row)
    empty = HistoryTable.empty(names)  # one for every kind the batch finds nothing of
    tables = {}
    for kind, rows in found.items():
        if not rows:
            tables[kind] = empty
            continue
        # counts without a per-threat row are NULL: none labelled, no hit
        values = np.array([row[2:-1] for row in rows], dtype=np.float64)
        values[np.isnan(values)] = 0.0
        first_seen = np.array([_nanoseconds(row[-1]) for row in rows], dtype=np.int64)
        tables[kind] = HistoryTable([row[1] for row in rows], values, first_seen, names)
    return tables


def _candidate_rows(
    connection: Connection, pairs: set[tuple[str, str]], at: datetime | None
) -> list[tuple[Any, ...]]:
    """Rows (``CANDIDATE_COLUMNS``) of the entries listed under (entity type, key) pairs and
    in force at ``at`` (added before, not withdrawn before), in id order."""
    found: list[tuple[Any, ...]] = []
    keys = sorted({key for _, key in pairs})
    for chunk in _chunks(keys):
        statement, parameters = (
            (_CANDIDATES, {"keys": chunk})
            if at is None
            else (_CANDIDATES_AT, {"keys": chunk, "at": at})
        )
        found.extend(
            tuple(row)
            for row in connection.execute(statement, parameters)
            if (row[0], row[1]) in pairs
        )
    if len(keys) > CHUNK:  # id order across chunks
        found.sort(key=lambda row: row[_ID])
    return found


_ID = CANDIDATE_COLUMNS.index("id")


def _candidate_arrays(rows: Sequence[tuple[Any, ...]]) -> WatchlistCandidates | None:
    """The arrays `watchlist_hits` decides on, straight from the rows (no frame)."""
    if not rows:  # the usual case: nobody in the batch is listed
        return None
    entity_type, key, threat, valid_from, valid_to, added, withdrawn = zip(
        *[row[: len(WATCHLIST_ENTRY_COLUMNS)] for row in rows], strict=True
    )

    def times(values: tuple[Any, ...]) -> np.ndarray:
        return np.array([_nanoseconds(value) for value in values], dtype=np.int64)

    return WatchlistCandidates(
        np.array(entity_type, dtype=object),
        np.array(key, dtype=object),
        np.array([str(value).casefold() for value in threat], dtype=object),
        times(valid_from),
        times(valid_to),
        times(added),
        times(withdrawn),
    )


def _candidate_frame(rows: Sequence[tuple[Any, ...]]) -> pd.DataFrame:
    if not rows:
        return _NO_ENTRIES
    frame = pd.DataFrame.from_records(list(rows), columns=list(CANDIDATE_COLUMNS))
    for name in ("valid_from", "valid_to", "added_at", "withdrawn_at"):
        frame[name] = pd.to_datetime(frame[name], utc=True).astype("datetime64[ns, UTC]")
    return frame


def watchlist_candidates(
    session: Session, pairs: Sequence[tuple[str, str]], at: datetime | None = None
) -> pd.DataFrame:
    """Watchlist entries listed under (entity type, key) pairs and in force at ``at`` (added
    before, not withdrawn before); the validity window is checked per declaration
    (features.watchlist.watchlist_hits)."""
    return _candidate_frame(_candidate_rows(session.connection(), set(pairs), at))


_NO_ENTRIES = pd.DataFrame({name: pd.Series([], dtype="object") for name in CANDIDATE_COLUMNS})


# -- history updates, in the transaction of what changes them ------------------------------------


def _upsert(
    session: Session, table: Table, rows: list[dict[str, Any]], keys: Sequence[str]
) -> None:
    """Add the counts of ``rows`` to the stored rows with the same keys (insert when new);
    ``first_seen`` keeps the earlier, ``last_seen`` the later."""
    if not rows:
        return
    statement = conflict_insert(session, table)
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


def _history_row(entity: str, key: str, seen: datetime | None) -> dict[str, Any]:
    """An entity's history row that counts nothing yet, first and last seen at ``seen`` (None:
    an update that leaves the stored moments as they are)."""
    return {
        "entity": entity,
        "key": key,
        "declarations": 0,
        "inspections": 0,
        "first_seen": seen,
        "last_seen": seen,
    }


def count_declarations(
    session: Session,
    declaration_ids: Sequence[str],
    entities: Sequence[Sequence[tuple[str, str]]],
    lodged_at: Sequence[datetime],
    first_recorded: Collection[str],
) -> int:
    """Add each declaration of ``first_recorded`` (the ids whose first scoring this
    transaction records: `scores.insert_score_rows` returns them) to its entities'
    history; returns how many were counted. Re-scoring a declaration counts nothing."""
    totals: dict[tuple[str, str], dict[str, Any]] = {}
    new = 0
    for declaration_id, pairs, lodged in zip(declaration_ids, entities, lodged_at, strict=True):
        if declaration_id not in first_recorded:
            continue
        new += 1
        for entity, key in pairs:
            row = totals.setdefault((entity, key), _history_row(entity, key, lodged))
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
            entry = history.setdefault((entity, key), _history_row(entity, key, None))
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
