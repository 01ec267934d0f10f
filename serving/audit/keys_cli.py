"""`shiprisk keys`: create, list and revoke API keys, on the server.

Only a key's hash is stored; the key itself is printed once. Each change is recorded in the
consultation log with the command's writes (`serving.audit.command_log`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from serving.audit.command_log import command_event, open_service, record
from serving.audit.sessions_cli import end_person
from serving.console import console, fail

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)


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

    settings, store, log = open_service()
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
        record(
            log,
            store,
            command_event(
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

    _, store, _ = open_service()
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
        end_person(owner=owner)
        return
    assert key_id is not None
    from serving.access.key_store import revoke_key
    from serving.access.sessions import revoke_sessions

    _, store, log = open_service()
    revoked = []
    now = datetime.now(UTC)

    def write(session: Session) -> None:
        revoked.append(revoke_key(session, key_id, now))
        revoke_sessions(session, now, key_ids=[key_id])

    try:
        record(log, store, command_event("keys revoke", detail={"key_id": key_id[:64]}), [write])
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
