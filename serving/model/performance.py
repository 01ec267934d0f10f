"""Is the model still better than random inspection? Hit rates of stored outcomes, per week.

The validation reviewers found missing at CBP (DOMAIN.md): from the outcomes officers record,
per threat and per week of lodging, the hit rate of model picks, the hit rate of random picks
with its 95% Wilson interval, and the Horvitz-Thompson estimate of the rate over every
declaration (each inspection weighed by the selection probability of the draw it followed).
Over the monitoring window (the last ``weeks`` weeks with outcomes) each threat gets a state:

- ``alert`` when model picks do not beat random picks beyond the random interval (the model's
  pooled hit rate is at most the interval's upper bound), or when the last week's model hit
  rate fell by more than ``hit_rate_drop`` of the earlier weeks' rate;
- ``insufficient_data`` when there are too few random or model picks to say, or no hit on
  either side yet;
- ``ok`` otherwise.

The figures are computed on outcome writes (at most once per ``refresh_seconds``, in a thread,
`PerformanceMonitor`) and by `shiprisk monitor`, and kept in the store; GET /v1/model, the
model page and /metrics read the newest report, so a scrape never scans the outcomes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from features.dataset import outcome_threat_flags
from features.sources import OUTCOME_THREATS
from models.estimates import horvitz_thompson_rate, picked_rate, picked_rate_interval
from serving.metrics import ServiceMetrics
from serving.model.settings import MonitorSettings
from serving.store import performance
from serving.store.database import Store

log = logging.getLogger(__name__)

OK, ALERT, INSUFFICIENT = "ok", "alert", "insufficient_data"


@dataclass(frozen=True)
class PerformanceSettings:
    """The monitoring window and the alert thresholds (service settings ``monitor_*``)."""

    weeks: int = 8
    min_random_picks: int = 30  # random picks in the window before "beats random" is judged
    min_model_picks: int = 30  # model picks per side before a drop is judged
    hit_rate_drop: float = 0.5  # alert when the last week's model hit rate falls by this share


def performance_settings(settings: MonitorSettings) -> PerformanceSettings:
    """The monitor's window and thresholds from the service settings (``SHIPRISK_MONITOR_*``)."""
    return PerformanceSettings(
        weeks=settings.monitor_weeks,
        min_random_picks=settings.monitor_min_random_picks,
        min_model_picks=settings.monitor_min_model_picks,
        hit_rate_drop=settings.monitor_hit_rate_drop,
    )


def week_of(day: date) -> date:
    """The Monday of a day's ISO week: the week a declaration lodged that day counts in."""
    return day - timedelta(days=day.weekday())


# An officer's own addition (POST /v1/declarations/{id}/additions) is no draw of the
# selection design: no declaration had a known chance of being added, so its outcome has no
# inclusion probability and never enters the Horvitz-Thompson estimate, whatever probability
# an outcome states. Its hits are counted on their own ("officer").
OFFICER = "officer"


def _designed(frame: pd.DataFrame) -> np.ndarray:
    """Inspections drawn by the selection design with a known probability in (0, 1]."""
    reason = frame["selection_reason"].to_numpy(dtype=object)
    probability = frame["selection_probability"].to_numpy(dtype=float)
    known = np.isfinite(probability) & (probability > 0) & (probability <= 1)
    return np.asarray(known & (reason != OFFICER), dtype=bool)


def _figures(frame: pd.DataFrame, hits: np.ndarray, population: int) -> dict[str, Any]:
    """Model picks, random picks with their interval, officers' additions, and the HT
    estimate of one period."""
    reason = frame["selection_reason"].to_numpy(dtype=object)
    probability = frame["selection_probability"].to_numpy(dtype=float)
    random_picks = picked_rate_interval(hits, reason == "random")
    known = _designed(frame)
    estimate = (
        horvitz_thompson_rate(hits[known].astype(float), probability[known], population)
        if random_picks["n"] and population > 0
        else None
    )
    return {
        "model": picked_rate(hits, reason == "model"),
        "random": random_picks,
        "officer": picked_rate(hits, reason == OFFICER),
        "estimated_rate": None if estimate is None else estimate.rate,
        "estimated_rate_se": None if estimate is None else estimate.standard_error,
        "declarations": population,
        "inspections": len(frame),
    }


