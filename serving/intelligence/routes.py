"""Watchlist routes: risk managers write entries, officers read them (H2/H3 only as a hit).

Thin routes: parse, call one function of `serving.intelligence.service`, return a response
model. POST leaves its write to the request's consultation record (one transaction: the
entries and the record of who added them land together or not at all), its answer's ids
chosen before. A new or edited entry changes the very next score of a declaration it matches: the
scoring batches read the watchlist from the store (serving.scoring.live).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from features.schema import WATCHLIST_ENTITY_TYPES
from features.validation import DataValidationError
from serving.access.keys import Role
from serving.base import STORE_DOWN, ErrorResponse
from serving.deps import CurrentCaller, OperationalStore, write_with_record
from serving.intelligence import service
from serving.intelligence.schemas import (
    WatchlistCreated,
    WatchlistPage,
    WatchlistRequest,
    entries_frame,
)

router = APIRouter(prefix="/v1", tags=["intelligence"])


@router.get("/watchlist", response_model=WatchlistPage, responses=STORE_DOWN)
def get_watchlist(
    store: OperationalStore,
    caller: CurrentCaller,
    entity_type: Annotated[
        str | None, Query(pattern="^(" + "|".join(WATCHLIST_ENTITY_TYPES) + ")$")
    ] = None,
    value: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> WatchlistPage:
    """Watchlist entries in force: those listing one entity (``value``, under ``entity_type``
    or any type), or every entry (of ``entity_type`` when given)."""
    full = caller.key.role == Role.RISK_MANAGER
    return WatchlistPage(
        entries=service.list_entries(
            store, full=full, entity_type=entity_type, value=value, limit=limit, offset=offset
        )
    )


@router.post(
    "/watchlist",
    status_code=201,
    response_model=WatchlistCreated,
    responses={
        404: {"model": ErrorResponse, "description": "an edited entry is not in force"},
        422: {"model": ErrorResponse, "description": "field path and what was expected"},
        **STORE_DOWN,
    },
)
def post_watchlist(
    payload: WatchlistRequest, store: OperationalStore, caller: CurrentCaller, request: Request
) -> WatchlistCreated | JSONResponse:
    """Add watchlist entries, or edit one (``replaces``), all together or not at all."""
    try:
        planned = service.planned_entries(
            store,
            entries_frame(payload.entries),
            added_by=caller.key.name,
            replaces=[entry.replaces for entry in payload.entries],
        )
    except DataValidationError as error:
        return JSONResponse(
            status_code=422,
            content={
                "detail": [
                    {
                        "loc": ["body", "entries", row - 1, *([p.column] if p.column else [])],
                        "msg": p.message,
                        "type": "watchlist_invalid",
                        "fix": p.fix,
                    }
                    for p in error.problems
                    for row in (p.rows or (0,))
                ]
            },
        )
    except service.UnknownEntry as error:  # the store's state, not the request's shape: 404
        raise unknown_entry(error) from None

    def write(session: Session) -> None:
        try:
            planned.write(session)
        except service.UnknownEntry as error:  # withdrawn in between: 404, nothing kept
            raise unknown_entry(error) from None

    # The entries and the request's record commit together; their ids were chosen before.
    write_with_record(request.scope, store, write)
    return WatchlistCreated(ids=planned.ids)


def unknown_entry(error: service.UnknownEntry) -> HTTPException:
    """The answer to an edit of an entry that is not in force."""
    return HTTPException(
        status_code=404,
        detail=[
            {
                "loc": ["body", "entries", position, "replaces"],
                "msg": "no entry in force with this id",
                "type": "watchlist_unknown_entry",
            }
            for position in error.positions
        ],
    )
