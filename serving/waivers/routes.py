"""Waivers and additions on a declaration (officers), and their counts (risk managers).

Thin routes: check the remit, plan one decision with `serving.waivers.service`, leave its
write to the request's consultation record (one transaction: the waiver is never stored
without the record of who made it), return what was stored. A declaration outside the
caller's remit answers as one never scored (404), as GET /v1/declarations/{id} does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from sqlalchemy.orm import Session

from features.profiles import PROFILE_ID_PATTERN
from serving.access.remit import UNKNOWN_DECLARATION, refuse_office
from serving.base import Caller, ErrorResponse
from serving.deps import CurrentCaller, OperationalStore, State, justification, write_with_record
from serving.store import waivers as stored
from serving.store.database import Store
from serving.waivers import service
from serving.waivers.schemas import (
    AdditionIn,
    DeclarationOverrides,
    OverrideOut,
    WaiverCodes,
    WaiverCounts,
    WaiverIn,
)

DeclarationId = Annotated[str, Path(min_length=1, max_length=200)]
_STORE_DOWN: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorResponse, "description": "operational store unavailable"}
}
_UNKNOWN: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "never scored, or outside the remit"},
}
_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **_UNKNOWN,
    409: {
        "model": ErrorResponse,
        "description": "nothing to waive, already waived or added, or already selected",
    },
    422: {"model": ErrorResponse, "description": "field path and what was expected"},
    **_STORE_DOWN,
}

router = APIRouter(prefix="/v1", tags=["waivers"])


def _refused(error: service.WaiverRefused) -> HTTPException:
    if error.field is None:
        return HTTPException(status_code=error.status, detail=str(error))
    return HTTPException(
        status_code=error.status,
        detail=[{"loc": ["body", error.field], "msg": str(error), "type": "waiver_invalid"}],
    )


def _selection(store: Store, caller: Caller, declaration_id: str) -> stored.Selection:
    """The declaration's selection; 404 when never scored or outside the remit."""
    selection = service.selection_of(store, declaration_id)
    if selection is None or not caller.covers_office(selection.office_id):
        raise HTTPException(status_code=404, detail=UNKNOWN_DECLARATION)
    return selection


def _stored(
    request: Request, store: Store, plan: Callable[[], service.PlannedDecision]
) -> OverrideOut:
    """Plan a decision, leave its write to the request's record, answer what it stores."""
    try:
        planned = plan()
    except service.WaiverRefused as error:
        raise _refused(error) from None

    def write(session: Session) -> None:
        try:
            planned.write(session)
        except service.WaiverRefused as error:  # recorded in between: refused, nothing kept
            raise _refused(error) from None

    write_with_record(request.scope, store, write)
    return planned.answer


@router.post(
    "/declarations/{declaration_id}/waivers",
    status_code=201,
    response_model=OverrideOut,
    responses=_WRITE_ERRORS,
)
def post_waiver(
    declaration_id: DeclarationId,
    waiver: WaiverIn,
    store: OperationalStore,
    caller: CurrentCaller,
    state: State,
    request: Request,
) -> OverrideOut:
    """Waive the inspection of a declaration the red lane, a risk profile or a worklist draw
    selected, with a standard exception code or a written reason (code OTHER)."""
    selection = _selection(store, caller, declaration_id)
    return _stored(
        request,
        store,
        lambda: service.plan_waiver(
            store, selection, waiver, codes=state.settings.waiver_codes, caller=caller
        ),
    )


@router.post(
    "/declarations/{declaration_id}/additions",
    status_code=201,
    response_model=OverrideOut,
    responses=_WRITE_ERRORS,
)
def post_addition(
    declaration_id: DeclarationId,
    addition: AdditionIn,
    store: OperationalStore,
    caller: CurrentCaller,
    request: Request,
) -> OverrideOut:
    """Add a declaration nothing selected to the inspections, with a reason: its outcome is
    then recorded with selection reason ``officer`` (probability unknown)."""
    selection = _selection(store, caller, declaration_id)
    return _stored(
        request,
        store,
        lambda: service.plan_addition(store, selection, addition, caller=caller),
    )


@router.get(
    "/declarations/{declaration_id}/waivers",
    response_model=DeclarationOverrides,
    responses={**_UNKNOWN, **_STORE_DOWN},
    dependencies=[Depends(justification)],
)
def get_declaration_waivers(
    declaration_id: DeclarationId, store: OperationalStore, caller: CurrentCaller
) -> DeclarationOverrides:
    """What selects a declaration now, and the waiver and addition recorded for it."""
    found = service.declaration_overrides(store, declaration_id)
    if found is None or not caller.covers_office(found[0]):
        raise HTTPException(status_code=404, detail=UNKNOWN_DECLARATION)
    return found[1]


@router.get("/waivers/codes", response_model=WaiverCodes)
def get_waiver_codes(state: State) -> WaiverCodes:
    """The standard exception codes a waiver may give (SHIPRISK_WAIVER_CODES)."""
    return service.code_list(state.settings.waiver_codes)


@router.get(
    "/waivers",
    response_model=WaiverCounts,
    responses={
        403: {"model": ErrorResponse, "description": "an office outside the remit"},
        **_STORE_DOWN,
    },
)
def get_waiver_counts(
    store: OperationalStore,
    caller: CurrentCaller,
    state: State,
    since: Annotated[date | None, Query(description="first day counted (UTC), YYYY-MM-DD")] = None,
    until: Annotated[date | None, Query(description="day after the last counted (UTC)")] = None,
    period: Annotated[
        Literal["day", "week", "month"], Query(description="the periods of by_period")
    ] = "week",
    office_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    profile_id: Annotated[str | None, Query(pattern=PROFILE_ID_PATTERN)] = None,
) -> WaiverCounts:
    """Waivers and additions counted per office, code, profile, waived pick and period, in
    the caller's remit (GAO-15-294: waivers measured, not only written down)."""
    if office_id is not None:
        refuse_office(caller, office_id)
    offices = [office_id] if office_id is not None else caller.key.offices
    return service.counts(
        store,
        since=since,
        until=until,
        period=period,
        offices=offices,
        profile_id=profile_id,
        codes=state.settings.waiver_codes,
    )