def _population(frame: pd.DataFrame, declarations: Mapping[tuple[str, date], int]) -> int:
    """Declarations lodged at the office-days that have inspections with known probability:
    the population their probabilities were drawn from (officers' additions are none)."""
    probability = frame["selection_probability"].to_numpy(dtype=float)
    reason = frame["selection_reason"].to_numpy(dtype=object)
    known = frame[np.isfinite(probability) & (reason != OFFICER)]
    days = set(zip(known["office_id"], known["day"], strict=True))
    return sum(declarations.get(day, 0) for day in days)


def _state(
    threat: str,
    window: Mapping[str, Any],
    weeks: Sequence[Mapping[str, Any]],
    settings: PerformanceSettings,
) -> tuple[str, list[str]]:
    model, random_picks = window["model"], window["random"]
    alerts: list[str] = []
    judged = False
    enough = (
        random_picks["n"] >= settings.min_random_picks and model["n"] >= settings.min_model_picks
    )
    # No hit on either side says nothing of which side picks better (a rare threat, early on).
    if enough and model["hits"] + random_picks["hits"] > 0:
        judged = True
        upper = random_picks["interval"][1]
        if model["rate"] <= upper:
            alerts.append(
                f"{threat}: model picks hit {model['rate']:.1%} of {model['n']}, not above "
                f"random picks ({random_picks['rate']:.1%} of {random_picks['n']}, 95% "
                f"interval up to {upper:.1%})"
            )
    if len(weeks) >= 2:
        last = weeks[-1]["model"]
        earlier_n = sum(w["model"]["n"] for w in weeks[:-1])
        earlier_hits = sum(w["model"]["hits"] for w in weeks[:-1])
        if earlier_n >= settings.min_model_picks and last["n"] >= settings.min_model_picks:
            judged = True
            before = earlier_hits / earlier_n
            if before > 0 and last["rate"] < before * (1.0 - settings.hit_rate_drop):
                alerts.append(
                    f"{threat}: model-pick hit rate fell from {before:.1%} to "
                    f"{last['rate']:.1%} in the week of {weeks[-1]['week']} (more than "
                    f"{settings.hit_rate_drop:.0%})"
                )
    if alerts:
        return ALERT, alerts
    return (OK if judged else INSUFFICIENT), alerts


def performance_summary(
    outcomes: pd.DataFrame,
    declarations: Mapping[tuple[str, date], int],
    *,
    settings: PerformanceSettings,
    threats: Sequence[str] = OUTCOME_THREATS,
    computed_at: datetime | None = None,
) -> dict[str, Any]:
    """Hit rates per threat and week, window totals and alert states (JSON-ready).

    Args:
        outcomes: one row per inspected declaration: ``declaration_id``, ``office_id``, ``day``
            (UTC lodging day), ``selection_reason``, ``selection_probability`` (of the draw it
            followed; NaN unknown) and the outcome flags (``weapons_found``, ``migrants_found``,
            ``revenue_irregularity``) as `performance.performance_outcomes` reads them.
        declarations: declarations scored per (office, lodging day): the populations.
    """
    at = computed_at or datetime.now(UTC)
    frame = outcomes.copy()
    frame["week"] = [week_of(day) for day in frame["day"]]
    weeks = sorted(set(frame["week"]))[-settings.weeks :]
    frame = frame[frame["week"].isin(weeks)].reset_index(drop=True)
    flags = {name: flag.to_numpy(dtype=bool) for name, flag in outcome_threat_flags(frame).items()}
    by_week = {week: frame.index[frame["week"] == week].to_numpy() for week in weeks}
    window_population = _population(frame, declarations)
    result: dict[str, Any] = {}
    alerts: list[str] = []
    for threat in threats:
        hits = flags[threat]
        weekly = []
        for week, rows in by_week.items():
            part = frame.iloc[rows]
            weekly.append(
                {
                    "week": week.isoformat(),
                    **_figures(part, hits[rows], _population(part, declarations)),
                }
            )
        window = _figures(frame, hits, window_population)
        state, messages = _state(threat, window, weekly, settings)
        alerts.extend(messages)
        result[threat] = {"state": state, "alerts": messages, "window": window, "weeks": weekly}
    return {
        "computed_at": at.isoformat(),
        "window": {
            "start": weeks[0].isoformat() if weeks else None,
            "end": (weeks[-1] + timedelta(days=6)).isoformat() if weeks else None,
            "weeks": len(weeks),
        },
        "settings": asdict(settings),
        "inspections": len(frame),
        "threats": result,
        "alerts": alerts,
    }


