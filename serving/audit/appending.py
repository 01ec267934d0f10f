"""Appending one record after the chain's head, inside the caller's transaction.

The head is read once per transaction and then carried in the session, so several appends in
one transaction (a group commit) read it once and stay sequential. On PostgreSQL, processes
(several hosts' `shiprisk serve`) queue for the head behind one advisory lock held until their
commit; anywhere else, the writer (`serving.audit.records.AuditLog`) retries when another
process took the same sequence number first (the sequence is the table's key, so the chain can
never fork). A record costs one HMAC and no query beyond its inserts.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.orm import Session

from serving.audit.chain import (
    GENESIS,
    KEYED_SCHEME,
    AuditEvent,
    AuditKey,
    AuditRecord,
    event_values,
    record_hash,
)
from serving.audit.reading import store_id
from serving.store.group_commit import insert_rows
from serving.store.tables import AuditDeclaration, AuditRecordRow, StoreIdentity

logger = logging.getLogger(__name__)
# PostgreSQL advisory lock key of the chain's head (any fixed 64-bit number; "shrk" "head").
CHAIN_LOCK_KEY = 0x7368726B_68656164


def ensure_store_id(session: Session) -> str:
    """The store's id, made now when its row is missing (the writers' side: a store whose id
    was deleted gets a new one, and its old checkpoints then read as another store's)."""
    found = store_id(session)
    if found is not None:
        return found
    made = secrets.token_hex(16)
    session.execute(
        insert(StoreIdentity).values(slot=1, store_id=made, created_at=datetime.now(UTC))
    )
    logger.warning("the store had no id (store_identity): made %s", made)
    return made


# session.info: (transaction, sequence, hash, scheme) of the chain's last record, valid in that
# transaction
_HEAD = "shiprisk.audit_head"


def chain_head(session: Session) -> Any:
    """(sequence, hash, hash scheme) of the chain's last record in this transaction, appends
    not yet inserted included (a group commit inserts them at its end); None for an empty
    chain."""
    cached = session.info.get(_HEAD)
    if cached is not None and cached[0] is session.get_transaction():
        return cached[1:]
    _lock_chain(session)
    # A Core statement on the transaction's connection: every recorded request reads the
    # head, and the ORM's handling of a select cost more than the select.
    return session.connection().execute(_HEAD_ROW).first()


_RECORDS = cast(Table, AuditRecordRow.__table__)
_HEAD_ROW = (
    select(_RECORDS.c.sequence, _RECORDS.c.record_hash, _RECORDS.c.hash_scheme)
    .order_by(_RECORDS.c.sequence.desc())
    .limit(1)
)


def count_through(session: Session, sequence: int) -> int:
    """How many stored records have a sequence number up to ``sequence``."""
    return int(
        session.scalar(
            select(func.count(AuditRecordRow.sequence)).where(AuditRecordRow.sequence <= sequence)
        )
        or 0
    )


def append_in(session: Session, key: AuditKey, event: AuditEvent) -> AuditRecord:
    """Chain ``event`` after the newest record and insert it (and its declaration index rows).

    Plain multi-row inserts, no ORM objects.
    """
    transaction = session.get_transaction()
    head = chain_head(session)
    sequence = 1 if head is None else int(head[0]) + 1
    link = GENESIS if head is None else str(head[1])
    record = AuditRecord(sequence, event, link, record_hash(key, sequence, event, link))
    insert_rows(
        session,
        cast(Table, AuditRecordRow.__table__),
        [
            {
                **event_values(event),
                "sequence": record.sequence,
                "previous_hash": record.previous_hash,
                "record_hash": record.record_hash,
                "hash_scheme": KEYED_SCHEME,
            }
        ],
    )
    session.info[_HEAD] = (transaction, record.sequence, record.record_hash, KEYED_SCHEME)
    named = list(dict.fromkeys(event.declaration_ids))
    if named:  # the record first: its sequence is what the index rows point to
        insert_rows(
            session,
            cast(Table, AuditDeclaration.__table__),
            [{"sequence": record.sequence, "declaration_id": i} for i in named],
        )
    return record


def _lock_chain(session: Session) -> None:
    """On PostgreSQL, wait for other processes' appends to commit, and keep them waiting for ours.

    A transaction-level advisory lock: released at commit or rollback. Read committed, the
    head read after it sees the last committed record, so processes never race for a sequence
    (retrying could lose that race again and again under steady load from several hosts).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})
