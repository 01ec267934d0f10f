"""Consultation-log records in the operational store.

The log is appended through `AuditLog`, which serialises appends in this process (through
the store's group-commit writer, so concurrent requests share one commit). On PostgreSQL,
processes (several hosts' `shiprisk serve`) queue for the chain's head behind one advisory
lock held until their commit; anywhere else, an append retries when another process took the
same sequence number first (the sequence is the table's key, so the chain can never fork).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from serving.audit.chain import GENESIS, AuditEvent, AuditRecord, purge_event, record_hash
from serving.store.database import Store
from serving.store.group_commit import group_commit, insert_rows
from serving.store.tables import AuditDeclaration, AuditRecordRow

APPEND_ATTEMPTS = 3
# PostgreSQL advisory lock key of the chain's head (any fixed 64-bit number; "shrk" "head").
CHAIN_LOCK_KEY = 0x7368726B_68656164


class AuditWriteError(RuntimeError):
    """A record could not be written: the request it records must not be answered."""


class RequestWriteError(RuntimeError):
    """A recorded request's own write failed inside the record's transaction (`error`)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(type(error).__name__)
        self.error = error


def _record(row: AuditRecordRow) -> AuditRecord:
    event = AuditEvent(
        recorded_at=row.recorded_at,
        key_id=row.key_id,
        key_name=row.key_name,
        role=row.role,
        route=row.route,
        declaration_ids=tuple(row.declaration_ids),
        justification=row.justification,
        model_version=row.model_version,
        status=row.status,
        detail=dict(row.detail),
    )
    return AuditRecord(row.sequence, event, row.previous_hash, row.record_hash)


# session.info: (transaction, sequence, hash) of the chain's last record, valid in that transaction
_HEAD = "shiprisk.audit_head"


def _append_in(session: Session, event: AuditEvent) -> AuditRecord:
    """Chain ``event`` after the newest record and insert it (and its declaration index rows).

    The head is read once per transaction and then carried in the session, so several
    appends in one transaction (a group commit) read it once and stay sequential. Plain
    multi-row inserts, no ORM objects.
    """
    transaction = session.get_transaction()
    cached = session.info.get(_HEAD)
    if cached is not None and cached[0] is transaction:
        head: Any = cached[1:]
    else:
        _lock_chain(session)
        head = session.execute(
            select(AuditRecordRow.sequence, AuditRecordRow.record_hash)
            .order_by(AuditRecordRow.sequence.desc())
            .limit(1)
        ).first()
    sequence = 1 if head is None else int(head[0]) + 1
    link = GENESIS if head is None else str(head[1])
    record = AuditRecord(sequence, event, link, record_hash(sequence, event, link))
    insert_rows(
        session,
        cast(Table, AuditRecordRow.__table__),
        [
            {
                "sequence": record.sequence,
                "recorded_at": event.recorded_at,
                "key_id": event.key_id,
                "key_name": event.key_name,
                "role": event.role,
                "route": event.route,
                "declaration_ids": list(event.declaration_ids),
                "justification": event.justification,
                "model_version": event.model_version,
                "status": event.status,
                "detail": dict(event.detail),
                "previous_hash": record.previous_hash,
                "record_hash": record.record_hash,
            }
        ],
    )
    session.info[_HEAD] = (transaction, record.sequence, record.record_hash)
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


def read_chain(session: Session) -> Iterator[AuditRecord]:
    """Every record in sequence order, read in batches."""
    rows = session.execute(
        select(AuditRecordRow).order_by(AuditRecordRow.sequence).execution_options(yield_per=1000)
    ).scalars()
    for row in rows:
        yield _record(row)


def query_records(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    key_id: str | None = None,
    declaration_id: str | None = None,
    limit: int = 100,
) -> list[AuditRecord]:
    """Records matching every given filter, newest first, at most ``limit``."""
    statement = select(AuditRecordRow)
    if since is not None:
        statement = statement.where(AuditRecordRow.recorded_at >= since)
    if until is not None:
        statement = statement.where(AuditRecordRow.recorded_at < until)
    if key_id is not None:
        statement = statement.where(AuditRecordRow.key_id == key_id)
    if declaration_id is not None:
        naming = select(AuditDeclaration.sequence).where(
            AuditDeclaration.declaration_id == declaration_id
        )
        statement = statement.where(AuditRecordRow.sequence.in_(naming))
    statement = statement.order_by(AuditRecordRow.sequence.desc()).limit(limit)
    return [_record(row) for row in session.scalars(statement)]


