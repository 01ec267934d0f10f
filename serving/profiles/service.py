"""Risk profiles: list, read, create, revise and expire them; YAML import and export.

A write is planned first (validated, checked against the store's newest revision) and
returned as a function of a session, so a route leaves it to its consultation record's
transaction (`serving.deps.write_with_record`) and a command to its own record: the profile's
revision and the record of who made it land together or not at all. The write checks the
revision again inside its transaction (`serving.store.profiles.add_revision`), so of two
concurrent revisions of one profile the second is refused, not lost.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import yaml
from pydantic import ValidationError
from sqlalchemy.orm import Session

from features.profiles import RiskProfile
from serving.base import error_path
from serving.profiles.performance import Period, profile_performance, window
from serving.profiles.schemas import ProfileDetail, ProfileOut, ProfilePerformance, RevisionOut
from serving.store import profiles as stored
from serving.store.database import Store
from serving.store.tables import RiskProfileRevision

Write = Callable[[Session], object]


class ProfilesInvalid(ValueError):
    """Profiles that break a rule: one line per problem, each naming its field path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _out(revision: RiskProfileRevision, at: datetime) -> ProfileOut:
    profile = RiskProfile.model_validate(revision.content)
    return ProfileOut(
        profile=profile,
        revision=revision.revision,
        change=revision.change,
        changed_by=revision.changed_by,
        changed_at=revision.changed_at,
        in_force=profile.in_force(at),
    )


def list_profiles(store: Store, *, limit: int = 100, offset: int = 0) -> list[ProfileOut]:
    """Every profile's newest revision, by id."""
    at = datetime.now(UTC)
    with store.sessions() as session:
        revisions = stored.newest_revisions(session)
    return [_out(revision, at) for revision in revisions[offset : offset + limit]]


def profile_detail(store: Store, profile_id: str) -> ProfileDetail | None:
    """A profile with all its revisions (None: unknown id)."""
    with store.sessions() as session:
        revisions = stored.profile_revisions(session, profile_id)
    if not revisions:
        return None
    newest = _out(revisions[-1], datetime.now(UTC))
    return ProfileDetail(
        **dict(newest),
        revisions=[
            RevisionOut(
                revision=r.revision,
                change=r.change,
                changed_by=r.changed_by,
                changed_at=r.changed_at,
                content=r.content,
            )
            for r in revisions
        ],
    )


@dataclass(frozen=True)
class PlannedRevision:
    """A change to store: the answer it gives, and the write that stores it."""

    answer: ProfileOut
    write: Write


def plan_revision(
    store: Store,
    profile: RiskProfile,
    *,
    change: str,
    by: str,
    expected: int | None = None,
    now: datetime | None = None,
) -> PlannedRevision:
    """Plan a new profile (``change`` created) or a revision of the newest one.

    Args:
        expected: for a revision, the revision it follows (default: the newest stored).

    Raises:
        ProfileConflict: a new id is taken, the profile is unknown, or ``expected`` is
            not the newest revision.
    """
    at = now or datetime.now(UTC)
    with store.sessions() as session:
        current = stored.current_revision(session, profile.id)
    if change == "created":
        if current is not None:
            raise stored.ProfileConflict(profile.id, "a profile with this id exists; revise it")
        follows = None
    else:
        if current is None:
            raise stored.ProfileConflict(profile.id, "no such profile", unknown=True)
        follows = current if expected is None else expected
        if follows != current:
            raise stored.ProfileConflict(profile.id, f"revision {current} is newer")

    def write(session: Session) -> int:
        return stored.add_revision(session, profile, change=change, by=by, at=at, expected=follows)

    answer = ProfileOut(
        profile=profile,
        revision=1 if follows is None else follows + 1,
        change=change,
        changed_by=by,
        changed_at=at,
        in_force=profile.in_force(at),
    )
    return PlannedRevision(answer, write)


