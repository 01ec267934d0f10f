"""Officer routes of the inspection loop: a declaration's record, worklists, outcomes.

Thin routes: parse, call one function of `serving.inspections.service`, return a response
model. The operational store and the worklist policy come in as typed dependencies
(`serving.deps`) from the app's state, opened in the lifespan.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from sqlalchemy import event
from sqlalchemy.orm import Session

from features.i18n import DEFAULT_LOCALE, language_tag
from serving.access.remit import UNKNOWN_DECLARATION, hide_unseen_declarations, refuse_office
from serving.base import (
    CONTENT_LANGUAGE_HEADER,
    STORE_DOWN,
    ErrorResponse,
    reasons_in_language,
    request_locale,
)
from serving.deps import (
    CurrentCaller,
    OperationalStore,
    Policy,
    ServedModel,
    State,
    justification,
    write_with_record,
)
from serving.inspections import capacity as office_capacity
from serving.inspections import service
from serving.inspections.schemas import (
    CapacityRequest,
    DeclarationDetail,
    OfficeCapacity,
    OutcomeRequest,
    OutcomeResponse,
    Worklist,
    outcomes_frame,
)
from serving.store.worklists import WorklistDrawTaken

MAX_CAPACITY = 10_000

_NO_JUSTIFICATION: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "X-Justification missing or too long"}
}

router = APIRouter(prefix="/v1", tags=["operations"])


@router.get(
    "/declarations/{declaration_id}",
    response_model=DeclarationDetail,
    responses={
        404: {"model": ErrorResponse, "description": "never scored, or outside the remit"},
        **_NO_JUSTIFICATION,
        **STORE_DOWN,
    },
    dependencies=[Depends(justification)],
)
def get_declaration(
    declaration_id: Annotated[str, Path(min_length=1, max_length=200)],
    store: OperationalStore,
    caller: CurrentCaller,
    request: Request,
    response: Response,
) -> DeclarationDetail:
    """A scored declaration with its latest scores and reasons, and its outcomes; reason
    texts in the language ``Accept-Language`` asks for (English by default)."""
    detail = service.declaration_detail(store, declaration_id)
    # Outside the remit (where it was lodged, not where a scoring said) it answers as if it
    # did not exist.
    if detail is None or not caller.covers_office(detail.office_id):
        raise HTTPException(status_code=404, detail=UNKNOWN_DECLARATION)
    locale = request_locale(request.headers)
    if locale != DEFAULT_LOCALE:
        latest = detail.latest
        latest.reasons = reasons_in_language(latest.reasons, detail.declaration, locale)
        response.headers[CONTENT_LANGUAGE_HEADER] = language_tag(locale)
    return detail


@router.get(
    "/worklist",
    response_model=Worklist,
    responses={
        409: {
            "model": ErrorResponse,
            "description": "another worklist of the office and day was drawn at the same "
            "moment, or no capacity given and none set for the office",
        },
        **_NO_JUSTIFICATION,
        **STORE_DOWN,
    },
    dependencies=[Depends(justification)],
)
def get_worklist(
    request: Request,
    store: OperationalStore,
    policy: Policy,
    caller: CurrentCaller,
    office_id: Annotated[str, Query(min_length=1, max_length=200)],
    day: Annotated[date, Query(alias="date", description="lodging day (UTC), YYYY-MM-DD")],
    capacity: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_CAPACITY,
            description="inspections the office can do; absent: the capacity set for the "
            "office (PUT /v1/offices/{office_id}/capacity)",
        ),
    ] = None,
) -> Worklist:
    """Declarations to inspect at an office on a day: risk profiles' picks first, then top
    expected harm plus random picks."""
    refuse_office(caller, office_id)
    try:
        drawn = service.worklist(store, office_id, day, capacity, policy)
    except service.CapacityUnknown:  # the store's state, not the request, lacks it
        raise HTTPException(
            status_code=409,
            detail="no capacity given, and none set for this office: give capacity, or set "
            "the office's with PUT /v1/offices/{office_id}/capacity",
        ) from None
    write = drawn.write
    if write is not None:  # a new draw: recorded with the request's record

        def record(session: Session) -> None:
            try:
                write(session)
            except WorklistDrawTaken:
                raise HTTPException(
                    status_code=409,
                    detail="another worklist of this office and day was drawn at the same "
                    "moment: ask again",
                ) from None

        write_with_record(request.scope, store, record)
    return drawn.worklist


OfficeId = Annotated[str, Path(min_length=1, max_length=200)]


@router.put(
    "/offices/{office_id}/capacity",
    response_model=OfficeCapacity,
    responses={
        403: {"model": ErrorResponse, "description": "office outside the key's remit"},
        409: {
            "model": ErrorResponse,
            "description": "too few recent scores at the office to fit its thresholds",
        },
        422: {"model": ErrorResponse, "description": "field path and what was expected"},
        **STORE_DOWN,
    },
)
def put_office_capacity(
    office_id: OfficeId,
    body: CapacityRequest,
    store: OperationalStore,
    caller: CurrentCaller,
    policy: Policy,
    model: ServedModel,
    request: Request,
) -> OfficeCapacity:
    """Set an office's daily inspection capacity: its lane thresholds are refitted from its
    recent scores and lane its next scores, without a retrain."""
    refuse_office(caller, office_id)
    try:
        planned = office_capacity.plan_capacity(
            store,
            office_id,
            body,
            model=model,
            exploration_share=policy.exploration_share,
            by=caller.key.name,
            min_scores=policy.lane_min_scores,
        )
    except office_capacity.TooFewScores as error:
        raise HTTPException(status_code=409, detail=str(error)) from None
    write_with_record(request.scope, store, planned.write)
    return planned.answer


@router.get(
    "/offices/{office_id}/capacity",
    response_model=OfficeCapacity,
    responses={
        403: {"model": ErrorResponse, "description": "office outside the key's remit"},
        404: {"model": ErrorResponse, "description": "no capacity set for this office"},
        **STORE_DOWN,
    },
)
def get_office_capacity(
    office_id: OfficeId, store: OperationalStore, caller: CurrentCaller, state: State
) -> OfficeCapacity:
    """An office's capacity and the lane thresholds set for it, with how they were fitted."""
    refuse_office(caller, office_id)
    found = office_capacity.current_capacity(store, office_id, state.model_holder.current)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no capacity set for office {office_id}")
    return found


