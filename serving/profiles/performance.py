"""How well a risk profile selects: its matches, inspections, hits and waivers per period,
beside the model's picks and the random picks of the same period (GAO-15-294: CBP never
assessed its rules' results).

Per period of lodging (an ISO week, Monday to Sunday, or a calendar month; UTC days):

- matches: declarations lodged in the period whose scoring carried the profile's reason (any
  scoring: a declaration scored twice counts once); selected: those its action picked (all,
  unless a share was not drawn);
- inspections: matched declarations with a recorded outcome; hits: those found positive for
  the profile's threat (``weapons``, ``migrants``, ``revenue`` from the outcome's flags; any
  other threat: an ``irregular`` result); the hit rate with its 95% Wilson interval;
- waivers: picks of the profile that officers waived;
- the model's picks and the random picks of the same period, for the same threat, at the
  offices the profile is limited to (every office when it is not): the hit rates the service
  monitor shows (`models.estimates.picked_rate_interval`, one way for all of them).

A caller limited to some offices (an officer's remit) sees only what was lodged there.

Cost of one call: two reads, none per declaration. (1) The scorings lodged in the window whose
reasons' JSON text names the profile: the database scans the window's rows of
``scored_declarations`` (reasons are not indexed) and returns only those rows, which one pass
in Python checks; (2) the outcomes of declarations lodged in the window, one per inspected
declaration (`performance.inspected_declarations`: one query, and one per 500 declarations for
their worklist picks). Then one vectorised pass per period over those rows.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, timedelta
from typing import Literal

import numpy as np
from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from features.dataset import outcome_threat_flags
from features.profiles import RiskProfile
from models.estimates import picked_rate_interval
from serving.profiles.schemas import HitRate, PeriodPerformance, ProfilePerformance
from serving.store import performance
from serving.store.tables import ScoredDeclaration
from serving.store.waivers import waiver_counts

Period = Literal["week", "month"]
PERIODS: tuple[Period, ...] = ("week", "month")
DEFAULT_PERIODS = (
    13  # periods shown when no ``since`` is given: a quarter of weeks, a year of months
)
MAX_PERIODS = 520  # ten years of weeks
EARLIEST, LATEST = date(1970, 1, 1), date(2999, 12, 31)  # the days a window may name


class WindowInvalid(ValueError):
    """A window that cannot be shown: the parameter at fault and why."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


