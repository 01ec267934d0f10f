"""Reading the consultation log back: the whole chain in order, for verification, and the
records matching filters, for `GET /v1/audit` (`serving.audit.routes`).

`read_chain` reads each record with the declaration links its index rows give, so that
verification checks those rows too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.audit.chain import AuditRecord, event_from_row
from serving.store.tables import AuditDeclaration, AuditRecordRow, StoreIdentity

READ_BATCH = 1000


def record_from_row(row: Any, links: tuple[str, ...] | None = None) -> AuditRecord:
    """A record from a row of ``audit_records`` (ORM object or core row)."""
    return AuditRecord(
        row.sequence,
        event_from_row(row),
        row.previous_hash,
        row.record_hash,
        row.hash_scheme,
        links,
    )


def store_id(session: Session) -> str | None:
    """The store's id (made by migration 0003); None when its row was deleted."""
    return session.scalar(select(StoreIdentity.store_id).where(StoreIdentity.slot == 1))


def read_chain(session: Session) -> Iterator[AuditRecord]:
    """Every record in sequence order, each with the declaration ids its index rows link it to.

    Read in batches of sequence numbers: the records of a batch, then their index rows.
    """
    records = AuditRecordRow.__table__.c
    after: int | None = None
    while True:
        statement = select(*records).order_by(records.sequence).limit(READ_BATCH)
        if after is not None:
            statement = statement.where(records.sequence > after)
        rows = session.execute(statement).all()
        if not rows:
            return
        first, after = rows[0].sequence, rows[-1].sequence
        links: dict[int, list[str]] = defaultdict(list)
        for sequence, declaration_id in session.execute(
            select(AuditDeclaration.sequence, AuditDeclaration.declaration_id).where(
                AuditDeclaration.sequence.between(first, after)
            )
        ):
            links[sequence].append(declaration_id)
        for row in rows:
            yield record_from_row(row, tuple(links.get(row.sequence, ())))


def query_records(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    key_id: str | None = None,
    declaration_id: str | None = None,
    limit: int = 100,
    person: str | None = None,
    subject: str | None = None,
) -> list[AuditRecord]:
    """Records matching every given filter, newest first, at most ``limit``.

    ``person``: the display name (or a key's owner); ``subject``: the identity provider's.
    """
    statement = select(AuditRecordRow)
    if since is not None:
        statement = statement.where(AuditRecordRow.recorded_at >= since)
    if until is not None:
        statement = statement.where(AuditRecordRow.recorded_at < until)
    if key_id is not None:
        statement = statement.where(AuditRecordRow.key_id == key_id)
    if person is not None:
        statement = statement.where(AuditRecordRow.person == person)
    if subject is not None:
        statement = statement.where(AuditRecordRow.subject == subject)
    if declaration_id is not None:
        naming = select(AuditDeclaration.sequence).where(
            AuditDeclaration.declaration_id == declaration_id
        )
        statement = statement.where(AuditRecordRow.sequence.in_(naming))
    statement = statement.order_by(AuditRecordRow.sequence.desc()).limit(limit)
    return [record_from_row(row) for row in session.scalars(statement)]
