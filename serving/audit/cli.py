"""`shiprisk audit`: verify, checkpoint and purge the consultation log, on the server;
`register` adds it, `shiprisk keys` (`serving.audit.keys_cli`) and `shiprisk sessions`
(`serving.audit.sessions_cli`) to the top-level app.

Purging the log and checkpointing it are themselves recorded in the log, with ``cli`` and the
operating-system user as who (`serving.audit.command_log`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from serving.audit.command_log import actor, open_service
from serving.console import console, err, fail

if TYPE_CHECKING:
    from serving.audit.chain import ChainVerdict
    from serving.audit.checkpoints import Checkpoint
    from serving.store.database import Store


audit_app = typer.Typer(
    help="Verify, checkpoint and purge the consultation log.", no_args_is_help=True
)


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
    from serving.audit.reading import store_id

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
    from serving.audit.reading import read_chain

    settings, store, log = open_service()
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
    from serving.audit.reading import read_chain
    from serving.audit.records import AuditWriteError, EmptyLogError

    settings, store, log = open_service()
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
            log.declare_legacy_boundary(store, now=now, actor=actor())
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
            boundary_record = log.record_boundary(store, declared, actor=actor())
        made, record = log.checkpoint(store, now=now, actor=actor())
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
            f"declared by {escape(actor())} (record {boundary_record.sequence}), appended to "
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

    settings, store, log = open_service()
    cutoff = datetime.combine(date(before.year, before.month, before.day), time(), tzinfo=UTC)
    try:
        result = log.purge(
            store,
            before=cutoff,
            now=datetime.now(UTC),
            retention_days=settings.audit_retention_days,
            actor=actor(),
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
    from serving.audit.keys_cli import keys_app
    from serving.audit.sessions_cli import sessions_app

    app.add_typer(keys_app, name="keys")
    app.add_typer(sessions_app, name="sessions")
    app.add_typer(audit_app, name="audit")
