"""The consultation log's writer: `AuditLog` appends, purges, checkpoints and declares the
legacy boundary, each through the store's group-commit writer.

`AuditLog` holds the audit key (read once, when the service or a command starts) and
serialises appends in this process (through the store's group-commit writer, so concurrent
requests share one commit). Each record goes after the chain's head as `serving.audit.appending`
says; the head is read once per group commit. Reading the log back is `serving.audit.reading`.

The first keyed record of a store is preceded by its legacy boundary (`serving.audit.boundary`),
declared in the checkpoint file the log is given and as a record; after that, an append
costs nothing more (the head's hash scheme is read with the head).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from serving.audit import appending
from serving.audit.boundary import (
    AUTOMATIC,
    BY_OPERATOR,
    BoundaryRefused,
    boundary_event,
    existing_boundary,
)
from serving.audit.chain import (
    GENESIS,
    LEGACY_SCHEME,
    PURGE_ACTION,
    AuditEvent,
    AuditKey,
    AuditRecord,
    purge_event,
)
from serving.audit.checkpoints import (
    BOUNDARY_ACTION,
    CHECKPOINT_ACTION,
    Checkpoint,
    append_to_file,
    checkpoint_event,
    read_file,
    signed_checkpoint,
)
from serving.audit.reading import record_from_row, store_id
from serving.store.database import Store
from serving.store.group_commit import group_commit
from serving.store.tables import AuditDeclaration, AuditRecordRow

APPEND_ATTEMPTS = 3
logger = logging.getLogger(__name__)


class AuditWriteError(RuntimeError):
    """A record could not be written: the request it records must not be answered."""


class RequestWriteError(RuntimeError):
    """A recorded request's own write failed inside the record's transaction (`error`)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(type(error).__name__)
        self.error = error


@dataclass(frozen=True)
class PurgeResult:
    """What a purge removed, and its own record."""

    purged: int
    record: AuditRecord


class EmptyLogError(ValueError):
    """A checkpoint was asked of a log without records."""


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


def _command_event(now: datetime, actor: str, route: str) -> AuditEvent:
    """Who a command's legacy boundary is recorded as: the command's own user."""
    return AuditEvent(recorded_at=now, key_id="cli", key_name=actor, role="admin", route=route)


