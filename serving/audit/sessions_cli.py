"""`shiprisk sessions`: end the pages' sign-in sessions of a person who leaves, on the server.

`end_person` also serves `shiprisk keys revoke --owner`: a leaver's keys and sessions end
together, with one record in the consultation log, in one transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from serving.audit.command_log import command_event, open_service, record
from serving.console import console, fail

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

sessions_app = typer.Typer(help="End the pages' sign-in sessions.", no_args_is_help=True)


def end_person(*, owner: str | None = None, subject: str | None = None) -> None:
    """Revoke every key of ``owner`` and end every session of that person (by display name, a
    key's owner, or the identity provider's subject), with one record, in one transaction."""
    from serving.access.key_store import revoke_keys_of
    from serving.access.sessions import revoke_sessions

    _, store, log = open_service()
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
        record(
            log,
            store,
            command_event(
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
    end_person(owner=person, subject=subject)