def plan_expiry(
    store: Store, profile_id: str, *, by: str, now: datetime | None = None
) -> PlannedRevision:
    """Plan the revision that ends a profile now (its window closes at this moment).

    Raises:
        ProfileConflict: unknown profile, or one already out of force for good.
    """
    at = now or datetime.now(UTC)
    with store.sessions() as session:
        revisions = stored.profile_revisions(session, profile_id)
    if not revisions:
        raise stored.ProfileConflict(profile_id, "no such profile", unknown=True)
    profile = RiskProfile.model_validate(revisions[-1].content)
    if profile.valid_to is not None and profile.valid_to <= at:
        raise stored.ProfileConflict(profile_id, "the profile has already expired")
    ended = profile.model_copy(update={"valid_to": max(at, profile.valid_from)})
    return plan_revision(
        store, ended, change="expired", by=by, expected=revisions[-1].revision, now=at
    )


def performance(
    store: Store,
    profile_id: str,
    *,
    period: Period = "week",
    since: date | None = None,
    until: date | None = None,
    remit: Collection[str] | None = None,
) -> ProfilePerformance | None:
    """A profile's performance per period (`serving.profiles.performance`), judged by its
    newest revision's threat and offices; None for an unknown id.

    Raises:
        WindowInvalid: ``since`` after ``until``, or a window of too many periods.
    """
    first, last = window(period, since, until)
    with store.sessions() as session:
        revisions = stored.profile_revisions(session, profile_id)
        if not revisions:
            return None
        profile = RiskProfile.model_validate(revisions[-1].content)
        return profile_performance(
            session, profile, period=period, since=first, until=last, remit=remit
        )


# -- YAML ---------------------------------------------------------------------------------


def parse_profiles(text: str, *, source: str = "profiles") -> list[RiskProfile]:
    """Every profile of a YAML document (a list, or a mapping with ``profiles``), all checked
    before any is returned.

    Raises:
        ProfilesInvalid: every problem, each as ``source: profiles[i].path: message``.
    """
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ProfilesInvalid([f"{source}: not YAML: {error}"]) from None
    documents = loaded.get("profiles") if isinstance(loaded, dict) else loaded
    if not isinstance(documents, list):
        raise ProfilesInvalid([f"{source}: expected a list of profiles (or profiles: [...])"])
    problems: list[str] = []
    profiles: list[RiskProfile] = []
    seen: set[str] = set()
    for position, document in enumerate(documents):
        try:
            profile = RiskProfile.model_validate(document)
        except ValidationError as error:
            problems.extend(
                f"{source}: profiles[{position}]"
                + (f".{error_path(e['loc'])}" if e["loc"] else "")
                + f": {e['msg']}"
                for e in error.errors()
            )
            continue
        if profile.id in seen:
            problems.append(f"{source}: profiles[{position}].id: {profile.id} appears twice")
        seen.add(profile.id)
        profiles.append(profile)
    if problems:
        raise ProfilesInvalid(problems)
    return profiles


@dataclass(frozen=True)
class PlannedImport:
    """What an import changes, and the one write that stores all of it."""

    created: list[str]
    revised: list[str]
    unchanged: list[str]
    write: Write


def plan_import(
    store: Store, profiles: Sequence[RiskProfile], *, by: str, now: datetime | None = None
) -> PlannedImport:
    """New ids are created, changed ones revised, identical ones left alone: all in the
    write's one transaction, or nothing."""
    at = now or datetime.now(UTC)
    with store.sessions() as session:
        newest = {r.profile_id: r for r in stored.newest_revisions(session)}
    created, revised, unchanged = [], [], []
    changes: list[tuple[RiskProfile, str, int | None]] = []
    for profile in profiles:
        current = newest.get(profile.id)
        if current is None:
            created.append(profile.id)
            changes.append((profile, "created", None))
        elif current.content != profile.document():
            revised.append(profile.id)
            changes.append((profile, "revised", current.revision))
        else:
            unchanged.append(profile.id)

    def write(session: Session) -> None:
        for profile, change, expected in changes:
            stored.add_revision(session, profile, change=change, by=by, at=at, expected=expected)

    return PlannedImport(created, revised, unchanged, write)


def export_profiles(store: Store) -> str:
    """Every profile's newest content as YAML that `parse_profiles` reads back."""
    with store.sessions() as session:
        documents = [revision.content for revision in stored.newest_revisions(session)]
    return yaml.safe_dump({"profiles": documents}, sort_keys=False, allow_unicode=True)
