"""The inbox: a partner's signed message checked, stored all or nothing with its provenance,
and turned into watchlist entries that expire at its ``retain_until``.

`receive` checks everything that needs no store (signature, signer, schema, references,
addressee, expiry, the watchlist's rules for the entries it makes) and collects every problem
of the message before refusing it; `store_received` writes the message, its entities and their
watchlist entries in the caller's transaction, refusing a replay. Nothing is written for a
refused message.

A replay is refused by the message table's unique key (INSERT ... ON CONFLICT DO NOTHING, the
first statement of the write): two deliveries of one message at the same moment store it
once, the later one waiting for the earlier's commit (PostgreSQL) or running after it
(SQLite), and is answered 409. No savepoint: SQLite's driver would commit at its release.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from features.validation import DataValidationError
from serving.exchange.message import MessageProblem, message_problems, no_dissemination
from serving.exchange.partners import ExchangeConfig, Partner
from serving.exchange.schemas import InboxReceipt
from serving.exchange.signing import SignatureRefused, verify
from serving.exchange.watchlist import (
    WatchlistAdditions,
    add_to_watchlist,
    entity_rows,
    moment,
    watchlist_additions,
)
from serving.store.database import Store, conflict_insert
from serving.store.tables import ExchangeEntity, ExchangeMessage

# The HTTP status each refusal is answered with.
REFUSAL_STATUS = {
    "unsigned": 400,
    "bad_signature": 400,
    "unknown_sender": 400,
    "sender_mismatch": 400,
    "not_addressed": 400,
    "expired": 422,
    "invalid": 422,
    "replayed": 409,
}


class MessageRefused(ValueError):
    """A message that was not stored, and why: ``reason`` (a key of `REFUSAL_STATUS`) and,
    for an invalid message, every problem with its field path."""

    def __init__(self, reason: str, message: str, problems: Sequence[MessageProblem] = ()) -> None:
        self.reason = reason
        self.problems = list(problems)
        super().__init__(message)

    @property
    def status(self) -> int:
        """The HTTP status of the refusal."""
        return REFUSAL_STATUS[self.reason]


@dataclass(frozen=True)
class Received:
    """A message that passed every check that needs no store, ready to be stored."""

    partner: Partner
    token: str
    message: Mapping[str, Any]
    recorded_by: str
    recorded_at: datetime
    rows: list[dict[str, Any]] = field(repr=False)
    watchlist: WatchlistAdditions = field(repr=False)

    @property
    def watchlist_rows(self) -> int:
        """How many watchlist entries storing it makes."""
        return len(self.watchlist.rows)

    @property
    def message_id(self) -> str:
        return str(self.message["message_id"])

    def receipt(self, watchlist_entries: int) -> InboxReceipt:
        """What the stored message was and changed."""
        return InboxReceipt(
            message_id=self.message_id,
            sender=self.partner.organisation,
            kind=self.message["kind"],
            handling_code=self.message["handling"]["code"],
            entities=len(self.message["entities"]),
            watchlist_entries=watchlist_entries,
            retain_until=moment(self.message["retain_until"]),
        )


def receive(
    token: str,
    config: ExchangeConfig,
    *,
    recorded_by: str,
    now: datetime | None = None,
) -> Received:
    """Check a partner's signed message without storing anything.

    Raises:
        MessageRefused: unsigned, badly signed, from an unknown sender, signed by one partner
            for another, schema-invalid (every problem, with field paths), not addressed to
            us, or past its ``retain_until``.
    """
    now = now or datetime.now(UTC)
    try:
        verified = verify(token, config.partners)
    except SignatureRefused as refusal:
        raise MessageRefused(refusal.reason, str(refusal)) from None
    try:
        message = json.loads(verified.payload)
    except ValueError:
        raise MessageRefused(
            "invalid",
            "the signed payload is not JSON",
            [MessageProblem((), "not JSON", "sign the message's JSON text, UTF-8")],
        ) from None
    if problems := message_problems(message):
        raise MessageRefused(
            "invalid",
            f"the message does not follow the schema ({len(problems)} problems)",
            problems,
        )
    if message["sender"]["organisation"] != verified.partner.organisation:
        raise MessageRefused(
            "sender_mismatch",
            "sender.organisation is not the partner whose key signed the message",
        )
    if config.organisation not in message["recipients"]:
        raise MessageRefused(
            "not_addressed", f"the message is not addressed to us ({config.organisation})"
        )
    retain_until = moment(message["retain_until"])
    if retain_until <= now:
        raise MessageRefused(
            "expired",
            "the message's retain_until has passed: it may no longer be kept, so nothing was "
            "stored",
        )
    rows = entity_rows(
        message,
        restricted=no_dissemination(message["handling"]),
        added_by=f"exchange:{verified.partner.organisation}",
        added_at=now,
        valid_to=retain_until,
    )
    source = f"{verified.partner.organisation} message {message['message_id']}"
    try:
        additions = watchlist_additions(rows, source=source)
    except DataValidationError as error:
        raise MessageRefused(
            "invalid",
            f"the message's entities break watchlist rules ({len(error.problems)} problems)",
            _entity_problems(message, rows, error),
        ) from None
    return Received(verified.partner, token.strip(), message, recorded_by, now, rows, additions)


def _entity_problems(
    message: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], error: DataValidationError
) -> list[MessageProblem]:
    """The watchlist's problems with a message's entries, at the entities' field paths."""
    chosen = [row for row in rows if row["entity_type"] is not None]
    index = {entity["local_id"]: i for i, entity in enumerate(message["entities"])}
    return [
        MessageProblem(
            ("entities", index[chosen[row - 1]["local_id"]]) if row else ("entities",),
            f"as a watchlist entry ({problem.column}): {problem.message}",
            problem.fix,
        )
        for problem in error.problems
        for row in (problem.rows or (0,))
    ]