def performance_check(
    store: Store, settings: PerformanceSettings, *, now: datetime | None = None
) -> dict[str, Any]:
    """Compute the figures from the stored outcomes and keep them; returns the summary."""
    with store.transaction() as session:
        outcomes, declarations = performance.performance_outcomes(session, weeks=settings.weeks)
    summary = performance_summary(outcomes, declarations, settings=settings, computed_at=now)
    with store.transaction() as session:
        performance.record_performance_report(session, summary, created_at=now)
    return summary


def latest_performance(store: Store) -> dict[str, Any] | None:
    """The newest performance figures, or None before the first computation."""
    with store.transaction() as session:
        report = performance.latest_performance_report(session)
        return None if report is None else dict(report.summary)


def show_newest(store: Store, metrics: ServiceMetrics) -> None:
    """Point the /metrics gauges at the newest stored report: one look-up of its id per
    scrape, the figures read only when a newer report exists (from any worker)."""
    with store.transaction() as session:
        newest = performance.latest_performance_report_id(session)
        if newest is None or newest == metrics.performance_report:
            return
        report = performance.latest_performance_report(session)
        if report is not None:
            metrics.show_performance(report.id, report.summary)


class PerformanceMonitor:
    """Recomputes the figures after outcome writes, at most once per ``refresh_seconds``.

    `outcomes_recorded` (called once a POST /v1/outcomes committed) schedules one computation
    in a timer thread; writes that arrive meanwhile join it. `stop` cancels what is pending.
    """

    def __init__(self, settings: PerformanceSettings, *, refresh_seconds: float = 60.0) -> None:
        self.settings = settings
        self.refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None  # the computation not started yet
        self._started: threading.Timer | None = None  # the newest computation scheduled
        self._last = -float("inf")
        self._store: Store | None = None

    def outcomes_recorded(self, store: Store) -> None:
        """Outcomes were written to ``store``: refresh the figures soon."""
        with self._lock:
            self._store = store
            if self._timer is not None:
                return
            delay = max(0.0, self._last + self.refresh_seconds - time.monotonic())
            self._timer = self._started = threading.Timer(delay, self._run)
            self._timer.daemon = True
            self._timer.start()

    def _run(self) -> None:
        with self._lock:
            store, self._timer = self._store, None
            self._last = time.monotonic()
        if store is None:
            return
        try:
            performance_check(store, self.settings)
        except Exception:  # monitoring must never take the service down; the log says why
            log.exception("performance monitoring failed")

    def flush(self, timeout: float = 10.0) -> None:
        """Wait for the newest scheduled computation to finish (tests, shutdown)."""
        with self._lock:
            timer = self._started
        if timer is not None:
            timer.join(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel a pending computation and wait for a running one (before the store closes)."""
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        self.flush(timeout)
