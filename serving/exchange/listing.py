"""GET /v1/exchange/messages: the messages received and sent, newest first, each with what it
changed (`serving.exchange.effects`): for a received message the watchlist entries it made and
the declarations whose score they reached, for a sent one the outcomes it reported.

Pages go by the store's message id (newest first): ``cursor`` is the last id of the page
before, so messages arriving meanwhile never shift a page. An H2/H3 message's entries are
listed without their values: what came in under those codes is not passed on, on a screen
either (docs/exchange.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.exchange.effects import MadeEntry, declarations_hit, entries_made
from serving.exchange.schemas import ListedMessage, MadeEntryOut, MessagePage, ReportedOutcome
from serving.exchange.watchlist import moment
from serving.store.tables import ExchangeMessage

MAX_PAGE = 200
# The columns listed: never a received message's payload or token (10,000 entities is one).
LISTED_COLUMNS = (
    ExchangeMessage.id,
    ExchangeMessage.message_id,
    ExchangeMessage.direction,
    ExchangeMessage.partner,
    ExchangeMessage.kind,
    ExchangeMessage.created_at,
    ExchangeMessage.recorded_at,
    ExchangeMessage.handling_code,
    ExchangeMessage.handling_note,
    ExchangeMessage.no_dissemination,
    ExchangeMessage.tlp,
    ExchangeMessage.purpose,
    ExchangeMessage.source_reliability,
    ExchangeMessage.information_accuracy,
    ExchangeMessage.personal_data,
    ExchangeMessage.retain_until,
    ExchangeMessage.entities,
    ExchangeMessage.withheld,
)


def _entry_out(entry: MadeEntry) -> MadeEntryOut:
    return MadeEntryOut(
        id=entry.id,
        entity_type=entry.entity_type,
        entity_id=None if entry.restricted else entry.entity_id,
        threat=entry.threat,
        valid_from=entry.valid_from,
        valid_to=entry.valid_to,
        state=entry.state,
    )


def reported_outcomes(
    payload: dict[str, Any], declaration_ids: Sequence[Any]
) -> list[ReportedOutcome]:
    """The outcomes a sent report disclosed: its declarations, with the event it reported."""
    event = payload.get("event") or {}
    inspected = event.get("date")
    return [
        ReportedOutcome(
            declaration_id=str(declaration_id),
            event=str(event.get("type", "")),
            threat=str(event.get("threat", "")),
            inspected_at=None if inspected is None else moment(str(inspected)),
        )
        for declaration_id in declaration_ids
    ]


def list_messages(
    session: Session,
    *,
    now: datetime,
    direction: str | None = None,
    partner: str | None = None,
    limit: int = 50,
    cursor: int | None = None,
) -> MessagePage:
    """One page of messages, newest first, with what each changed."""
    query = select(*LISTED_COLUMNS).order_by(ExchangeMessage.id.desc()).limit(limit + 1)
    if direction is not None:
        query = query.where(ExchangeMessage.direction == direction)
    if partner is not None:
        query = query.where(ExchangeMessage.partner == partner)
    if cursor is not None:
        query = query.where(ExchangeMessage.id < cursor)
    rows = session.execute(query).all()
    page, more = rows[:limit], len(rows) > limit
    received = [row.id for row in page if row.direction == "in"]
    sent = [row.id for row in page if row.direction == "out"]
    entries = entries_made(session, received, now=now) if received else []
    by_message: dict[int, list[MadeEntry]] = defaultdict(list)
    for entry in entries:
        by_message[entry.message_pk].append(entry)
    hit = declarations_hit(session, entries)
    reports: dict[int, list[ReportedOutcome]] = {}
    if sent:
        for pk, payload, declaration_ids in session.execute(
            select(
                ExchangeMessage.id, ExchangeMessage.payload, ExchangeMessage.declaration_ids
            ).where(ExchangeMessage.id.in_(sent))
        ):
            reports[pk] = reported_outcomes(payload, declaration_ids or [])
    messages = [
        ListedMessage(
            **row._mapping,
            watchlist_entries=[_entry_out(entry) for entry in by_message.get(row.id, [])],
            declarations_affected=len(hit.get(row.id, {})) if row.direction == "in" else None,
            reported=reports.get(row.id, []),
        )
        for row in page
    ]
    return MessagePage(messages=messages, next_cursor=page[-1].id if more and page else None)
