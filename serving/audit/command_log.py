"""What every command on the server shares: its settings, store and log, and its own record.

Run where the service's settings are (same SHIPRISK_DATABASE_URL, key pepper and audit key).
A command that changes something (creating or revoking keys, ending sessions, purging or
checkpointing the log) is itself recorded in the consultation log, with ``cli`` and the
operating-system user as who, in the same transaction as its writes.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from serving.console import fail

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from serving.audit.chain import AuditEvent
    from serving.audit.records import AuditLog
    from serving.settings import ServiceSettings
    from serving.store.database import Store


def actor() -> str:
    """Who a command's records name: ``cli:`` and the operating-system user."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def open_service() -> tuple[ServiceSettings, Store, AuditLog]:
    """The settings, the open store, and the log keyed with the audit key (read once)."""
    from serving.access.settings import InsecureSettings
    from serving.audit.chain import AuditKey
    from serving.audit.records import AuditLog
    from serving.settings import ServiceSettings
    from serving.store.database import Store

    settings = ServiceSettings()
    try:
        settings.pepper()
        log = AuditLog(
            AuditKey(settings.audit_key_secret(settings.data_dir)),
            settings.checkpoint_path(settings.data_dir),
        )
    except InsecureSettings as error:
        raise fail(str(error)) from None
    try:
        store = Store.open(settings.resolved_database_url())
    except Exception as error:
        raise fail(f"cannot open the operational store: {type(error).__name__}") from None
    return settings, store, log


def record(
    log: AuditLog,
    store: Store,
    event: AuditEvent,
    writes: Sequence[Callable[[Session], object]] = (),
) -> None:
    """Commit ``writes`` and their record in one transaction, or neither.

    Raises:
        KeyError: a write raised it (a key that does not exist): the command names it.
        typer.Exit: any other failed write, or the record could not be written.
    """
    from serving.audit.records import AuditWriteError, RequestWriteError

    try:
        log.append(store, event, writes)
    except RequestWriteError as error:
        if isinstance(error.error, KeyError):
            raise error.error from None
        raise fail(f"nothing changed: {type(error.error).__name__}") from None
    except AuditWriteError as error:
        raise fail(str(error)) from None


def command_event(
    route: str, *, detail: dict[str, object], person: str | None = None
) -> AuditEvent:
    """The record of a command run now by `actor` as admin."""
    from serving.audit.chain import AuditEvent

    return AuditEvent(
        recorded_at=datetime.now(UTC),
        key_id="cli",
        key_name=actor(),
        role="admin",
        route=route,
        detail=detail,
        person=person,
    )
