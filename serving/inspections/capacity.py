"""An office's inspection capacity, and its lane thresholds refitted from its recent scores.

PUT /v1/offices/{office_id}/capacity: a risk manager says how many declarations the office
can examine a day (and check on documents); the red and yellow thresholds on the overall
risk are refitted from the office's recent stored scores, so that the model's lanes match
that capacity from the next score on, without a retrain (`serving.scoring.lanes`).

Lane order as in ASYCUDA's MODSEL: risk profiles first, then the random share, then the
model fills the capacity. So the fit counts, per lodging day of the window, the declarations
risk profiles sent red or yellow and the exploration picks (capacity x exploration share),
and sets the thresholds on the other declarations' risks so that the model sends what is left
of the capacity to each lane (`fit_office_lanes`: quantiles, as `models.lanes` fits them).

Only the scores of the model serving now are used, and the thresholds apply only while it
serves: they are quantiles of its risks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from models.lanes import thresholds_for
from serving.base import LoadedModel, ModelRef
from serving.inspections.schemas import (
    CapacityRequest,
    LaneFit,
    OfficeCapacity,
    Thresholds,
)
from serving.store import offices
from serving.store.database import Store
from serving.store.tables import OfficeLanes, ScoredDeclaration

# As `models.lanes.LanePolicy`'s min_office_rows: fewer scores give thresholds that move with
# every declaration.
MIN_FIT_SCORES = 200


class TooFewScores(ValueError):
    """Not enough recent scores of the serving model at the office to fit thresholds."""

    def __init__(self, office_id: str, found: int, needed: int, window_days: int) -> None:
        super().__init__(
            f"office {office_id} has {found} declarations scored by the serving model and "
            f"lodged in the last {window_days} days; at least {needed} are needed to fit its "
            "lane thresholds: score more of its declarations, or widen window_days"
        )
        self.found = found
        self.needed = needed


@dataclass(frozen=True)
class ScoredLane:
    """What the fit reads of one stored score."""

    overall: float
    lane: str
    lodged_day: object
    profile_selected: bool  # a risk profile's action selected it (its lane is the profile's)


def scored_lane(row: ScoredDeclaration) -> ScoredLane:
    """The fit's view of a stored score."""
    selected = any(
        reason.get("kind") == "profile" and float(reason.get("value") or 0.0) >= 1.0
        for reason in row.reasons
    )
    return ScoredLane(float(row.overall), row.lane, row.lodged_day, selected)


@dataclass(frozen=True)
class FittedLanes:
    """Thresholds and the figures they came from."""

    red: float
    yellow: float
    figures: dict[str, float | int]


def fit_office_lanes(
    rows: Sequence[ScoredLane],
    *,
    capacity: int,
    yellow_capacity: float,
    exploration_share: float,
) -> FittedLanes:
    """Red and yellow thresholds for the declarations no profile took, sized by what is left
    of the daily capacities after the profiles' lanes and (red) the exploration picks.

    Args:
        rows: the office's recent scores (at least one).
        capacity: physical inspections a day.
        yellow_capacity: documentary checks a day.
        exploration_share: the share of the capacity worklists give to random picks.
    """
    days = len({row.lodged_day for row in rows})
    pool = [row.overall for row in rows if not row.profile_selected]
    profile_red = sum(row.profile_selected and row.lane == "red" for row in rows) / days
    profile_yellow = sum(row.profile_selected and row.lane == "yellow" for row in rows) / days
    exploration = capacity * exploration_share
    per_day = len(pool) / days
    red_share = yellow_share = 0.0
    if per_day > 0:
        red_share = min(1.0, max(0.0, capacity - profile_red - exploration) / per_day)
        yellow_share = min(1.0 - red_share, max(0.0, yellow_capacity - profile_yellow) / per_day)
    thresholds = (
        thresholds_for(pool, red_share, yellow_share)
        if pool
        else {"red": float("inf"), "yellow": float("inf")}
    )
    return FittedLanes(
        thresholds["red"],
        thresholds["yellow"],
        {
            "scores": len(rows),
            "days": days,
            "declarations_per_day": len(rows) / days,
            "profile_red_per_day": profile_red,
            "profile_yellow_per_day": profile_yellow,
            "exploration_per_day": exploration,
            "red_share": red_share,
            "yellow_share": yellow_share,
        },
    )


def office_capacity(row: OfficeLanes, serving: LoadedModel | None) -> OfficeCapacity:
    """A stored setting as answered; in force when ``serving`` is the model it was fitted for."""
    return OfficeCapacity(
        office_id=row.office_id,
        capacity=row.capacity,
        yellow_capacity=row.yellow_capacity,
        thresholds=Thresholds(red=row.red_threshold, yellow=row.yellow_threshold),
        model=ModelRef(name=row.model_name, version=row.model_version),
        in_force=serving is not None
        and (serving.name, serving.version) == (row.model_name, row.model_version),
        fit=LaneFit.model_validate(row.fit),
        set_by=row.set_by,
        set_at=row.set_at,
    )


def current_capacity(
    store: Store, office_id: str, serving: LoadedModel | None
) -> OfficeCapacity | None:
    """The office's setting in force (None: its capacity was never set)."""
    with store.sessions() as session:
        row = offices.current_office_lanes(session, office_id)
        return None if row is None else office_capacity(row, serving)


@dataclass(frozen=True)
class PlannedCapacity:
    """The setting to answer with, and the write that stores it (for the request's record)."""

    answer: OfficeCapacity
    write: Callable[[Session], object]


def plan_capacity(
    store: Store,
    office_id: str,
    request: CapacityRequest,
    *,
    model: LoadedModel,
    exploration_share: float,
    by: str,
    now: datetime | None = None,
    min_scores: int = MIN_FIT_SCORES,
) -> PlannedCapacity:
    """Refit the office's thresholds from its recent scores by ``model``; the write that
    appends the setting (the route leaves it to its consultation record's transaction).

    Raises:
        TooFewScores: fewer than ``min_scores`` scores in the window.
    """
    at = now or datetime.now(UTC)
    last_day = at.date()
    first_day = last_day - timedelta(days=request.window_days - 1)
    with store.sessions() as session:
        stored = offices.recent_scores(
            session, office_id, first_day, last_day, (model.name, model.version)
        )
        rows = [scored_lane(row) for row in stored]
    if len(rows) < max(1, min_scores):
        raise TooFewScores(office_id, len(rows), max(1, min_scores), request.window_days)
    yellow = request.yellow_capacity
    if yellow is None:  # the model's own yellow share of the office's declarations
        days = len({row.lodged_day for row in rows})
        yellow_capacity = model.bundle.lanes.capacity(office_id)[1] * len(rows) / days
    else:
        yellow_capacity = float(yellow)
    fitted = fit_office_lanes(
        rows,
        capacity=request.capacity,
        yellow_capacity=yellow_capacity,
        exploration_share=exploration_share,
    )

    def setting() -> OfficeLanes:  # a new object per write: a write may be tried again
        return OfficeLanes(
            office_id=office_id,
            capacity=request.capacity,
            yellow_capacity=yellow,
            red_threshold=offices.stored_threshold(fitted.red),
            yellow_threshold=offices.stored_threshold(fitted.yellow),
            model_name=model.name,
            model_version=model.version,
            fit={
                "first_day": first_day.isoformat(),
                "last_day": last_day.isoformat(),
                **fitted.figures,
            },
            set_by=by,
            set_at=at,
        )

    def write(session: Session) -> None:
        offices.add_office_lanes(session, setting())

    return PlannedCapacity(office_capacity(setting(), model), write)
