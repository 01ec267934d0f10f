"""The watchlist: add, edit and read entries in the store; import a file all or nothing.

An entry goes through `features.validation.validate_watchlist` (the rules a training file
meets too) and gets its lookup key (features.watchlist.watchlist_key); an edit adds the new
entry and withdraws the old one in the same transaction, so the history of the watchlist
stays readable for training (`shiprisk export`).

`watchlist_hits` is the lookup other rules build on (a risk profile's criterion "watchlist
hit of an entity type"): which declarations of a batch an entity type's entries hit now.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import yaml
from sqlalchemy.orm import Session

from features.columns import DeclarationColumns
from features.schema import RESTRICTED_HANDLING_CODES, WATCHLIST_ENTITY_TYPES
from features.source_files import read_table
from features.watchlist import WatchlistHits, watchlist_key
from serving.intelligence.schemas import WatchlistEntryOut
from serving.store import intelligence, watchlist
from serving.store.database import Store
from serving.store.tables import WatchlistEntry


class UnknownEntry(LookupError):
    """An edit names an entry id the store does not hold (or one already withdrawn)."""

    def __init__(self, positions: list[int]) -> None:
        self.positions = positions
        super().__init__(f"entries {positions} replace an unknown or withdrawn entry")


@dataclass(frozen=True)
class PlannedEntries:
    """Checked entries, the ids they will have, and the write that stores them (to run in
    the transaction of the request's consultation record, or in one of its own)."""

    ids: list[int]
    write: Callable[[Session], object]


def planned_entries(
    store: Store,
    raw: pd.DataFrame,
    *,
    added_by: str,
    replaces: Sequence[int | None] | None = None,
    source: str = "request",
) -> PlannedEntries:
    """Validate entries and choose their ids; nothing is stored until ``write`` runs.

    Raises:
        DataValidationError: an entry breaks a rule.
        UnknownEntry: an edit names an entry that is not in force (also from ``write``, when
            it was withdrawn in between).
    """
    frame, keys = watchlist.checked_watchlist(raw, source=source)
    with store.transaction() as session:
        if replaces is not None and (unknown := watchlist.entries_not_in_force(session, replaces)):
            raise UnknownEntry(unknown)
        ids = watchlist.reserve_watchlist_ids(session, len(frame))
    at = datetime.now(UTC)

    def write(session: Session) -> None:
        if replaces is not None and (unknown := watchlist.entries_not_in_force(session, replaces)):
            raise UnknownEntry(unknown)
        watchlist.add_watchlist_entries(
            session, frame, keys, added_by=added_by, added_at=at, replaces=replaces, ids=ids
        )

    return PlannedEntries(ids, write)


def add_entries(
    store: Store,
    raw: pd.DataFrame,
    *,
    added_by: str,
    replaces: Sequence[int | None] | None = None,
    source: str = "request",
) -> list[int]:
    """`planned_entries` committed at once (for callers without a consultation record):
    all or nothing; returns the ids in order."""
    planned = planned_entries(store, raw, added_by=added_by, replaces=replaces, source=source)
    with store.transaction() as session:
        planned.write(session)
    return planned.ids


def read_entries_file(path: Path) -> pd.DataFrame:
    """A watchlist file as a raw table: CSV or Parquet (features.source_files.read_table), or
    YAML (a list of entries, or a mapping with ``entries``)."""
    if path.suffix.lower() in (".yaml", ".yml"):
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        entries = loaded.get("entries") if isinstance(loaded, dict) else loaded
        if not isinstance(entries, list):
            raise ValueError(f"{path}: expected a list of entries (or entries: [...])")
        return pd.DataFrame(entries)
    return read_table(path)


def import_file(store: Store, path: Path, *, added_by: str) -> list[int]:
    """`shiprisk watchlist import`: every entry of the file or none."""
    return add_entries(store, read_entries_file(path), added_by=added_by, source=str(path))


def visible_entry(entry: WatchlistEntry, *, full: bool) -> WatchlistEntryOut:
    """An entry as the caller may see it: officers see H2/H3 entries only as a hit."""
    restricted = entry.handling_code in RESTRICTED_HANDLING_CODES
    base = WatchlistEntryOut(
        id=entry.id,
        entity_type=entry.entity_type,
        entity_id=None if restricted and not full else entry.entity_id,
        threat=entry.threat,
        valid_from=entry.valid_from,
        valid_to=entry.valid_to,
        handling_code=entry.handling_code.upper(),
        restricted=restricted,
    )
    if restricted and not full:
        return base
    return base.model_copy(
        update={
            "source": entry.source if full else None,
            "source_agency": entry.source_agency,
            "source_country": entry.source_country,
            "handling_note": entry.handling_note if full else None,
            "source_reliability": entry.source_reliability.upper(),
            "information_accuracy": entry.information_accuracy,
            "added_by": entry.added_by if full else None,
            "added_at": entry.added_at,
        }
    )


def list_entries(
    store: Store,
    *,
    full: bool,
    entity_type: str | None = None,
    value: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[WatchlistEntryOut]:
    """Entries in force (newest first): those listing one entity (``value``, under
    ``entity_type`` or under any type), or every entry (of ``entity_type`` when given), as the
    caller may see them."""
    with store.transaction() as session:
        if value is not None:
            types = [entity_type] if entity_type is not None else list(WATCHLIST_ENTITY_TYPES)
            keyed = [(kind, key) for kind in types if (key := watchlist_key(kind, value))]
            if not keyed:
                return []
            found = intelligence.watchlist_candidates(session, keyed)
            rows = [
                entry
                for entry_id in found["id"].tolist()
                if (entry := watchlist.watchlist_entry(session, int(entry_id))) is not None
                and entry.withdrawn_at is None
            ]
        else:
            rows = watchlist.current_watchlist(
                session, limit=limit, offset=offset, entity_type=entity_type
            )
        return [visible_entry(entry, full=full) for entry in rows]


def watchlist_hits(
    store: Store, declarations: pd.DataFrame, entity_type: str | None = None
) -> WatchlistHits:
    """Which declarations the watchlist hits now (optionally of one entity type only): the
    lookup a risk profile's "watchlist hit of an entity type" criterion calls."""
    columns = DeclarationColumns(declarations)
    with store.transaction() as session:
        hits = intelligence.read_live(session, columns, (), datetime.now(UTC)).live.watchlist
    if entity_type is None:
        return hits
    chosen = hits.entity_types == entity_type
    return WatchlistHits(
        hits.rows[chosen], hits.entries[chosen], hits.entity_types[chosen], hits.threats[chosen]
    )
