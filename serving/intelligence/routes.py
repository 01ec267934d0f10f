"""Watchlist routes: risk managers write entries, officers read them (H2/H3 only as a hit).

Thin routes: parse, call one function of `serving.intelligence.service`, return a response
model. A new or edited entry changes the very next score of a declaration it matches: the
scoring batches read the watchlist from the store (serving.scoring.live).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from features.schema import WATCHLIST_ENTITY_TYPES
from features.validation import DataValidationError
from serving.access.keys import Role
from serving.base import ErrorResponse
from serving.deps import CurrentCaller, OperationalStore
from serving.intelligence import service
from serving.intelligence.schemas import (
    WatchlistCreated,
    WatchlistPage,
    WatchlistRequest,
    entries_frame,
)

_STORE_DOWN: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorResponse, "description": "operational store unavailable"}
}

router = APIRouter(prefix="/v1", tags=["intelligence"])


@router.get("/watchlist", response_model=WatchlistPage, responses=_STORE_DOWN)
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
        **_STORE_DOWN,
    },
)
def post_watchlist(
    payload: WatchlistRequest, store: OperationalStore, caller: CurrentCaller
) -> WatchlistCreated | JSONResponse:
    """Add watchlist entries, or edit one (``replaces``), all together or not at all."""
    try:
        ids = service.add_entries(
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
        return JSONResponse(
            status_code=404,
            content={
                "detail": [
                    {
                        "loc": ["body", "entries", position, "replaces"],
                        "msg": "no entry in force with this id",
                        "type": "watchlist_unknown_entry",
                    }
                    for position in error.positions
                ]
            },
        )
    return WatchlistCreated(ids=ids)
