"""Drift reports: the figures of each monitoring run, for GET /v1/model.

Functions here never commit: the caller opens one transaction per request
(`Store.transaction`), so a request's writes land together or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.store.tables import DriftReport


def record_drift_report(
    session: Session,
    *,
    model_name: str,
    model_version: str,
    window_start: datetime,
    window_end: datetime,
    summary: Mapping[str, Any],
    created_at: datetime | None = None,
) -> DriftReport:
    """Keep the figures of a monitoring run for GET /v1/model."""
    report = DriftReport(
        created_at=created_at or datetime.now(UTC),
        model_name=model_name,
        model_version=model_version,
        window_start=window_start,
        window_end=window_end,
        summary=dict(summary),
    )
    session.add(report)
    session.flush()
    return report


def latest_drift_report(session: Session) -> DriftReport | None:
    """The newest monitoring figures, or None before the first `shiprisk monitor`."""
    return session.scalars(select(DriftReport).order_by(DriftReport.id.desc()).limit(1)).first()