def period_start(day: date, period: Period) -> date:
    """The first day of the period holding ``day``: its week's Monday, or its month's 1st."""
    if period == "week":  # the ISO week, as the service monitor counts weeks
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def next_period(start: date, period: Period) -> date:
    """The first day of the period after the one starting ``start``."""
    if period == "week":
        return start + timedelta(days=7)
    return date(start.year + start.month // 12, start.month % 12 + 1, 1)


def _earlier(start: date, period: Period, count: int) -> date:
    """The start of the period ``count`` periods before the one starting ``start``."""
    if period == "week":
        return start - timedelta(days=7 * count)
    months = start.year * 12 + start.month - 1 - count
    return date(months // 12, months % 12 + 1, 1)


def period_starts(since: date, until: date, period: Period) -> list[date]:
    """The starts of every period from the one holding ``since`` to the one holding ``until``."""
    starts, start = [], period_start(since, period)
    while start <= until:
        starts.append(start)
        start = next_period(start, period)
    return starts


def period_count(since: date, until: date, period: Period) -> int:
    """How many periods hold the days ``since`` to ``until`` (counted, not listed)."""
    first, last = period_start(since, period), period_start(until, period)
    if period == "week":
        return (last - first).days // 7 + 1
    return (last.year - first.year) * 12 + last.month - first.month + 1


def window(
    period: Period, since: date | None, until: date | None, *, today: date | None = None
) -> tuple[date, date]:
    """The lodging days asked for: ``until`` defaults to today (UTC), ``since`` to the start
    of the period ``DEFAULT_PERIODS - 1`` periods before the one holding ``until``.

    Raises:
        WindowInvalid: a day outside ``EARLIEST`` to ``LATEST``, ``since`` after ``until``,
            or more than ``MAX_PERIODS`` periods.
    """
    for name, day in (("since", since), ("until", until)):
        if day is not None and not EARLIEST <= day <= LATEST:
            raise WindowInvalid(name, f"{name} must lie between {EARLIEST} and {LATEST}")
    last = until or today or datetime.now(UTC).date()
    first = since or _earlier(period_start(last, period), period, DEFAULT_PERIODS - 1)
    if first > last:
        raise WindowInvalid("since", f"since ({first}) is after until ({last})")
    if period_count(first, last, period) > MAX_PERIODS:
        raise WindowInvalid("since", f"more than {MAX_PERIODS} {period}s: ask for a shorter window")
    return first, last


def matched_declarations(
    session: Session,
    profile_id: str,
    since: date,
    until: date,
    offices: Collection[str] | None = None,
) -> dict[str, tuple[date, bool]]:
    """Declaration id -> (UTC lodging day, selected) of every declaration lodged from
    ``since`` to ``until`` that a scoring matched with the profile (selected: any scoring's
    reason says the action picked it). One query; the database keeps only the rows whose
    reasons' text names the id, and each is checked here."""
    query = select(
        ScoredDeclaration.declaration_id, ScoredDeclaration.lodged_day, ScoredDeclaration.reasons
    ).where(
        ScoredDeclaration.lodged_day >= since,
        ScoredDeclaration.lodged_day <= until,
        cast(ScoredDeclaration.reasons, Text).contains(f'"{profile_id}"', autoescape=True),
    )
    if offices is not None:
        query = query.where(ScoredDeclaration.office_id.in_(sorted(offices)))
    found: dict[str, tuple[date, bool]] = {}
    for declaration_id, day, reasons in session.execute(query):
        matched = [
            reason
            for reason in reasons or []
            if isinstance(reason, dict)
            and reason.get("kind") == "profile"
            and reason.get("profile_id") == profile_id
        ]
        if not matched:
            continue
        selected = any(float(reason.get("value") or 0.0) > 0.0 for reason in matched)
        earlier = found.get(declaration_id)
        found[declaration_id] = (day, selected or (earlier is not None and earlier[1]))
    return found


def _waivers(
    session: Session, profile_id: str, since: date, until: date, period: Period
) -> dict[date, int]:
    """Waivers of the profile's selections per period start, by the day each waiver was
    recorded (`serving.store.waivers.waiver_counts`; an officer waives on the day of the
    check, so that is the lodging day's period but for a waiver recorded across a period's
    end)."""
    counts = waiver_counts(
        session, profile_id=profile_id, since=since, until=until + timedelta(days=1), period=period
    )
    return counts.get(profile_id, {})


def _compared_offices(profile: RiskProfile, remit: Collection[str] | None) -> list[str] | None:
    """Where the picks compared with the profile's were made: the profile's offices within
    the caller's remit (None: every office)."""
    if not profile.offices:
        return None if remit is None else sorted(remit)
    return sorted(o for o in profile.offices if remit is None or o in remit)


def profile_performance(
    session: Session,
    profile: RiskProfile,
    *,
    period: Period = "week",
    since: date,
    until: date,
    remit: Collection[str] | None = None,
) -> ProfilePerformance:
    """The profile's figures per period from ``since`` to ``until`` (lodging days, UTC), and
    over the whole window (see the module docstring for what each counts and what it costs).

    Args:
        remit: the offices the caller may see (None: every office).
    """
    matched = matched_declarations(session, profile.id, since, until, remit)
    inspected = performance.inspected_declarations(session, since, until)
    flags = {
        name: flag.to_numpy(dtype=bool) for name, flag in outcome_threat_flags(inspected).items()
    }
    hits = flags.get(profile.threat, inspected["irregular"].to_numpy(dtype=bool))
    offices = _compared_offices(profile, remit)
    at_offices = (
        np.ones(len(inspected), dtype=bool)
        if offices is None
        else inspected["office_id"].isin(offices).to_numpy(dtype=bool)
    )
    reason = inspected["selection_reason"].to_numpy(dtype=object)
    of_profile = inspected["declaration_id"].isin(list(matched)).to_numpy(dtype=bool)
    inspected_period = np.array(
        [period_start(day, period) for day in inspected["day"]], dtype=object
    )
    matches_by: dict[date, list[int]] = {}
    for day, selected in matched.values():
        counts = matches_by.setdefault(period_start(day, period), [0, 0])
        counts[0] += 1
        counts[1] += int(selected)
    waivers = _waivers(session, profile.id, since, until, period)

    def figures(
        start: date, end: date, rows: np.ndarray, counted: list[int], waived: int
    ) -> PeriodPerformance:
        own = picked_rate_interval(hits, rows & of_profile)
        return PeriodPerformance(
            start=start,
            end=end,
            matches=counted[0],
            selected=counted[1],
            inspections=own["n"],
            hits=own["hits"],
            waivers=waived,
            hit_rate=own["rate"],
            interval=own["interval"],
            model=HitRate(**picked_rate_interval(hits, rows & at_offices & (reason == "model"))),
            random=HitRate(**picked_rate_interval(hits, rows & at_offices & (reason == "random"))),
        )

    periods = []
    for start in period_starts(since, until, period):
        end = min(next_period(start, period) - timedelta(days=1), until)
        periods.append(
            figures(
                max(start, since),
                end,
                inspected_period == start,
                matches_by.get(start, [0, 0]),
                waivers.get(start, 0),
            )
        )
    total = figures(
        since,
        until,
        np.ones(len(inspected), dtype=bool),
        [sum(p.matches for p in periods), sum(p.selected for p in periods)],
        sum(waivers.values()),
    )
    return ProfilePerformance(
        profile_id=profile.id,
        title=profile.title,
        threat=profile.threat,
        period=period,
        since=since,
        until=until,
        offices=offices,
        periods=periods,
        total=total,
    )
