"""`shiprisk exchange`: import a partner's signed message, export reports for a partner, and
make a signing key.

Imports and exports are recorded in the consultation log (a collection, a disclosure) in the
same commit as what they store; the log is written by the recorder the composition module
hands in (`serving.cli`), as rooms do not reach into the audit room. Heavy imports stay inside
the command functions so that `shiprisk --help` is fast.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Protocol

import typer

from serving.console import console, fail

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from serving.exchange.partners import ExchangeConfig
    from serving.store.database import Store


class CommandRecorder(Protocol):
    """Writes a command's consultation record with the command's own writes, in one commit;
    when one of the writes fails, nothing is committed and its own exception is raised."""

    def __call__(
        self,
        store: Store,
        route: str,
        *,
        declaration_ids: Sequence[str],
        detail: dict[str, Any],
        writes: Sequence[Callable[[Session], object]],
    ) -> None: ...


def actor() -> str:
    """``cli:<operating-system user>``, as the log names who ran a command."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def _open(database_url: str | None) -> tuple[ExchangeConfig, Store]:
    from serving.access.settings import InsecureSettings
    from serving.exchange.partners import ExchangeConfig, ExchangeConfigError
    from serving.settings import ServiceSettings, store_url
    from serving.store.database import Store

    settings = ServiceSettings()
    try:
        config = ExchangeConfig.from_settings(
            settings, settings.data_dir, production=settings.production
        )
    except (ExchangeConfigError, InsecureSettings) as error:
        raise fail(str(error)) from None
    return config, Store.open(store_url(database_url))


DatabaseOption = Annotated[
    str | None, typer.Option(help="Operational store (default SHIPRISK_DATABASE_URL).")
]


def exchange_commands(record: CommandRecorder) -> typer.Typer:
    """The `exchange` command group, recording through ``record``."""
    app = typer.Typer(
        help="Signed messages with partner agencies: import alerts, export reports.",
        no_args_is_help=True,
    )

    @app.command("import")
    def import_file(
        file: Annotated[Path, typer.Argument(help="The partner's message: a compact JWS.")],
        database_url: DatabaseOption = None,
    ) -> None:
        """Check a partner's signed message and store it, with its watchlist entries."""
        from serving.exchange.service import MessageRefused, receive, store_received

        try:
            token = file.read_text(encoding="utf-8")
        except OSError as error:
            raise fail(f"{file}: cannot read ({type(error).__name__})") from None
        config, store = _open(database_url)
        try:
            received = receive(token, config, recorded_by=actor())
            receipts = []

            def write(session: Session) -> None:
                receipts.append(store_received(session, received))

            detail = {"sender": received.partner.organisation, "message_id": received.message_id}
            record(store, "exchange import", declaration_ids=(), detail=detail, writes=[write])
        except MessageRefused as refusal:
            problems = "".join(
                f"\n  {'.'.join(str(part) for part in p.loc) or '(message)'}: {p.msg} ({p.fix})"
                for p in refusal.problems
            )
            raise fail(f"refused ({refusal.reason}): {refusal}{problems}; nothing stored") from None
        finally:
            store.close()
        receipt = receipts[0]
        console.print(
            f"stored {receipt.kind} {receipt.message_id} from {receipt.sender} "
            f"({receipt.handling_code}): {receipt.entities:,} entities, "
            f"{receipt.watchlist_entries:,} watchlist entries until {receipt.retain_until:%Y-%m-%d}",
            highlight=False,
        )

    @app.command("export")
    def export(
        to: Annotated[str, typer.Option("--to", help="The partner organisation.")],
        out: Annotated[Path, typer.Option(help="Directory for the signed reports (.jws).")],
        since: Annotated[
            datetime | None,
            typer.Option(formats=["%Y-%m-%d"], help="Outcomes recorded on or after this day."),
        ] = None,
        database_url: DatabaseOption = None,
    ) -> None:
        """Write signed hit and seizure reports for a partner; recorded as a disclosure."""
        from serving.exchange.outbox import UnknownPartner, build_reports, record_sent

        config, store = _open(database_url)
        start = None if since is None else datetime.combine(since.date(), time(), tzinfo=UTC)
        try:
            with store.transaction() as session:
                reports = build_reports(session, config, to, since=start)
            now = datetime.now(UTC)

            def write(session: Session) -> None:
                record_sent(session, reports, recorded_by=actor(), recorded_at=now)

            record(
                store,
                "exchange export",
                declaration_ids=[report.declaration_id for report in reports],
                detail={"to": to, "reports": len(reports)},
                writes=[write],
            )
        except UnknownPartner as error:
            raise fail(str(error)) from None
        finally:
            store.close()
        out.mkdir(parents=True, exist_ok=True)
        for report in reports:
            (out / f"{report.message['message_id']}.jws").write_text(report.token + "\n")
        withheld = sum(report.withheld for report in reports)
        console.print(
            f"wrote {len(reports):,} reports for {to} to {out} "
            f"({withheld:,} entities withheld by handling codes)",
            highlight=False,
        )

    @app.command("keygen")
    def keygen(
        out: Annotated[Path, typer.Option(help="File for the private JWK (made, never replaced).")],
    ) -> None:
        """Make an Ed25519 signing key; prints the public JWK for the partners' files."""
        import os

        from joserfc.jwk import OKPKey

        key = OKPKey.generate_key("Ed25519")
        try:
            descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise fail(f"{out} exists: a signing key is never overwritten") from None
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(json.dumps(key.as_dict(private=True)) + "\n")
        console.print(json.dumps(key.as_dict(private=False)), highlight=False)

    return app
