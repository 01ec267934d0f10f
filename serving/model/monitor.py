"""Drift monitoring: recent scoring compared with the training window, for GET /v1/model.

`drift_check` (the `shiprisk monitor` command) computes population stability indices of
features and scores and lane shares, writes the report and keeps its figures in the store;
`latest_drift` reads the newest figures back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from features.columns import DeclarationColumns
from features.schema import EXTRA_PREFIX
from features.validation import validate_declarations
from models.bundle import ModelBundle
from models.monitoring import DriftSummary, bundle_reference, drift_summary, write_drift_report
from serving.store import drift, scores
from serving.store.database import Store
from serving.store.intelligence import read_live


class NoRecentScores(LookupError):
    """Nothing was scored in the recent window: there is nothing to compare."""


def drift_check(
    store: Store,
    bundle: ModelBundle,
    *,
    model: Mapping[str, str],
    recent: tuple[datetime, datetime],
    directory: Path | str,
) -> tuple[DriftSummary, list[Path]]:
    """Compare what was scored in ``recent`` with the training window; write and keep the report.

    The recent side uses the scores as they were served (stored); the reference side is the
    training window's distributions that the bundle carries, so no training data is read.
    The figures are kept in the store for GET /v1/model.

    Raises:
        MissingDriftReference: the bundle carries no reference (trained before they existed).
        NoRecentScores: nothing was scored in the window.
    """
    bundle_reference(bundle)  # an old bundle is refused before the store is read
    start, end = recent
    with store.transaction() as session:
        rows = scores.scored_between(session, start, end)
    if not rows:
        raise NoRecentScores(
            f"no declarations scored between {start.isoformat()} and {end.isoformat()}: "
            "widen --days or score declarations first"
        )
    raw = pd.DataFrame.from_records([row.declaration for row in rows])
    extras = [c for c in raw.columns if c.startswith(EXTRA_PREFIX)]
    recent_declarations = validate_declarations(raw, source="store", extra_columns=extras)
    recent_scores = pd.DataFrame(
        {
            **{
                f"risk_{threat}": [row.risk.get(threat, float("nan")) for row in rows]
                for threat in bundle.threats
            },
            "overall": [row.overall for row in rows],
            "lane": [row.lane for row in rows],
        }
    )
    # entity history and watchlist hits as the store holds them now (at most a few days later
    # than when the declarations were scored: close enough for a distribution check)
    with store.transaction() as session:
        live = read_live(
            session,
            DeclarationColumns(recent_declarations),
            list(bundle.builder.threats),
            datetime.now(UTC),
        ).live
    summary = drift_summary(
        bundle,
        recent_declarations,
        recent_scores,
        model=model,
        recent_window={"start": start.isoformat(), "end": end.isoformat()},
        live=live,
    )
    files = write_drift_report(summary, directory)
    with store.transaction() as session:
        drift.record_drift_report(
            session,
            model_name=str(model.get("name", "")),
            model_version=str(model.get("version", "")),
            window_start=start,
            window_end=end,
            summary=summary.as_dict(),
        )
    return summary, files


def latest_drift(store: Store) -> dict[str, Any] | None:
    """The newest drift figures for GET /v1/model: when, which model, PSI and lane shares."""
    with store.transaction() as session:
        report = drift.latest_drift_report(session)
        if report is None:
            return None
        summary = report.summary
        return {
            "created_at": report.created_at.isoformat(),
            "model": {"name": report.model_name, "version": report.model_version},
            "recent_window": summary.get("recent_window"),
            "reference_window": summary.get("reference_window"),
            "recent_rows": summary.get("recent_rows"),
            "score_psi": summary.get("score_psi"),
            "max_feature_psi": max(summary.get("feature_psi", {}).values(), default=0.0),
            "top_feature_psi": dict(list(summary.get("feature_psi", {}).items())[:10]),
            "lane_shares": summary.get("lane_shares"),
            "alerts": summary.get("alerts", []),
        }
