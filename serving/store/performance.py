"""What performance monitoring reads (inspected declarations and the declarations scored
per office and day) and the performance reports it keeps.

Functions here never commit: the caller opens one transaction per request
(`Store.transaction`), so a request's writes land together or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from serving.store.outcomes import fill_selection, outcome_pick
from serving.store.tables import (
    DeclarationLodging,
    InspectionOutcome,
    PerformanceReport,
    ScoredDeclaration,
)
from serving.store.worklists import worklist_picks

_FLAGS = ("weapons_found", "migrants_found", "revenue_irregularity")
_INSPECTED_COLUMNS = [
    "declaration_id",
    "office_id",
    "day",
    "selection_reason",
    "selection_probability",
    *_FLAGS,
    "irregular",
]


def performance_outcomes(
    session: Session, *, weeks: int
) -> tuple[pd.DataFrame, dict[tuple[str, date], int]]:
    """The inspected declarations of the last ``weeks`` lodging weeks that have outcomes, and
    the declarations scored per (office, lodging day) of those weeks.

    One row per inspected declaration (`inspected_declarations`).
    """
    newest = session.scalar(
        select(func.max(DeclarationLodging.lodged_at)).join(
            InspectionOutcome,
            InspectionOutcome.declaration_id == DeclarationLodging.declaration_id,
        )
    )
    if newest is None:
        return pd.DataFrame(columns=_INSPECTED_COLUMNS), {}
    last_day = newest.astimezone(UTC).date()
    start = last_day - timedelta(days=last_day.weekday() + 7 * (weeks - 1))
    frame = inspected_declarations(session, start, None)
    counts = session.execute(
        select(
            ScoredDeclaration.office_id,
            ScoredDeclaration.lodged_day,
            func.count(func.distinct(ScoredDeclaration.declaration_id)),
        )
        .where(ScoredDeclaration.lodged_day >= start)
        .group_by(ScoredDeclaration.office_id, ScoredDeclaration.lodged_day)
    ).all()
    return frame, {(office, day): int(n) for office, day, n in counts}


def inspected_declarations(
    session: Session, since: date | None, until: date | None
) -> pd.DataFrame:
    """The declarations lodged on the UTC days ``since`` to ``until`` (inclusive; None: open)
    that have outcomes, one row each: its first inspection's selection (reason and
    probability of the draw it followed, `outcome_pick`); found (per flag, and ``irregular``)
    when any inspection found it. One query for the outcomes, one per 500 declarations for
    their picks.
    """
    query = select(
        InspectionOutcome, DeclarationLodging.office_id, DeclarationLodging.lodged_at
    ).join(
        DeclarationLodging, DeclarationLodging.declaration_id == InspectionOutcome.declaration_id
    )
    if since is not None:
        query = query.where(
            DeclarationLodging.lodged_at >= datetime.combine(since, datetime.min.time(), UTC)
        )
    if until is not None:
        after = until + timedelta(days=1)
        query = query.where(
            DeclarationLodging.lodged_at < datetime.combine(after, datetime.min.time(), UTC)
        )
    stored = session.execute(
        query.order_by(InspectionOutcome.inspected_at, InspectionOutcome.id)
    ).all()
    picks = worklist_picks(session, sorted({row[0].declaration_id for row in stored}))
    first: dict[str, dict[str, Any]] = {}
    for outcome, office_id, lodged_at in stored:
        row = first.get(outcome.declaration_id)
        if row is None:
            row = {
                "declaration_id": outcome.declaration_id,
                "office_id": office_id,
                "day": lodged_at.astimezone(UTC).date(),
                "selection_reason": outcome.selection_reason,
                "selection_probability": outcome.selection_probability,
                "weapons_found": False,
                "migrants_found": 0.0,
                "revenue_irregularity": False,
                "irregular": False,
            }
            fill_selection(row, outcome_pick(outcome, picks.get(outcome.declaration_id, [])))
            first[outcome.declaration_id] = row
        row["weapons_found"] |= bool(outcome.weapons_found)
        row["migrants_found"] = max(row["migrants_found"], outcome.migrants_found or 0.0)
        row["revenue_irregularity"] |= bool(outcome.revenue_irregularity)
        row["irregular"] |= outcome.result == "irregular"
    frame = pd.DataFrame.from_records(list(first.values()), columns=_INSPECTED_COLUMNS)
    frame["selection_probability"] = frame["selection_probability"].astype("float64")
    return frame


def record_performance_report(
    session: Session, summary: Mapping[str, Any], *, created_at: datetime | None = None
) -> PerformanceReport:
    """Keep one computation of the performance figures."""
    report = PerformanceReport(created_at=created_at or datetime.now(UTC), summary=dict(summary))
    session.add(report)
    session.flush()
    return report


def latest_performance_report(session: Session) -> PerformanceReport | None:
    """The newest performance figures, or None before the first computation."""
    return session.scalars(
        select(PerformanceReport).order_by(PerformanceReport.id.desc()).limit(1)
    ).first()


def latest_performance_report_id(session: Session) -> int | None:
    """The id of the newest performance report: a cheap check whether figures changed."""
    return session.scalar(select(func.max(PerformanceReport.id)))
