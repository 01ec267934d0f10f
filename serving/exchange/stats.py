"""Aggregate statistics for regional risk analysis, without personal data (issue 15, item 5).

`finding_counts`: seizures and hits per month by threat, HS chapter, route, concealment and
office, the shape a regional risk-analysis network pools. No declaration, party or vehicle
id and no note leaves: a row is a count of findings. Concealment is free text, so a method
written fewer than ``min_count`` times in the period is counted as ``other`` (a rare text
could name someone). `exchange_activity`: per partner and month, messages received and sent,
and the watchlist entries partners' messages made, active or expired now.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from serving.exchange.outbox import declarations_of, finding, positive_outcomes
from serving.store.tables import ExchangeMessage, WatchlistEntry

OTHER = "other"
MIN_COUNT = 3  # fewer findings with one concealment text than this: counted as "other"
EXCHANGE_PREFIX = "exchange:"  # added_by of the watchlist entries a partner's message made


@dataclass(frozen=True)
class FindingCount:
    """How many positive inspections one cell holds."""

    month: str  # YYYY-MM of the inspection
    event: str  # seizure or hit
    threat: str
    hs_chapter: str
    route: str  # the itinerary, GR>MK>RS; empty when not declared
    concealment: str  # normalised method, "other" when rare, empty when none given
    office_id: str
    findings: int


@dataclass(frozen=True)
class PartnerActivity:
    """What one partner exchanged with us in one month, and its entries' state now."""

    partner: str
    month: str
    received: int
    sent: int
    entries_active: int
    entries_expired: int


def _concealment(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()[:100]


def finding_counts(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    min_count: int = MIN_COUNT,
) -> list[FindingCount]:
    """Positive outcomes recorded in [since, until), counted per cell (sorted)."""
    outcomes = positive_outcomes(session, since=since, until=until)
    declarations, offices = declarations_of(
        session, sorted({outcome.declaration_id for outcome in outcomes})
    )
    kept = [outcome for outcome in outcomes if outcome.declaration_id in declarations]
    written = Counter(_concealment(outcome.concealment) for outcome in kept)
    cells: Counter[tuple[str, str, str, str, str, str, str]] = Counter()
    for outcome in kept:
        declaration = declarations[outcome.declaration_id]
        _, threat, event = finding(outcome)
        method = _concealment(outcome.concealment)
        itinerary = declaration.get("itinerary") or ""
        cells[
            (
                outcome.inspected_at.strftime("%Y-%m"),
                event,
                threat,
                str(declaration["hs_code"])[:2],
                ">".join(itinerary) if isinstance(itinerary, list) else str(itinerary),
                method if not method or written[method] >= min_count else OTHER,
                offices.get(outcome.declaration_id, str(declaration["office_id"])),
            )
        ] += 1
    return [FindingCount(*cell, findings) for cell, findings in sorted(cells.items())]


def exchange_activity(session: Session, *, now: datetime) -> list[PartnerActivity]:
    """Per partner and month: messages received and sent (by when we recorded them), and the
    watchlist entries its messages received that month made, in force or expired at ``now``
    (withdrawn ones are neither)."""
    counts: dict[tuple[str, str], dict[str, int]] = {}
    messages = select(
        ExchangeMessage.partner, ExchangeMessage.direction, ExchangeMessage.recorded_at
    )
    for partner, direction, recorded_at in session.execute(messages):
        cell = counts.setdefault(
            (partner, recorded_at.strftime("%Y-%m")),
            {"received": 0, "sent": 0, "entries_active": 0, "entries_expired": 0},
        )
        cell["received" if direction == "in" else "sent"] += 1
    entries = select(
        WatchlistEntry.added_by,
        WatchlistEntry.added_at,
        WatchlistEntry.valid_to,
        func.count(),
    ).where(
        WatchlistEntry.added_by.startswith(EXCHANGE_PREFIX), WatchlistEntry.withdrawn_at.is_(None)
    )
    for added_by, added_at, valid_to, number in session.execute(
        entries.group_by(WatchlistEntry.added_by, WatchlistEntry.added_at, WatchlistEntry.valid_to)
    ):
        partner = added_by.removeprefix(EXCHANGE_PREFIX)
        cell = counts.setdefault(
            (partner, added_at.strftime("%Y-%m")),
            {"received": 0, "sent": 0, "entries_active": 0, "entries_expired": 0},
        )
        expired = valid_to is not None and _aware(valid_to) <= now
        cell["entries_expired" if expired else "entries_active"] += int(number)
    return [
        PartnerActivity(partner, month, **cell) for (partner, month), cell in sorted(counts.items())
    ]


def _aware(moment: datetime) -> datetime:
    """SQLite gives naive datetimes back: they are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def as_csv(rows: Sequence[FindingCount] | Sequence[PartnerActivity]) -> str:
    """The rows as CSV with a header (empty text without rows)."""
    if not rows:
        return ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(asdict(rows[0])), lineterminator="\n")
    writer.writeheader()
    writer.writerows(asdict(row) for row in rows)
    return buffer.getvalue()
