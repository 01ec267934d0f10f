"""Risk profile routes: risk managers write profiles, officers read them.

Thin routes: parse, plan one change with `serving.profiles.service`, leave its write to the
request's consultation record (one transaction), return the response. A new, revised or
expired profile changes the very next score of a declaration it matches: every scoring batch
reads the profiles in force from the store (serving.scoring.profiles).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Path, Query, Request
from sqlalchemy.orm import Session

from features.profiles import PROFILE_ID_PATTERN, RiskProfile
from serving.base import STORE_DOWN, ErrorResponse, invalid_field
from serving.deps import CurrentCaller, OperationalStore, write_with_record
from serving.profiles import service
from serving.profiles.performance import Period, WindowInvalid
from serving.profiles.schemas import (
    EXAMPLE,
    ProfileDetail,
    ProfileOut,
    ProfilePage,
    ProfilePerformance,
)
from serving.store.profiles import ProfileConflict

_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "no profile with this id"},
    409: {"model": ErrorResponse, "description": "the id is taken, or a newer revision exists"},
    422: {"model": ErrorResponse, "description": "field path and what was expected"},
    **STORE_DOWN,
}
ProfileId = Annotated[str, Path(pattern=PROFILE_ID_PATTERN)]
ProfileBody = Annotated[RiskProfile, Body(examples=[EXAMPLE])]

router = APIRouter(prefix="/v1", tags=["profiles"])


def _refused(error: ProfileConflict) -> HTTPException:
    return HTTPException(status_code=404 if error.unknown else 409, detail=str(error))


def _stored(
    request: Request, store: OperationalStore, plan: Callable[[], service.PlannedRevision]
) -> ProfileOut:
    """Plan a change, leave its write to the request's record, answer what it stores."""
    try:
        planned = plan()
    except ProfileConflict as error:
        raise _refused(error) from None

    def write(session: Session) -> None:
        try:
            planned.write(session)
        except ProfileConflict as error:  # changed in between: refused, nothing kept
            raise _refused(error) from None

    write_with_record(request.scope, store, write)
    return planned.answer


@router.get("/profiles", response_model=ProfilePage, responses=STORE_DOWN)
def get_profiles(
    store: OperationalStore,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ProfilePage:
    """Every risk profile's newest revision, by id, with whether it is in force now."""
    return ProfilePage(profiles=service.list_profiles(store, limit=limit, offset=offset))


@router.get(
    "/profiles/{profile_id}",
    response_model=ProfileDetail,
    responses={404: {"model": ErrorResponse, "description": "no profile with this id"}},
)
def get_profile(profile_id: ProfileId, store: OperationalStore) -> ProfileDetail:
    """One risk profile with every revision (who changed it, when, full content)."""
    found = service.profile_detail(store, profile_id)
    if found is None:
        raise HTTPException(status_code=404, detail=f"{profile_id}: no such profile")
    return found


@router.get(
    "/profiles/{profile_id}/performance",
    response_model=ProfilePerformance,
    responses={
        404: {"model": ErrorResponse, "description": "no profile with this id"},
        422: {"model": ErrorResponse, "description": "a period, since or until not accepted"},
        **STORE_DOWN,
    },
)
def get_profile_performance(
    profile_id: ProfileId,
    store: OperationalStore,
    caller: CurrentCaller,
    period: Annotated[Period, Query(description="week (Monday to Sunday) or month")] = "week",
    since: Annotated[
        date | None, Query(description="first lodging day (UTC); default 12 periods back")
    ] = None,
    until: Annotated[
        date | None, Query(description="last lodging day (UTC); default today")
    ] = None,
) -> ProfilePerformance:
    """Matches, inspections, hits, waivers and the hit rate with its 95% interval per period,
    beside the model's and the random picks of the same period (within the caller's remit)."""
    remit = None if caller.key.offices is None else list(caller.key.offices)
    try:
        found = service.performance(
            store, profile_id, period=period, since=since, until=until, remit=remit
        )
    except WindowInvalid as error:
        raise HTTPException(
            status_code=422,
            detail=[{"loc": ["query", error.parameter], "msg": str(error), "type": "window"}],
        ) from None
    if found is None:
        raise HTTPException(status_code=404, detail=f"{profile_id}: no such profile")
    return found


@router.post("/profiles", status_code=201, response_model=ProfileOut, responses=_WRITE_ERRORS)
def post_profile(
    profile: ProfileBody, store: OperationalStore, caller: CurrentCaller, request: Request
) -> ProfileOut:
    """Create a risk profile (revision 1); it applies from the next score on."""
    return _stored(
        request,
        store,
        lambda: service.plan_revision(store, profile, change="created", by=caller.key.name),
    )


@router.put("/profiles/{profile_id}", response_model=ProfileOut, responses=_WRITE_ERRORS)
def put_profile(
    profile_id: ProfileId,
    profile: ProfileBody,
    store: OperationalStore,
    caller: CurrentCaller,
    request: Request,
    revision: Annotated[
        int | None, Query(ge=1, description="the revision this one follows (default newest)")
    ] = None,
) -> ProfileOut:
    """Revise a risk profile: a new revision with the full content; earlier ones are kept."""
    if profile.id != profile_id:
        raise invalid_field(
            ["body", "id"],
            f"the body's id {profile.id!r} is not the path's {profile_id!r}",
            "profile_id_mismatch",
        )
    return _stored(
        request,
        store,
        lambda: service.plan_revision(
            store, profile, change="revised", by=caller.key.name, expected=revision
        ),
    )


@router.post("/profiles/{profile_id}/expire", response_model=ProfileOut, responses=_WRITE_ERRORS)
def expire_profile(
    profile_id: ProfileId,
    store: OperationalStore,
    caller: CurrentCaller,
    request: Request,
) -> ProfileOut:
    """End a risk profile now: a new revision whose validity closes at this moment."""
    return _stored(
        request, store, lambda: service.plan_expiry(store, profile_id, by=caller.key.name)
    )
