"""Waivers and officers' additions in the store: what selected a declaration, the decisions
taken against that selection, and their counts.

A declaration is *selected* when its newest score put it in the red lane, a risk profile
selected it (a reason of kind ``profile`` whose value is 1: a share that was not drawn keeps
its reason with value 0), or a worklist draw picked it (`WorklistSelection`). Only a selected
declaration may be waived; only one nothing selected may be added. Functions here never
commit: the caller's transaction (the route's consultation record) does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from serving.store import scores, worklists
from serving.store.rows import declaration_rows
from serving.store.tables import InspectionOverride

WAIVER, ADDITION = "waiver", "addition"
PROFILE_PICK_PREFIX = "profile:"  # a worklist pick a profile made mandatory: profile:<id>
Period = Literal["day", "week", "month"]
PERIODS: tuple[str, ...] = ("day", "week", "month")


@dataclass(frozen=True)
class Selection:
    """What selected a declaration for inspection, as the store knows it now."""

    declaration_id: str
    office_id: str
    score_id: int
    lane: str
    profile_ids: tuple[str, ...] = ()  # profiles that selected it, in the score's order
    draw_id: int | None = None  # the newest worklist draw that picked it
    pick_reason: str | None = None
    selection_probability: float | None = None

    @property
    def selected(self) -> bool:
        """Whether anything made it a pick: the red lane, a profile, or a worklist draw."""
        return self.lane == "red" or bool(self.profile_ids) or self.draw_id is not None


def selecting_profiles(reasons: Iterable[Any]) -> list[str]:
    """The profiles that selected a declaration, from its stored reasons (a profile share
    that was not drawn keeps its reason with value 0 and did not select it)."""
    found: list[str] = []
    for reason in reasons:
        if not isinstance(reason, dict) or reason.get("kind") != "profile":
            continue
        value, profile_id = reason.get("value"), reason.get("profile_id")
        if isinstance(value, int | float) and value >= 1.0 and profile_id:
            found.append(str(profile_id))
    return list(dict.fromkeys(found))


def current_selection(session: Session, declaration_id: str) -> Selection | None:
    """What selects the declaration now (its newest score and worklist picks); None when it
    was never scored."""
    latest = scores.latest_scores(session, [declaration_id]).get(declaration_id)
    if latest is None:
        return None
    office = scores.lodged_offices(session, [declaration_id]).get(declaration_id, latest.office_id)
    profiles = selecting_profiles(latest.reasons)
    picks = worklists.worklist_picks(session, [declaration_id]).get(declaration_id, [])
    pick = picks[-1] if picks else None  # the newest draw's
    if pick is not None and pick.reason.startswith(PROFILE_PICK_PREFIX):
        profiles = list(dict.fromkeys([*profiles, pick.reason[len(PROFILE_PICK_PREFIX) :]]))
    return Selection(
        declaration_id=declaration_id,
        office_id=office,
        score_id=latest.id,
        lane=latest.lane,
        profile_ids=tuple(profiles),
        draw_id=None if pick is None else pick.run_id,
        pick_reason=None if pick is None else pick.reason,
        selection_probability=None if pick is None else pick.selection_probability,
    )


def overrides_of(session: Session, declaration_id: str) -> list[InspectionOverride]:
    """The waiver and the addition of a declaration, oldest first."""
    return declaration_rows(session, InspectionOverride, declaration_id, InspectionOverride.id)


class OverrideConflict(Exception):
    """A decision the declaration already has (waived twice, added twice)."""


def add_override(session: Session, override: InspectionOverride) -> InspectionOverride:
    """Store a waiver or an addition; `OverrideConflict` when the declaration already has
    one of that kind (checked first, and by the table's unique key against a concurrent
    writer). After a conflict the caller's transaction must be rolled back: no savepoint is
    used, since on SQLite releasing one outside an explicit BEGIN commits."""
    taken = session.scalar(
        select(InspectionOverride.id).where(
            InspectionOverride.declaration_id == override.declaration_id,
            InspectionOverride.action == override.action,
        )
    )
    if taken is not None:
        raise OverrideConflict(f"this declaration already has a {override.action}")
    session.add(override)
    try:
        session.flush([override])
    except IntegrityError:
        raise OverrideConflict(f"this declaration already has a {override.action}") from None
    return override


def added_declarations(session: Session, declaration_ids: Collection[str]) -> set[str]:
    """Which of the declarations an officer added for inspection."""
    ids = sorted(set(declaration_ids))
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        found.update(
            session.scalars(
                select(InspectionOverride.declaration_id).where(
                    InspectionOverride.action == ADDITION,
                    InspectionOverride.declaration_id.in_(ids[start : start + 500]),
                )
            )
        )
    return found


# -- counts ------------------------------------------------------------------------------------


def period_start(moment: datetime, period: str) -> date:
    """The first day of the period (UTC) a moment falls in: the day, the Monday of its ISO
    week, or the first of its month."""
    day = moment.astimezone(UTC).date()
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    raise ValueError(f"period must be one of {', '.join(PERIODS)}, got {period!r}")


def _moment(value: date | datetime | None) -> datetime | None:
    """A bound as a UTC moment: a date alone is its midnight, UTC."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.combine(value, time.min, tzinfo=UTC)


