"""Risk profiles in the store: revisions appended, never changed; the set in force read live.

Every change of a profile (created, revised, expired) is a new row of
``risk_profile_revisions`` holding who, when and the full content; ``risk_profiles`` names
each profile's newest revision number, and moving that number is how two concurrent writers
of one profile are told apart (`ProfileConflict`). Functions here never commit: the caller's
transaction (a route's consultation record, or the CLI's) does.

`profiles_in_force` is what every scoring batch calls: one small query for the greatest
revision id, and only when another process (or this one) changed a profile since, one read
of the newest revisions, compiled into a `features.profiles.ProfileSet` kept per open store.
Validity windows are applied at match time, so a profile expires by the clock without a
re-read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from features.profiles import ProfileSet, RiskProfile
from serving.store.database import Store
from serving.store.live_cache import PerStore
from serving.store.tables import RiskProfileRevision, RiskProfileRow

CHANGES = ("created", "revised", "expired")


class ProfileConflict(Exception):
    """A write that does not fit the stored profile: a new id already taken, or a revision
    of a profile that is unknown or was revised meanwhile."""

    def __init__(self, profile_id: str, message: str, *, unknown: bool = False) -> None:
        super().__init__(f"{profile_id}: {message}")
        self.profile_id = profile_id
        self.unknown = unknown


_LATEST = select(func.max(RiskProfileRevision.id))


def latest_revision_id(session: Session) -> int:
    """The greatest revision id (0 with no profile): changes whenever any profile does."""
    return int(session.scalar(_LATEST) or 0)


def newest_revisions(session: Session) -> list[RiskProfileRevision]:
    """The newest revision of every profile, by profile id."""
    query = (
        select(RiskProfileRevision)
        .join(
            RiskProfileRow,
            (RiskProfileRow.id == RiskProfileRevision.profile_id)
            & (RiskProfileRow.revision == RiskProfileRevision.revision),
        )
        .order_by(RiskProfileRevision.profile_id)
    )
    return list(session.scalars(query))


def profile_revisions(session: Session, profile_id: str) -> list[RiskProfileRevision]:
    """Every revision of one profile, oldest first (empty for an unknown id)."""
    query = (
        select(RiskProfileRevision)
        .where(RiskProfileRevision.profile_id == profile_id)
        .order_by(RiskProfileRevision.revision)
    )
    return list(session.scalars(query))


def current_revision(session: Session, profile_id: str) -> int | None:
    """The newest revision number of a profile, None when the store does not know it."""
    return session.scalar(select(RiskProfileRow.revision).where(RiskProfileRow.id == profile_id))


def add_revision(
    session: Session,
    profile: RiskProfile,
    *,
    change: str,
    by: str,
    at: datetime,
    expected: int | None,
) -> int:
    """Append a revision of ``profile``; returns its number.

    Args:
        expected: the revision this change follows (None: a new profile).

    Raises:
        ProfileConflict: a new profile's id is taken, or ``expected`` is not the newest
            revision (unknown profile, or revised meanwhile). Nothing was written.
    """
    if change not in CHANGES:
        raise ValueError(f"change must be one of {CHANGES}")
    if expected is None:
        if current_revision(session, profile.id) is not None:
            raise ProfileConflict(profile.id, "a profile with this id exists; revise it")
        session.add(RiskProfileRow(id=profile.id, revision=1, created_by=by, created_at=at))
        session.flush()
        number = 1
    else:
        moved = session.execute(
            update(RiskProfileRow)
            .where(RiskProfileRow.id == profile.id, RiskProfileRow.revision == expected)
            .values(revision=expected + 1)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            known = current_revision(session, profile.id)
            raise ProfileConflict(
                profile.id,
                "no such profile" if known is None else f"revision {known} is newer",
                unknown=known is None,
            )
        number = expected + 1
    session.add(
        RiskProfileRevision(
            profile_id=profile.id,
            revision=number,
            change=change,
            content=profile.document(),
            changed_by=by,
            changed_at=at,
        )
    )
    session.flush()
    return number


# Open store -> its profiles, by the greatest revision id they were read at.
_CACHE: PerStore[ProfileSet] = PerStore()


def profiles_in_force(
    store: Store, at: datetime | None = None, *, version: int | None = None
) -> ProfileSet:
    """The profiles a scoring batch matches: not expired before ``at`` (default now), read
    again only when a revision was added since the last call (by any process).

    ``version``: the greatest revision id, when the batch read it already (with the other
    live versions in one query: `serving.store.offices.live_versions`).
    """
    moment = at or datetime.now(UTC)
    _, cached = _CACHE.lookup(store, version, _LATEST)
    if cached is not None:
        return cached
    with store.sessions() as session:  # changed: the revisions and their id, read together
        version = latest_revision_id(session)
        revisions = newest_revisions(session)
    profiles = ProfileSet(live_profiles(revisions, moment))
    _CACHE.put(store, version, profiles)
    return profiles


def live_profiles(revisions: Sequence[RiskProfileRevision], at: datetime) -> list[RiskProfile]:
    """The profiles of ``revisions`` not already expired at ``at`` (an expired one can match
    again only through a new revision, which a re-read would bring)."""
    profiles = [RiskProfile.model_validate(revision.content) for revision in revisions]
    return [p for p in profiles if p.valid_to is None or p.valid_to > at]
