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