def replay_refusal(message_id: str, sender: str) -> MessageRefused:
    """The refusal of a message id this sender used before."""
    return MessageRefused(
        "replayed",
        f"message {message_id} from {sender} was received before: a message id is accepted once",
    )


def already_received(session: Session, received: Received) -> bool:
    """Whether this sender's message id is in the store."""
    found = session.scalar(
        select(ExchangeMessage.id).where(
            ExchangeMessage.direction == "in",
            ExchangeMessage.partner == received.partner.organisation,
            ExchangeMessage.message_id == received.message_id,
        )
    )
    return found is not None


def store_received(session: Session, received: Received) -> InboxReceipt:
    """Write the message, its entities and their watchlist entries (never commits).

    Raises:
        MessageRefused: ``replayed``, this sender's message id is already stored (nothing
            written).
    """
    message = received.message
    handling = message["handling"]
    values = {
        "direction": "in",
        "partner": received.partner.organisation,
        "message_id": received.message_id,
        "kind": message["kind"],
        "schema_version": message["schema_version"],
        "created_at": moment(message["created_at"]),
        "recorded_at": received.recorded_at,
        "recorded_by": received.recorded_by,
        "handling_code": handling["code"],
        "handling_note": handling.get("note"),
        "no_dissemination": no_dissemination(handling),
        "source_reliability": message["evaluation"]["source_reliability"],
        "information_accuracy": message["evaluation"]["information_accuracy"],
        "tlp": message["tlp"],
        "purpose": message["purpose"],
        "personal_data": message["personal_data"],
        "retain_until": moment(message["retain_until"]),
        "entities": len(message["entities"]),
        "watchlist_entries": received.watchlist_rows,
        "withheld": 0,
        "declaration_ids": [],
        "payload": dict(message),
        "token": received.token,
    }
    messages = cast(Table, ExchangeMessage.__table__)
    statement = (
        conflict_insert(session, messages)
        .values(values)
        .on_conflict_do_nothing(index_elements=["direction", "partner", "message_id"])
        .returning(messages.c.id)
    )
    message_pk = session.scalar(statement)
    if message_pk is None:  # stored before, or by a delivery committed a moment ago
        raise replay_refusal(received.message_id, received.partner.organisation)
    entry_ids = add_to_watchlist(
        session,
        received.watchlist,
        added_by=f"exchange:{received.partner.organisation}",
        added_at=received.recorded_at,
    )
    if received.rows:
        session.execute(
            insert(ExchangeEntity),
            [
                {**entity, "message_pk": message_pk, "watchlist_entry_id": entry_ids.get(row)}
                for row, entity in enumerate(received.rows)
            ],
        )
    return received.receipt(received.watchlist_rows)


def import_message(
    store: Store,
    token: str,
    config: ExchangeConfig,
    *,
    recorded_by: str,
    now: datetime | None = None,
) -> InboxReceipt:
    """`receive` then `store_received` in one transaction of its own: all or nothing."""
    received = receive(token, config, recorded_by=recorded_by, now=now)
    with store.transaction() as session:
        return store_received(session, received)
