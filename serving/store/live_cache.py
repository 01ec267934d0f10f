"""What a serving process keeps of a live setting in the store, per open store, by version.

Risk profiles (`serving.store.profiles.profiles_in_force`) and office lanes
(`serving.store.offices.office_thresholds`) are read by every scoring batch. Each batch asks
the store one question, the greatest id of the setting's append-only table; the value read
at that id is kept here and read again only when the id moved (any process changed it).
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select

from serving.store.database import Store

T = TypeVar("T")


@dataclass
class _Entry(Generic[T]):
    sessions: object  # the store's session factory: a new store with a reused id misses
    version: int
    value: T


class PerStore(Generic[T]):
    """One value per open store (by identity) with the version it was read at; an entry goes
    when its store is collected (as serving.store.group_commit keeps its writers)."""

    def __init__(self) -> None:
        self._entries: dict[int, _Entry[T]] = {}
        self._lock = threading.Lock()

    def lookup(
        self, store: Store, version: int | None, latest: Select[Any]
    ) -> tuple[int, T | None]:
        """The setting's greatest id (``version`` when the batch read it already, else
        ``latest`` asked on a bare connection: no ORM session per batch), and the value kept
        for ``store`` at that id (None: read it again and `put` it)."""
        if version is None:
            with store.engine.connect() as connection:
                version = int(connection.execute(latest).scalar() or 0)
        return version, self.get(store, version)

    def get(self, store: Store, version: int) -> T | None:
        """The value kept for ``store`` if it was read at ``version``, else None."""
        entry = self._entries.get(id(store))
        if entry is None or entry.version != version or entry.sessions is not store.sessions:
            return None
        return entry.value

    def put(self, store: Store, version: int, value: T) -> None:
        """Keep ``value``, read at ``version``, for ``store``."""
        with self._lock:
            if id(store) not in self._entries:
                weakref.finalize(store, self._entries.pop, id(store), None)
            self._entries[id(store)] = _Entry(store.sessions, version, value)
