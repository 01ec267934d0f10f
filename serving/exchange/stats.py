"""Aggregate statistics for regional risk analysis, without personal data (issue 15, item 5).

`finding_counts`: seizures and hits per month by threat, HS chapter, route, concealment and
office, the shape a regional risk-analysis network pools. No declaration, party or vehicle
id and no note leaves: a row is a count of findings. Concealment is free text, so a method
written fewer than ``min_count`` times in the period is counted as ``other`` (a rare text
could name someone). `exchange_activity`: per partner and month, messages received and sent,
the watchlist entries partners' messages made, active or expired now, and the hits those
entries produced: declarations whose score carried a reason from one of them (counted in the
month of the first such scoring), and how many of those an inspection then found positive.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from serving.exchange.effects import as_utc, declarations_hit, entries_made
from serving.exchange.outbox import declarations_of, finding, is_positive, positive_outcomes
from serving.store.tables import ExchangeMessage, InspectionOutcome, WatchlistEntry

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
    declarations_hit: int  # first scored that month with a reason from its entries
    hits_positive: int  # of those, found positive by an inspection after the scoring


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


def _cell(
    counts: dict[tuple[str, str], dict[str, int]], partner: str, month: str
) -> dict[str, int]:
    return counts.setdefault(
        (partner, month),
        {
            "received": 0,
            "sent": 0,
            "entries_active": 0,
            "entries_expired": 0,
            "declarations_hit": 0,
            "hits_positive": 0,
        },
    )


def partner_hits(session: Session, *, now: datetime) -> dict[str, list[tuple[datetime, bool]]]:
    """Per partner, one (first scoring, found positive) pair per declaration whose score
    carried a reason from an entry its messages made (`serving.exchange.effects`): when it was
    first so scored, and whether a positive inspection was recorded from then on."""
    entries = entries_made(session, None, now=now)
    hit = declarations_hit(session, entries)
    partners = dict(
        session.execute(
            select(ExchangeMessage.id, ExchangeMessage.partner).where(
                ExchangeMessage.direction == "in"
            )
        ).all()
    )
    first: dict[str, dict[str, datetime]] = {}
    for message_pk, declarations in hit.items():
        seen = first.setdefault(partners[message_pk], {})
        for declaration_id, scored_at in declarations.items():
            if declaration_id not in seen or scored_at < seen[declaration_id]:
                seen[declaration_id] = scored_at
    ids = sorted({declaration_id for seen in first.values() for declaration_id in seen})
    found: dict[str, list[datetime]] = {}
    for start in range(0, len(ids), 400):
        for outcome in session.scalars(
            select(InspectionOutcome).where(
                InspectionOutcome.declaration_id.in_(ids[start : start + 400])
            )
        ):
            if is_positive(outcome):
                found.setdefault(outcome.declaration_id, []).append(outcome.recorded_at)
    return {
        partner: [
            (scored_at, any(at >= scored_at for at in found.get(declaration_id, [])))
            for declaration_id, scored_at in sorted(seen.items())
        ]
        for partner, seen in first.items()
    }


def exchange_activity(session: Session, *, now: datetime) -> list[PartnerActivity]:
    """Per partner and month: messages received and sent (by when we recorded them), the
    watchlist entries its messages received that month made, in force or expired at ``now``
    (withdrawn ones are neither), and the hits its entries produced."""
    counts: dict[tuple[str, str], dict[str, int]] = {}
    messages = select(
        ExchangeMessage.partner, ExchangeMessage.direction, ExchangeMessage.recorded_at
    )
    for partner, direction, recorded_at in session.execute(messages):
        cell = _cell(counts, partner, recorded_at.strftime("%Y-%m"))
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
        cell = _cell(counts, partner, added_at.strftime("%Y-%m"))
        expired = valid_to is not None and as_utc(valid_to) <= now
        cell["entries_expired" if expired else "entries_active"] += int(number)
    for partner, hits in partner_hits(session, now=now).items():
        for scored_at, positive in hits:
            cell = _cell(counts, partner, scored_at.strftime("%Y-%m"))
            cell["declarations_hit"] += 1
            cell["hits_positive"] += int(positive)
    return [
        PartnerActivity(partner, month, **cell) for (partner, month), cell in sorted(counts.items())
    ]


def as_csv(rows: Sequence[FindingCount] | Sequence[PartnerActivity]) -> str:
    """The rows as CSV with a header (empty text without rows)."""
    if not rows:
        return ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(asdict(rows[0])), lineterminator="\n")
    writer.writeheader()
    writer.writerows(asdict(row) for row in rows)
    return buffer.getvalue()
