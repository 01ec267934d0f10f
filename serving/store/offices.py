"""Each office's inspection capacity and lane thresholds in the store, read live by scoring.

``office_lanes`` keeps every setting a risk manager made (PUT /v1/offices/{id}/capacity):
append-only, the newest row per office in force. Functions here never commit: the caller's
transaction (the route's consultation record) does.

`office_thresholds` is what every scoring batch calls, as `serving.store.profiles`'s
`profiles_in_force` is: it compares the greatest row id with the one it last read, and only
when some process set a capacity since, reads the newest row per office again, kept per open
store. So every serving process lanes the next declaration with the thresholds just set,
without a retrain. A batch reads both greatest ids in one query (`live_versions`), so
office lanes add no round trip to scoring.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from serving.store.database import Store
from serving.store.live_cache import PerStore
from serving.store.scores import newest_scorings
from serving.store.tables import (
    OfficeLanes,
    RiskProfileRevision,
    ScoredDeclaration,
)

_LATEST = select(func.max(OfficeLanes.id))
_VERSIONS = select(
    select(func.max(RiskProfileRevision.id)).scalar_subquery(), _LATEST.scalar_subquery()
)


@dataclass(frozen=True)
class LiveVersions:
    """The greatest ids of the live settings a scoring batch reads: each moves on a change."""

    profiles: int  # risk profile revisions (`serving.store.profiles.profiles_in_force`)
    offices: int  # office lanes (`office_thresholds`)


def live_versions(store: Store) -> LiveVersions:
    """Both greatest ids in one query on a bare connection (no ORM session per batch)."""
    with store.engine.connect() as connection:
        profiles, lanes = connection.execute(_VERSIONS).one()
    return LiveVersions(int(profiles or 0), int(lanes or 0))


@dataclass(frozen=True)
class OfficeThresholds:
    """The thresholds in force at one office, and the model whose risks they cut."""

    red: float  # +inf: nobody
    yellow: float
    model_name: str
    model_version: str


def _threshold(value: float | None) -> float:
    return math.inf if value is None else float(value)


def stored_threshold(value: float) -> float | None:
    """A threshold as the table keeps it: None for an infinite one (the lane takes nobody)."""
    return None if math.isinf(value) else float(value)


def add_office_lanes(session: Session, row: OfficeLanes) -> OfficeLanes:
    """Append one office setting (the newest is in force from the commit on)."""
    session.add(row)
    session.flush()
    return row


def current_office_lanes(session: Session, office_id: str) -> OfficeLanes | None:
    """The newest setting of an office, None when its capacity was never set."""
    return session.scalars(
        select(OfficeLanes)
        .where(OfficeLanes.office_id == office_id)
        .order_by(OfficeLanes.id.desc())
        .limit(1)
    ).first()


def newest_office_lanes(session: Session) -> list[OfficeLanes]:
    """The newest setting of every office that has one."""
    newest = select(func.max(OfficeLanes.id)).group_by(OfficeLanes.office_id)
    return list(session.scalars(select(OfficeLanes).where(OfficeLanes.id.in_(newest))))


def recent_scores(
    session: Session, office_id: str, first_day: date, last_day: date, model: tuple[str, str]
) -> list[ScoredDeclaration]:
    """The newest scoring by ``model`` (name, version) of each declaration lodged at the office
    from ``first_day`` to ``last_day`` (UTC days, inclusive): what its thresholds are refit on.

    Only declarations whose recorded lodging is at the office, as worklists read them.
    """
    name, version = model
    return newest_scorings(
        session,
        ScoredDeclaration.office_id == office_id,
        ScoredDeclaration.lodged_day >= first_day,
        ScoredDeclaration.lodged_day <= last_day,
        ScoredDeclaration.model_name == name,
        ScoredDeclaration.model_version == version,
        lodged_at=office_id,
    )


# Open store -> its offices' thresholds, by the greatest setting id they were read at.
_CACHE: PerStore[dict[str, OfficeThresholds]] = PerStore()


def office_thresholds(
    store: Store, *, version: int | None = None
) -> Mapping[str, OfficeThresholds]:
    """The thresholds in force per office, read again only when a setting was added since
    the last call (by any process); ``version``: the greatest id, when the batch read it
    already (`live_versions`)."""
    _, cached = _CACHE.lookup(store, version, _LATEST)
    if cached is not None:
        return cached
    with store.sessions() as session:  # changed: the rows and their id, read together
        version = int(session.scalar(_LATEST) or 0)
        rows = newest_office_lanes(session)
    thresholds = {
        row.office_id: OfficeThresholds(
            _threshold(row.red_threshold),
            _threshold(row.yellow_threshold),
            row.model_name,
            row.model_version,
        )
        for row in rows
    }
    _CACHE.put(store, version, thresholds)
    return thresholds