@dataclass(frozen=True)
class PurgeResult:
    """What a purge removed, and its own record."""

    purged: int
    record: AuditRecord


class RetentionError(ValueError):
    """A purge would remove records younger than the retention period."""


def _writes_succeed(store: Store, writes: Sequence[Callable[[Session], object]]) -> bool:
    """Whether ``writes`` run and insert in a transaction of their own (rolled back after)."""
    session = store.sessions()
    try:
        for write in writes:
            write(session)  # outside a group commit, insert_rows inserts at once
        session.flush()
    except Exception:
        return False
    finally:
        session.rollback()
        session.close()
    return True


class AuditLog:
    """Appends records to the chain in the store, one after the other.

    Appends go through the store's group-commit writer (`serving.store.group_commit`): the
    records of concurrent requests are chained in arrival order and committed together (often
    with their scores), each request waiting for that commit.
    """

    def append(
        self,
        store: Store,
        event: AuditEvent,
        with_writes: Sequence[Callable[[Session], object]] = (),
    ) -> AuditRecord:
        """Write one record and commit it; return it once it is durable.

        ``with_writes`` are the recorded request's own writes (a scoring's rows): they run
        first in the same transaction, so the request's data and its record become durable
        in one commit, or neither does.

        Raises:
            RequestWriteError: one of ``with_writes`` failed (nothing was committed); the
                record is still to be written, on its own.
            AuditWriteError: the record could not be written (after retries when another
                process appended at the same moment). The message names the error type only.
        """

        def write(session: Session) -> AuditRecord:
            for request_write in with_writes:
                try:
                    request_write(session)
                except Exception as error:
                    raise RequestWriteError(error) from error
            return _append_in(session, event)

        last: Exception | None = None
        writer = group_commit(store)
        for _ in range(APPEND_ATTEMPTS):
            try:
                return writer.submit(write)
            except SQLAlchemyError as error:  # the record, the request's rows, or the commit
                # The rows of a group go in together at its end, so an error there does not
                # say whose rows failed: the request's writes are tried alone to tell.
                if with_writes and not _writes_succeed(store, with_writes):
                    raise RequestWriteError(error) from error
                last = error
        raise AuditWriteError(f"consultation log not writable ({type(last).__name__})") from None

    def writable(self, store: Store) -> bool:
        """Whether a record could be written now: a probe insert, rolled back."""
        probe = AuditEvent(
            recorded_at=datetime.now().astimezone(),
            key_id="probe",
            key_name="probe",
            role="probe",
            route="probe",
        )
        session = store.sessions()
        try:
            _append_in(session, probe)
            session.flush()
        except SQLAlchemyError:
            return False
        finally:
            session.rollback()
            session.close()
        return True

    def purge(
        self,
        store: Store,
        *,
        before: datetime,
        now: datetime,
        retention_days: int,
        actor: str,
    ) -> PurgeResult:
        """Remove records older than ``before``, after appending the purge's own record.

        Only a prefix of the chain is removed (records up to the last one older than
        ``before``), so what remains is still one chain, vouched for by the purge record.

        Raises:
            RetentionError: ``before`` is later than ``now`` minus the retention period.
        """
        newest_allowed = now - timedelta(days=retention_days)
        if before > newest_allowed:
            raise RetentionError(
                f"records are kept {retention_days} days (SHIPRISK_AUDIT_RETENTION_DAYS): "
                f"--before must be on or before {newest_allowed.date().isoformat()}"
            )

        def purge_in(session: Session) -> tuple[int, AuditRecord]:
            last_sequence = session.scalar(
                select(func.max(AuditRecordRow.sequence)).where(AuditRecordRow.recorded_at < before)
            )
            last = None if last_sequence is None else session.get(AuditRecordRow, last_sequence)
            count = 0
            if last_sequence is not None:
                count = (
                    session.scalar(
                        select(func.count(AuditRecordRow.sequence)).where(
                            AuditRecordRow.sequence <= last_sequence
                        )
                    )
                    or 0
                )
            record = _append_in(
                session,
                purge_event(
                    recorded_at=now,
                    actor=actor,
                    before=before,
                    last_purged=None if last is None else _record(last),
                    purged_count=count,
                ),
            )
            if last_sequence is not None:
                session.execute(
                    delete(AuditDeclaration).where(AuditDeclaration.sequence <= last_sequence)
                )
                session.execute(
                    delete(AuditRecordRow).where(AuditRecordRow.sequence <= last_sequence)
                )
            return count, record

        # Through the store's writer: serialised with this process's appends.
        purged, record = group_commit(store).submit(purge_in)
        return PurgeResult(purged, record)