def _decisions(
    session: Session,
    *,
    action: str | None = None,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
    offices: Collection[str] | None = None,
) -> list[InspectionOverride]:
    query = select(InspectionOverride).order_by(InspectionOverride.recorded_at)
    if action is not None:
        query = query.where(InspectionOverride.action == action)
    if (start := _moment(since)) is not None:
        query = query.where(InspectionOverride.recorded_at >= start)
    if (end := _moment(until)) is not None:
        query = query.where(InspectionOverride.recorded_at < end)
    if offices is not None:
        query = query.where(InspectionOverride.office_id.in_(sorted(offices)))
    return list(session.scalars(query))


def waiver_counts(
    session: Session,
    *,
    profile_id: str | None = None,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
    period: str = "week",
) -> dict[str, dict[date, int]]:
    """Waivers of profile selections: profile id -> period start -> waivers recorded then.

    A waiver counts once for every profile that had selected its declaration; waivers of
    declarations no profile selected (the model's red lane, a worklist pick) are left out.
    ``since`` is inclusive and ``until`` exclusive, on the moment the waiver was recorded (a
    date alone is its midnight UTC); ``period`` is day, week (from Monday) or month.
    """
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, got {period!r}")
    counts: dict[str, Counter[date]] = {}
    for waiver in _decisions(session, action=WAIVER, since=since, until=until):
        start = period_start(waiver.recorded_at, period)
        for selecting in dict.fromkeys(waiver.profile_ids or []):
            if profile_id is None or selecting == profile_id:
                counts.setdefault(str(selecting), Counter())[start] += 1
    return {key: dict(sorted(by_period.items())) for key, by_period in sorted(counts.items())}


@dataclass
class OverrideCounts:
    """Waivers and additions of a window, counted by office, code, profile and period."""

    waivers: int = 0
    additions: int = 0
    by_office: dict[str, Counter[str]] = field(default_factory=dict)  # office -> action -> n
    by_code: Counter[str] = field(default_factory=Counter)  # waivers per code
    by_profile: Counter[str] = field(default_factory=Counter)  # waivers per selecting profile
    by_pick: Counter[str] = field(default_factory=Counter)  # waivers per what selected it
    by_period: dict[date, Counter[str]] = field(default_factory=dict)  # start -> action -> n


def waived_pick(override: InspectionOverride) -> str:
    """What had selected a waived declaration, in one word: profile, rule, model, random
    (its worklist pick's reason) or red_lane."""
    if override.profile_ids:
        return "profile"
    if override.pick_reason:
        return override.pick_reason.split(":", 1)[0]
    return "red_lane"


def override_counts(
    session: Session,
    *,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
    period: str = "week",
    offices: Collection[str] | None = None,
    profile_id: str | None = None,
) -> OverrideCounts:
    """Every count a risk manager reviews, for the offices given (None: all of them).

    With ``profile_id``, only waivers of that profile's selections count (additions, which
    no profile made, then count none).
    """
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, got {period!r}")
    counts = OverrideCounts()
    for decision in _decisions(session, since=since, until=until, offices=offices):
        profiles = list(dict.fromkeys(decision.profile_ids or []))
        if profile_id is not None and profile_id not in profiles:
            continue
        action = decision.action
        counts.by_office.setdefault(decision.office_id, Counter())[action] += 1
        start = period_start(decision.recorded_at, period)
        counts.by_period.setdefault(start, Counter())[action] += 1
        if action == ADDITION:
            counts.additions += 1
            continue
        counts.waivers += 1
        counts.by_code[decision.code or ""] += 1
        counts.by_pick[waived_pick(decision)] += 1
        for selecting in profiles:
            if profile_id is None or selecting == profile_id:
                counts.by_profile[selecting] += 1
    return counts
