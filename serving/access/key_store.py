"""API keys in the operational store: add, find, list and revoke; the look-up of every request.

Functions that take a session never commit, like the store modules (`serving.store.scores`, ...).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, select, update
from sqlalchemy.orm import Session

from serving.access.keys import Role, StoredKey
from serving.store.database import Store
from serving.store.rows import from_row, row_values
from serving.store.tables import ApiKey


def _stored_key(row: ApiKey | Row[Any]) -> StoredKey:
    """A key from its ORM row or a Core row of the same table (the same attribute names)."""
    offices = None if row.offices is None else tuple(row.offices)
    return from_row(StoredKey, row, role=Role(row.role), offices=offices)


# A key's last use is kept to this precision: at most one UPDATE per key and interval, not a
# write per request (`note_use`).
LAST_USED_PRECISION = timedelta(minutes=1)


def add_key(session: Session, key: StoredKey) -> None:
    """Store a new key (its hash, never its secret)."""
    offices = None if key.offices is None else list(key.offices)
    session.add(ApiKey(**row_values(key, role=key.role.value, offices=offices)))


def find_key(session: Session, key_id: str) -> StoredKey | None:
    """The key with this public id, revoked or not; None when there is none."""
    row = session.get(ApiKey, key_id)
    return None if row is None else _stored_key(row)


# Built once: the statement's cache key is then computed once, not on every request.
_KEY_BY_ID = select(cast(Table, ApiKey.__table__)).where(
    cast(Table, ApiKey.__table__).c.key_id == bindparam("key_id")
)


def lookup_key(store: Store, key_id: str) -> StoredKey | None:
    """`find_key` for authentication, on every request: one Core select on a pooled
    connection, without an ORM session (a third of the cost)."""
    with store.engine.connect() as connection:
        row = connection.execute(_KEY_BY_ID, {"key_id": key_id}).first()
    return None if row is None else _stored_key(row)


def all_keys(session: Session) -> list[StoredKey]:
    """Every key, oldest first."""
    rows = session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.key_id))
    return [_stored_key(row) for row in rows]


def revoke_key(session: Session, key_id: str, at: datetime) -> StoredKey:
    """Revoke a key from ``at`` on (a revoked key stays revoked, with its first date).

    Raises:
        KeyError: no key has this id.
    """
    row = session.get(ApiKey, key_id)
    if row is None:
        raise KeyError(key_id)
    if row.revoked_at is None:
        row.revoked_at = at
    return _stored_key(row)


def revoke_keys_of(session: Session, owner: str, at: datetime) -> list[StoredKey]:
    """Revoke every unrevoked key whose owner is ``owner``; the keys revoked now."""
    rows = session.scalars(
        select(ApiKey).where(ApiKey.owner == owner, ApiKey.revoked_at.is_(None))
    ).all()
    for row in rows:
        row.revoked_at = at
    return [_stored_key(row) for row in rows]


def use_is_due(key: StoredKey, now: datetime) -> bool:
    """Whether a use of ``key`` at ``now`` should be written down (once per precision)."""
    return key.last_used_at is None or now - key.last_used_at >= LAST_USED_PRECISION


def note_use(store: Store, key_id: str, now: datetime) -> None:
    """Keep ``now`` as the key's last use: one UPDATE, called only when `use_is_due`.

    The look-up of every request reads ``last_used_at`` anyway, so deciding costs nothing;
    the write happens at most once a minute per key (per process: two processes may both
    write in the same minute, harmlessly).
    """
    table = cast(Table, ApiKey.__table__)
    with store.engine.begin() as connection:
        connection.execute(update(table).where(table.c.key_id == key_id).values(last_used_at=now))