@router.post(
    "/outcomes",
    response_model=OutcomeResponse,
    responses={
        404: {
            "model": ErrorResponse,
            "description": "a declaration never scored, or outside the key's remit",
        },
        400: {"model": ErrorResponse, "description": "the body is not JSON"},
        409: {
            "model": ErrorResponse,
            "description": "differs from a recorded outcome, or from the pick of the worklist "
            "draw it names",
        },
        422: {"model": ErrorResponse, "description": "field path and what was expected"},
        **STORE_DOWN,
    },
)
def post_outcomes(
    payload: OutcomeRequest,
    store: OperationalStore,
    caller: CurrentCaller,
    request: Request,
    state: State,
) -> OutcomeResponse:
    """Record inspection outcomes: all of them, or none when one is wrong."""
    hide_unseen_declarations(
        caller, store, [outcome.declaration_id for outcome in payload.outcomes], "outcomes"
    )
    try:
        written, write = service.planned_outcomes(
            store,
            outcomes_frame(payload.outcomes),
            draws=[outcome.draw_version for outcome in payload.outcomes],
        )
    except service.OutcomesRejected as error:
        raise outcomes_refused(error) from None

    monitor = state.performance

    def record(session: Session) -> None:
        try:
            write(session)
        except service.OutcomesRejected as error:  # recorded in between: 409, nothing kept
            raise outcomes_refused(error) from None
        if written.recorded and monitor is not None:
            # hit rates recomputed soon, in a thread, once the outcomes are committed
            event.listen(
                session, "after_commit", lambda _: monitor.outcomes_recorded(store), once=True
            )

    write_with_record(request.scope, store, record)
    return OutcomeResponse(recorded=written.recorded, already_recorded=written.already_recorded)


def outcomes_refused(error: service.OutcomesRejected) -> HTTPException:
    """The answer to outcomes that were refused: 404 (never scored), 409 or 422."""
    if error.unknown:
        # Never scored: answered as a declaration outside the remit is (404, same words),
        # so a key limited to some offices cannot tell the two apart.
        return HTTPException(
            status_code=404,
            detail=[
                {
                    "loc": ["body", "outcomes", problem.row, "declaration_id"],
                    "msg": "no scored declaration with this id: score it with POST "
                    "/v1/scores first",
                    "type": "declaration_unknown",
                }
                for problem in error.problems
            ],
        )
    conflict = error.draw or all(
        p.column == "inspected_at" and "already" in p.message for p in error.problems
    )
    return HTTPException(
        status_code=409 if conflict else 422,
        detail=[
            {
                "loc": [
                    "body",
                    "outcomes",
                    *([] if problem.row is None else [problem.row]),
                    *([] if problem.column is None else [problem.column]),
                ],
                "msg": problem.message,
                "type": "outcome_conflict" if conflict else "outcome_invalid",
                "fix": problem.fix,
            }
            for problem in error.problems
        ],
    )