class AuditLog:
    """Appends records to the chain in the store, one after the other, keyed with ``key``.

    Appends go through the store's group-commit writer (`serving.store.group_commit`): the
    records of concurrent requests are chained in arrival order and committed together (often
    with their scores), each request waiting for that commit. ``checkpoint_file`` is where
    the store's legacy boundary is declared at its first keyed record (the service and the
    commands give the configured file; without one, none is declared).
    """

    def __init__(self, key: AuditKey, checkpoint_file: Path | None = None) -> None:
        self.key = key
        self.checkpoint_file = checkpoint_file

    def _legacy_boundary_in(self, session: Session, trigger: AuditEvent) -> None:
        """Declare the store's legacy boundary when ``trigger`` is about to be its first
        keyed record: the chain is empty or its newest record is unkeyed.

        A boundary that cannot be declared (`serving.audit.boundary.BoundaryRefused`, the
        file unreadable or unwritable) is logged and the append goes on: the record matters
        more than the boundary, and `shiprisk audit verify` then names the unkeyed records.
        """
        head = appending.chain_head(session)
        if (head is not None and head[2] != LEGACY_SCHEME) or self.checkpoint_file is None:
            return
        path = self.checkpoint_file
        through, digest = (0, GENESIS) if head is None else (int(head[0]), str(head[1]))
        identity = appending.ensure_store_id(session)
        try:
            found = read_file(path) if path.exists() else []
            boundary = existing_boundary(
                path, found, identity, self.key, through=through, head_hash=digest
            )
            if boundary is None:
                boundary = signed_checkpoint(
                    self.key,
                    head_sequence=through,
                    head_hash=digest,
                    record_count=appending.count_through(session, through) if through else 0,
                    made_at=trigger.recorded_at,
                    store_id=identity,
                    legacy_through=through,
                )
                append_to_file(path, boundary)
        except (BoundaryRefused, OSError, ValueError) as error:
            logger.warning("consultation log: %s", error)
            return
        if through > 0:
            event = boundary_event(
                boundary,
                key_id=trigger.key_id,
                key_name=trigger.key_name,
                role=trigger.role,
                declared=AUTOMATIC,
            )
            appending.append_in(session, self.key, event)

    def declare_legacy_boundary(self, store: Store, *, now: datetime, actor: str) -> None:
        """Declare the store's legacy boundary now if its first keyed record is still to
        come (a command that verifies before it appends: the boundary must be there first)."""

        def declare_in(session: Session) -> None:
            self._legacy_boundary_in(session, _command_event(now, actor, BOUNDARY_ACTION))

        group_commit(store).submit(declare_in)

    def _append_keyed(self, session: Session, event: AuditEvent) -> AuditRecord:
        self._legacy_boundary_in(session, event)
        return appending.append_in(session, self.key, event)

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
            return self._append_keyed(session, event)

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
            appending.append_in(session, self.key, probe)
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
            self._legacy_boundary_in(session, _command_event(now, actor, PURGE_ACTION))
            last_sequence = session.scalar(
                select(func.max(AuditRecordRow.sequence)).where(AuditRecordRow.recorded_at < before)
            )
            last = None if last_sequence is None else session.get(AuditRecordRow, last_sequence)
            count = 0 if last_sequence is None else appending.count_through(session, last_sequence)
            record = appending.append_in(
                session,
                self.key,
                purge_event(
                    recorded_at=now,
                    actor=actor,
                    before=before,
                    last_purged=None if last is None else record_from_row(last),
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

    def checkpoint(
        self, store: Store, *, now: datetime, actor: str
    ) -> tuple[Checkpoint, AuditRecord]:
        """Sign the chain's head and record count, and append that checkpoint as a record.

        The checkpoint vouches for the records up to the head it names; its own record comes
        after. Keep a copy of it outside the database (`serving.audit.checkpoints`).

        Raises:
            EmptyLogError: there is no record to vouch for.
        """

        def checkpoint_in(session: Session) -> tuple[Checkpoint, AuditRecord]:
            self._legacy_boundary_in(session, _command_event(now, actor, CHECKPOINT_ACTION))
            head = appending.chain_head(session)
            if head is None:
                raise EmptyLogError("the consultation log is empty: nothing to checkpoint")
            stored_max, stored_count = session.execute(
                select(func.max(AuditRecordRow.sequence), func.count(AuditRecordRow.sequence))
            ).one()
            pending = int(head[0]) - int(stored_max or 0)  # appended earlier in this group
            checkpoint = signed_checkpoint(
                self.key,
                head_sequence=int(head[0]),
                head_hash=str(head[1]),
                record_count=int(stored_count) + pending,
                made_at=now,
                store_id=appending.ensure_store_id(session),
            )
            record = appending.append_in(
                session, self.key, checkpoint_event(checkpoint, actor=actor)
            )
            return checkpoint, record

        return group_commit(store).submit(checkpoint_in)

    def legacy_boundary(self, store: Store, *, through: int, now: datetime) -> Checkpoint:
        """A legacy boundary through record ``through``, signed, not yet declared (the
        operator's explicit declaration: check it, then `record_boundary`).

        Raises:
            BoundaryRefused: record ``through`` is not in the chain, or not unkeyed.
        """
        with store.sessions() as session:
            row = session.get(AuditRecordRow, through)
            if row is None or row.hash_scheme != LEGACY_SCHEME:
                what = "not in the consultation log" if row is None else "keyed"
                raise BoundaryRefused(
                    f"record {through} is {what}: a legacy boundary names the last record "
                    f"written in the unkeyed scheme ({LEGACY_SCHEME})"
                )
            identity = store_id(session)
            count = appending.count_through(session, through)
            digest = row.record_hash
        if identity is None:
            raise BoundaryRefused("the store has no id (its store_identity row was deleted)")
        return signed_checkpoint(
            self.key,
            head_sequence=through,
            head_hash=digest,
            record_count=count,
            made_at=now,
            store_id=identity,
            legacy_through=through,
        )

    def record_boundary(self, store: Store, boundary: Checkpoint, *, actor: str) -> AuditRecord:
        """Append an operator's legacy boundary to the chain, as declared by ``actor``.

        Raises:
            BoundaryRefused: the record it names changed since it was signed.
        """

        def record_in(session: Session) -> AuditRecord:
            row = session.get(AuditRecordRow, boundary.head_sequence)
            if row is None or row.record_hash != boundary.head_hash:
                raise BoundaryRefused(
                    f"record {boundary.head_sequence} changed while the boundary was declared"
                )
            event = boundary_event(
                boundary, key_id="cli", key_name=actor, role="admin", declared=BY_OPERATOR
            )
            return appending.append_in(session, self.key, event)

        return group_commit(store).submit(record_in)
