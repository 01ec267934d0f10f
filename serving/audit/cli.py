"""`shiprisk keys` and `shiprisk audit`: key management and the log's checks, on the server.

Run where the service's settings are (same SHIPRISK_DATABASE_URL, key pepper and audit key).
Creating and revoking keys, purging the log and checkpointing it are themselves recorded in
the consultation log, with ``cli`` and the operating-system user as who.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from serving.console import console, err, fail

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from serving.audit.chain import AuditEvent, ChainVerdict
    from serving.audit.checkpoints import Checkpoint
    from serving.audit.records import AuditLog
    from serving.settings import ServiceSettings
    from serving.store.database import Store


keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
sessions_app = typer.Typer(help="End the pages' sign-in sessions.", no_args_is_help=True)
audit_app = typer.Typer(
    help="Verify, checkpoint and purge the consultation log.", no_args_is_help=True
)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def _open() -> tuple[ServiceSettings, Store, AuditLog]:
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


def _record(
    log: AuditLog,
    store: Store,
    event: AuditEvent,
    writes: Sequence[Callable[[Session], object]] = (),
) -> None:
    """Commit ``writes`` and their record in one transaction, or neither."""
    from serving.audit.records import AuditWriteError, RequestWriteError

    try:
        log.append(store, event, writes)
    except RequestWriteError as error:
        if isinstance(error.error, KeyError):
            raise error.error from None
        raise fail(f"nothing changed: {type(error.error).__name__}") from None
    except AuditWriteError as error:
        raise fail(str(error)) from None


def _command_event(
    route: str, *, detail: dict[str, object], person: str | None = None
) -> AuditEvent:
    from serving.audit.chain import AuditEvent

    return AuditEvent(
        recorded_at=datetime.now(UTC),
        key_id="cli",
        key_name=_actor(),
        role="admin",
        route=route,
        detail=detail,
        person=person,
    )


def _expiry(text: str | None, now: datetime) -> datetime | None:
    """``--expires``: a day (YYYY-MM-DD, the key works until that day begins, UTC), or a
    number of days from now (``90d``)."""
    if text is None:
        return None
    value = text.strip()
    try:
        if value.endswith("d") and value[:-1].isdigit():
            return now + timedelta(days=int(value[:-1]))
        day = date.fromisoformat(value)
    except ValueError:
        raise fail("--expires takes a day (YYYY-MM-DD) or a number of days (90d)") from None
    return datetime.combine(day, time(), tzinfo=UTC)


@keys_app.command("create")
def create_key(
    role: Annotated[str, typer.Option(help="officer, risk_manager or admin.")],
    name: Annotated[str, typer.Option(help="Who or which desk holds the key.")],
    offices: Annotated[
        list[str] | None,
        typer.Option(help="Offices the key may see (repeat or space-separate); default all."),
    ] = None,
    owner: Annotated[
        str | None,
        typer.Option(help="The person answerable for the key (revoke with --owner)."),
    ] = None,
    expires: Annotated[
        str | None,
        typer.Option(help="When the key stops working: a day (YYYY-MM-DD) or days (90d)."),
    ] = None,
) -> None:
    """Make a key and print it once: only its hash is stored."""
    from serving.access.key_store import add_key
    from serving.access.keys import new_key

    settings, store, log = _open()
    now = datetime.now(UTC)
    remit = [office for value in offices or [] for office in value.replace(",", " ").split()]
    try:
        text, key = new_key(
            name,
            role,
            pepper=settings.pepper(),
            created_at=now,
            offices=remit,
            owner=owner,
            expires_at=_expiry(expires, now),
        )
    except ValueError as error:
        store.close()
        raise fail(str(error)) from None
    try:
        _record(
            log,
            store,
            _command_event(
                "keys create",
                detail={
                    "key_id": key.key_id,
                    "role": key.role.value,
                    "name": key.name,
                    "offices": list(key.offices or []),
                    "owner": key.owner,
                    "expires_at": None if key.expires_at is None else key.expires_at.isoformat(),
                },
                person=key.owner,
            ),
            [lambda session: add_key(session, key)],
        )
    finally:
        store.close()
    remit_text = ", ".join(key.offices) if key.offices else "all offices"
    until = "" if key.expires_at is None else f", until {key.expires_at:%Y-%m-%d %H:%M} UTC"
    console.print(
        f"key {key.key_id} ({key.role.value}, {escape(key.name)}, {escape(remit_text)}"
        f"{escape(until)}); shown once, keep it secret:",
        highlight=False,
    )
    console.print(text, highlight=False, soft_wrap=True)


@keys_app.command("list")
def list_keys() -> None:
    """Every key: id, name, role, remit, created and revoked dates (never secrets)."""
    from serving.access.key_store import all_keys

    _, store, _ = _open()
    try:
        with store.sessions() as session:
            keys = all_keys(session)
    finally:
        store.close()

    # One line per key (a table of nine columns does not fit a terminal): greppable.
    def minute(moment: datetime | None) -> str:
        return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M")

    for key in keys:
        offices = ", ".join(key.offices) if key.offices else "all"
        console.print(
            f"{key.key_id}  {key.role.value}  {escape(key.name)}  owner: "
            f"{escape(key.owner or '-')}  offices: {escape(offices)}  created: "
            f"{minute(key.created_at)}  expires: {minute(key.expires_at)}  last used: "
            f"{minute(key.last_used_at)}  revoked: {minute(key.revoked_at)}",
            highlight=False,
            soft_wrap=True,
        )
    if not keys:
        console.print("no keys", highlight=False)


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str | None, typer.Argument(help="The key id shown by `keys list`.")] = None,
    owner: Annotated[
        str | None,
        typer.Option(help="Revoke every key of this owner and end their sessions (a leaver)."),
    ] = None,
) -> None:
    """Revoke a key (or every key and session of an owner): refused from the next request on."""
    if (key_id is None) == (owner is None):
        raise fail("give a key id or --owner NAME")
    if owner is not None:
        _end_person(owner=owner)
        return
    assert key_id is not None
    from serving.access.key_store import revoke_key
    from serving.access.sessions import revoke_sessions

    _, store, log = _open()
    revoked = []
    now = datetime.now(UTC)

    def write(session: Session) -> None:
        revoked.append(revoke_key(session, key_id, now))
        revoke_sessions(session, now, key_ids=[key_id])

    try:
        _record(log, store, _command_event("keys revoke", detail={"key_id": key_id[:64]}), [write])
    except KeyError:
        raise fail(f"no key with id {key_id}: see `shiprisk keys list`") from None
    finally:
        store.close()
    key = revoked[0]
    assert key.revoked_at is not None
    console.print(
        f"key {key.key_id} ({escape(key.name)}) revoked at {key.revoked_at.isoformat()}",
        highlight=False,
    )


def _end_person(*, owner: str | None = None, subject: str | None = None) -> None:
    """Revoke every key of ``owner`` and end every session of that person (by display name, a
    key's owner, or the identity provider's subject), with one record, in one transaction."""
    from serving.access.key_store import revoke_keys_of
    from serving.access.sessions import revoke_sessions

    _, store, log = _open()
    now = datetime.now(UTC)
    ended: dict[str, list[str]] = {"keys": [], "sessions": []}

    def write(session: Session) -> None:
        keys = [] if owner is None else revoke_keys_of(session, owner, now)
        ended["keys"] = [key.key_id for key in keys]
        ended["sessions"] = [
            s.session_id
            for s in revoke_sessions(
                session, now, name=owner, subject=subject, key_ids=ended["keys"]
            )
        ]

    route = "keys revoke" if subject is None else "sessions revoke"
    try:
        _record(
            log,
            store,
            _command_event(
                route,
                detail={"owner": owner, "subject": subject, "ends": "every key and session"},
                person=owner,
            ),
            [write],
        )
    finally:
        store.close()
    console.print(
        f"revoked {len(ended['keys'])} keys and ended {len(ended['sessions'])} sessions of "
        f"{escape(owner or subject or '')}",
        highlight=False,
    )


@sessions_app.command("revoke")
def revoke_sessions_of(
    person: Annotated[
        str | None, typer.Option(help="The person's display name (or a key's owner).")
    ] = None,
    subject: Annotated[
        str | None, typer.Option(help="The identity provider's subject of the person.")
    ] = None,
) -> None:
    """End every session (and, with --person, revoke every key) of a person who leaves."""
    if person is None and subject is None:
        raise fail("give --person NAME or --subject SUBJECT")
    _end_person(owner=person, subject=subject)


CheckpointFiles = Annotated[
    list[Path] | None,
    typer.Option(
        "--checkpoints",
        help="Checkpoint files kept elsewhere (repeat); the configured one is read too.",
    ),
]


def _read_checkpoints(paths: list[Path]) -> list[list[tuple[str, Checkpoint]]]:
    """Each file's checkpoints (a missing file has none).

    Raises:
        typer.Exit: a file cannot be read or holds a line that is not a checkpoint.
    """
    from serving.audit.checkpoints import read_file

    try:
        return [read_file(path) if path.exists() else [] for path in paths]
    except (OSError, ValueError) as error:
        raise fail(f"cannot read the checkpoints: {error}", code=1) from None


def _this_store(store: Store) -> str | None:
    from serving.audit.records import store_id

    with store.sessions() as session:
        return store_id(session)


@audit_app.command("verify")
def verify(checkpoints: CheckpointFiles = None) -> None:
    """Check every record's hash and link, and every checkpoint; name what is broken (exit 1).

    Checkpoints of another store in the configured file are set aside, with a note; a file
    named with --checkpoints must hold checkpoints of this store.
    """
    from serving.audit.boundary import describe_stores
    from serving.audit.checkpoints import by_store, verify_log
    from serving.audit.records import read_chain

    settings, store, log = _open()
    configured = settings.checkpoint_path(settings.data_dir)
    explicit = list(dict.fromkeys(checkpoints or []))
    paths = [*([] if configured in explicit else [configured]), *explicit]
    try:
        identity = _this_store(store)
        lines = _read_checkpoints(paths)
        own_lines = 0
        for path, found in zip(paths, lines, strict=True):
            ours, foreign = by_store(found, identity)
            own_lines += len(ours)
            if path in explicit and not ours:
                belong = f"its {len(found)} lines belong to store(s) " + describe_stores(foreign)
                raise fail(
                    f"{path} holds no checkpoint of this store ({identity or 'without an id'}); "
                    f"{belong if found else 'it is empty'}: the wrong file, or this store's id "
                    "was changed",
                    code=1,
                )
        with store.sessions() as session:
            verdict = verify_log(
                read_chain(session),
                log.key,
                [c for found in lines for c in found],
                store_id=identity,
            )
    finally:
        store.close()
    _note_other_stores(verdict, identity, own_lines)
    if not verdict.intact:
        raise fail(
            f"consultation log broken at record {verdict.broken_sequence}: {verdict.problem}",
            code=1,
        )
    console.print(
        f"consultation log intact: {verdict.checked} records, head {verdict.head_sequence} "
        f"{verdict.head_hash or '-'}",
        highlight=False,
    )
    if verdict.legacy_through:
        console.print(
            f"unkeyed records accepted through record {verdict.legacy_through} (the signed "
            "legacy boundary of this store)",
            highlight=False,
        )
    if verdict.vouched_sequence is None:
        console.print(
            "no checkpoint: records cut off the end cannot be seen; run `shiprisk audit "
            "checkpoint` and keep its line elsewhere",
            highlight=False,
        )
    else:
        console.print(
            f"{verdict.checkpoints} checkpoints hold; the newest vouches for record "
            f"{verdict.vouched_sequence}",
            highlight=False,
        )


def _note_other_stores(verdict: ChainVerdict, identity: str | None, own_lines: int) -> None:
    """Say which checkpoint lines were set aside as another store's; loudly when the files
    hold no line of this store (the store's id may have been changed)."""
    from serving.audit.boundary import describe_stores

    if not verdict.foreign_checkpoints:
        return
    others = sum(lines for _, lines in verdict.foreign_checkpoints)
    stores = describe_stores(verdict.foreign_checkpoints)
    this = identity or "without an id"
    if not own_lines:
        err.print(
            f"[bold red]warning:[/] no checkpoint of this store ({escape(this)}) found, "
            f"{others} lines belong to store(s) {escape(stores)}: another store shares the "
            "checkpoint file, or this store's id was changed (then nothing outside the "
            "database vouches for this log)",
            highlight=False,
            soft_wrap=True,
        )
    else:
        err.print(
            f"note: {others} checkpoint lines of other store(s) were set aside: "
            f"{escape(stores)} (this store is {escape(this)})",
            highlight=False,
            soft_wrap=True,
        )


@audit_app.command("checkpoint")
def checkpoint(
    file: Annotated[
        Path | None,
        typer.Option(help="Append here instead of SHIPRISK_AUDIT_CHECKPOINT_FILE."),
    ] = None,
    legacy_through: Annotated[
        int | None,
        typer.Option(
            "--legacy-through",
            min=1,
            help="First declare again that records up to this one are legacy (unkeyed): a "
            "trust decision, after checking them by other means, for a store whose boundary "
            "line was lost.",
        ),
    ] = None,
) -> None:
    """Verify the log, then sign its head and count: as a record, a file line, and printed."""
    from serving.audit.boundary import BoundaryRefused, foreign_lines_refusal
    from serving.audit.checkpoints import append_to_file, verify_log
    from serving.audit.records import AuditWriteError, EmptyLogError, read_chain

    settings, store, log = _open()
    configured = settings.checkpoint_path(settings.data_dir)
    path = file or configured
    now = datetime.now(UTC)
    try:
        identity = _this_store(store)
        (target,) = _read_checkpoints([path])
        refusal = foreign_lines_refusal(path, target, identity)
        if refusal is not None:
            raise fail(f"not checkpointed: {refusal}")
        declared = None
        if legacy_through is None:  # a store's first keyed record: its boundary goes first
            log.declare_legacy_boundary(store, now=now, actor=_actor())
        else:
            declared = log.legacy_boundary(store, through=legacy_through, now=now)
        paths = list(dict.fromkeys([path, configured]))
        found = [c for lines in _read_checkpoints(paths) for c in lines]
        if declared is not None:
            found.append(("declared now", declared))
        with store.sessions() as session:
            verdict = verify_log(read_chain(session), log.key, found, store_id=identity)
        if not verdict.intact:  # a checkpoint must never vouch for a tampered chain
            raise fail(
                f"not checkpointed: consultation log broken at record "
                f"{verdict.broken_sequence}: {verdict.problem}",
                code=1,
            )
        if declared is not None:
            boundary_record = log.record_boundary(store, declared, actor=_actor())
        made, record = log.checkpoint(store, now=now, actor=_actor())
    except (EmptyLogError, AuditWriteError, BoundaryRefused) as error:
        raise fail(str(error)) from None
    finally:
        store.close()
    try:
        if declared is not None:
            append_to_file(path, declared)
        append_to_file(path, made)
    except OSError as error:
        lines = "\n".join(c.as_json() for c in (declared, made) if c is not None)
        raise fail(
            f"checkpoint recorded as record {record.sequence} but not written to {path} "
            f"({type(error).__name__}): keep these lines elsewhere: {lines}"
        ) from None
    if declared is not None:
        console.print(
            f"legacy boundary: unkeyed records accepted through record {declared.head_sequence}, "
            f"declared by {escape(_actor())} (record {boundary_record.sequence}), appended to "
            f"{escape(str(path))}:",
            highlight=False,
        )
        console.print(declared.as_json(), highlight=False, soft_wrap=True, markup=False)
    console.print(
        f"checkpoint of record {made.head_sequence} ({made.record_count} records) is record "
        f"{record.sequence}, appended to {escape(str(path))}; keep a copy on write-once storage:",
        highlight=False,
    )
    console.print(made.as_json(), highlight=False, soft_wrap=True, markup=False)


@audit_app.command("purge")
def purge(
    before: Annotated[
        datetime, typer.Option(formats=["%Y-%m-%d"], help="Remove records older than this day.")
    ],
) -> None:
    """Remove records older than a day, after recording the purge; respects the retention."""
    from serving.audit.records import AuditWriteError, RetentionError

    settings, store, log = _open()
    cutoff = datetime.combine(date(before.year, before.month, before.day), time(), tzinfo=UTC)
    try:
        result = log.purge(
            store,
            before=cutoff,
            now=datetime.now(UTC),
            retention_days=settings.audit_retention_days,
            actor=_actor(),
        )
    except (RetentionError, AuditWriteError) as error:
        raise fail(str(error)) from None
    finally:
        store.close()
    console.print(
        f"purged {result.purged} records older than {cutoff.date().isoformat()}; "
        f"the purge is record {result.record.sequence}",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add `keys`, `sessions` and `audit` to the top-level `shiprisk` app."""
    app.add_typer(keys_app, name="keys")
    app.add_typer(sessions_app, name="sessions")
    app.add_typer(audit_app, name="audit")
