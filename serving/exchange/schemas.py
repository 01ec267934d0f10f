"""Request and response bodies of the exchange routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class InboxMessage(BaseModel):
    """A partner's message as it signed it."""

    message: str = Field(
        min_length=5,
        max_length=64 * 1024 * 1024,
        description="the compact JWS (header.payload.signature), Ed25519-signed",
    )


class InboxReceipt(BaseModel):
    """What a received message was and what it changed."""

    message_id: str
    sender: str
    kind: str
    handling_code: str
    entities: int
    watchlist_entries: int = Field(description="watchlist entries it created")
    retain_until: datetime


class OutboxReport(BaseModel):
    """One signed hit or seizure report for the partner."""

    message_id: str
    kind: str
    token: str = Field(description="the compact JWS to send")
    withheld: int = Field(
        description="entities left out: received under H2 or a no-dissemination H3"
    )


class Outbox(BaseModel):
    """The reports built for a partner from outcomes recorded since a date."""

    recipient: str
    reports: list[OutboxReport]


class MadeEntryOut(BaseModel):
    """A watchlist entry a received message made."""

    id: int
    entity_type: str
    entity_id: str | None = Field(
        description="the value listed; None for an H2/H3 message (not passed on)"
    )
    threat: str
    valid_from: datetime
    valid_to: datetime | None
    state: str = Field(description="in_force, expired or withdrawn (replaced by an edit)")


class ReportedOutcome(BaseModel):
    """An inspection outcome a sent report disclosed."""

    declaration_id: str
    event: str = Field(description="seizure or hit")
    threat: str
    inspected_at: datetime | None


class ListedMessage(BaseModel):
    """A message received from or sent to a partner, and what it changed."""

    id: int = Field(description="the store's id of the message: the cursor of the next page")
    message_id: str = Field(description="the envelope's message id")
    direction: str = Field(description="in (received) or out (sent)")
    partner: str = Field(description="the sender (in) or the recipient (out)")
    kind: str
    created_at: datetime = Field(description="as the sender wrote it")
    recorded_at: datetime = Field(description="when we received or sent it")
    handling_code: str
    handling_note: str | None = Field(description="H3: the sender's restrictions")
    no_dissemination: bool
    tlp: str
    purpose: str
    source_reliability: str
    information_accuracy: int
    personal_data: bool
    retain_until: datetime
    entities: int
    watchlist_entries: list[MadeEntryOut] = Field(
        description="in: the watchlist entries it made, expired or in force"
    )
    declarations_affected: int | None = Field(
        description="in: declarations whose score carried a reason from its entries"
    )
    reported: list[ReportedOutcome] = Field(description="out: the outcomes it reported")
    withheld: int = Field(description="out: entities left out by handling codes")


class MessagePage(BaseModel):
    """Messages received and sent, newest first."""

    messages: list[ListedMessage]
    next_cursor: int | None = Field(description="pass as cursor for the next page; None: last")
