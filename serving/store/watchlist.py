"""The watchlist in the operational store: checked entries, their ids, storing and listing.

Entries are checked by the watchlist's own rules (`checked_watchlist`) before anything is
stored, given their ids before the write when a route must answer them
(`reserve_watchlist_ids`), and stored in the caller's transaction (`add_watchlist_entries`).
Scoring reads them through `serving.store.intelligence.read_live`; training rebuilds the
hits of any moment from `export_watchlist`.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    Engine,
    func,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from features.schema import COUNTRY_CODES, WATCHLIST_COLUMNS
from features.validation import DataValidationError, Problem, validate_watchlist
from features.watchlist import (
    ROUTE_SEPARATOR,
    watchlist_key,
)
from serving.store.tables import (
    WatchlistEntry,
)

# Keys per IN list: stays under every backend's bound-parameter limit (the history statement
# names the list twice).


def checked_watchlist(raw: pd.DataFrame, *, source: str) -> tuple[pd.DataFrame, list[str]]:
    """Canonical entries (features.validation.validate_watchlist) and their lookup keys
    (features.watchlist.watchlist_key): what `add_watchlist_entries` takes.

    Raises:
        DataValidationError: any entry breaks a watchlist rule (every problem named).
    """
    frame = validate_watchlist(raw, source=source)
    kinds = [str(kind) for kind in frame["entity_type"].tolist()]
    values = frame["entity_id"].tolist()
    keys = [watchlist_key(kind, value) for kind, value in zip(kinds, values, strict=True)]
    empty = [row for row, key in enumerate(keys) if key is None]
    # An HS code entry is a prefix of 2 to 10 digits (dots and spaces between them allowed).
    bad_prefix = [
        row
        for row, (kind, value, key) in enumerate(zip(kinds, values, keys, strict=True))
        if kind == "hs_code"
        and key is not None
        and not (HS_PREFIX_DIGITS[0] <= len(key) <= HS_PREFIX_DIGITS[1] and _HS_PREFIX.match(value))
    ]
    # An itinerary entry is a run of countries: GR>MK (a comma also separates them).
    bad_route = [
        row
        for row, (kind, key) in enumerate(zip(kinds, keys, strict=True))
        if kind == "itinerary"
        and key is not None
        and not all(code in COUNTRY_CODES for code in key.split(ROUTE_SEPARATOR))
    ]
    problems = [
        Problem(source, "entity_id", message, fix, tuple(row + 1 for row in rows[:5]), ())
        for rows, message, fix in (
            (
                bad_route,
                "unknown country code in itinerary",
                "list ISO 3166-1 alpha-2 codes (XK for Kosovo) separated by '>', e.g. GR>MK",
            ),
            (
                empty,
                "nothing left to match once normalised",
                "give the id, the countries (GR>MK) or the HS digits the entry lists",
            ),
            (
                bad_prefix,
                "not an HS code prefix",
                "write an hs_code entry as 2 to 10 digits, e.g. 9305 or 9305.10",
            ),
        )
        if rows
    ]
    if problems:
        raise DataValidationError(problems)
    return frame, [str(key) for key in keys]


# Digits an hs_code entry's prefix may have; what it may be written with.
HS_PREFIX_DIGITS = (2, 10)
_HS_PREFIX = re.compile(r"^[0-9][0-9. ]*$")

# SQLite has no sequence: ids handed out by this process, per engine (see `reserve_watchlist_ids`).
_RESERVED: weakref.WeakKeyDictionary[Engine, int] = weakref.WeakKeyDictionary()
_RESERVING = threading.Lock()


def reserve_watchlist_ids(session: Session, count: int) -> list[int]:
    """``count`` new entry ids, taken before the entries are written, so that a route can
    answer them while its write waits for the commit of its consultation record.

    PostgreSQL takes them from the table's sequence (never handed out twice, whatever the
    process; an id whose write failed stays unused). SQLite has no sequence: this process
    hands out ids above the highest stored and the highest it handed out before; another
    process writing entries to the same file at the same moment could take the same ids, and
    its write or this one then fails (serving processes share a store on PostgreSQL).
    """
    if count <= 0:
        return []
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        return [
            int(value)
            for value in session.scalars(
                text(
                    "SELECT nextval(pg_get_serial_sequence('watchlist_entries', 'id')) "
                    "FROM generate_series(1, :count)"
                ),
                {"count": count},
            )
        ]
    engine = bind.engine
    with _RESERVING:
        stored = session.scalar(select(func.max(WatchlistEntry.id))) or 0
        first = max(int(stored), _RESERVED.get(engine, 0)) + 1
        _RESERVED[engine] = first + count - 1
    return list(range(first, first + count))


def entries_not_in_force(session: Session, replaces: Sequence[int | None]) -> list[int]:
    """Positions of ``replaces`` naming an entry the store does not hold, or one withdrawn."""
    return [
        position
        for position, entry_id in enumerate(replaces)
        if entry_id is not None
        and (
            (entry := watchlist_entry(session, entry_id)) is None or entry.withdrawn_at is not None
        )
    ]


def add_watchlist_entries(
    session: Session,
    entries: pd.DataFrame,
    keys: Sequence[str],
    *,
    added_by: str,
    added_at: datetime,
    replaces: Sequence[int | None] | None = None,
    ids: Sequence[int] | None = None,
) -> list[WatchlistEntry]:
    """Add canonical watchlist entries (`checked_watchlist`) with their lookup ``keys`` (and
    the ``ids`` `reserve_watchlist_ids` gave, else the store numbers them); an entry that
    replaces another withdraws it at the same moment."""
    added = []
    for position, record in enumerate(entries.to_dict(orient="records")):
        values = {name: _plain(record.get(name)) for name in WATCHLIST_COLUMNS}
        replaced = None if replaces is None else replaces[position]
        entry = WatchlistEntry(
            **values,
            **({} if ids is None else {"id": ids[position]}),
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
