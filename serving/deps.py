"""Every dependency the routes use, typed, in one place (as the template's ``api/deps.py``).

`State`, `ServedModel`, `OperationalStore`, `Policy` and `CurrentCaller` are ``Annotated``
dependencies; `open_store`, `commit_with_record` and `name_declarations` are their plain-call
forms for the score route, which keeps its dependencies few: FastAPI's dependency resolution
is a tenth of the event loop's time per scored declaration.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request
from sqlalchemy.orm import Session
from starlette.types import Scope

from serving.access.policy import policy_for
from serving.access.roles import current_caller
from serving.base import (
    MAX_JUSTIFICATION_CHARS,
    NAMED_IDS,
    REQUEST_WRITES,
    Caller,
    LoadedModel,
    ServiceState,
    current_model,
)
from serving.inspections.service import OperationsPolicy
from serving.store.database import Store

log = logging.getLogger(__name__)


async def service_state(request: Request) -> ServiceState:
    """The state of the app serving this request."""
    state: ServiceState = request.app.state.service
    return state


State = Annotated[ServiceState, Depends(service_state)]


async def served_model(state: State) -> LoadedModel:
    """The model to score with, taken once per request; 503 with the reason when there is none."""
    return current_model(state)


ServedModel = Annotated[LoadedModel, Depends(served_model)]


async def operational_store(request: Request) -> Store:
    """The store opened by the app's lifespan; 503 with the reason when it is not open."""
    return open_store(request.app.state.service)


def open_store(state: ServiceState) -> Store:
    """`operational_store` as a plain call, for a route that keeps its dependencies few."""
    if state.store is None:
        raise HTTPException(
            status_code=503, detail=f"operational store unavailable: {state.store_error}"
        )
    return state.store


OperationalStore = Annotated[Store, Depends(operational_store)]


async def operations_policy(request: Request) -> OperationsPolicy:
    """Severity weights and exploration share of this app."""
    policy: OperationsPolicy = request.app.state.service.policy
    return policy


Policy = Annotated[OperationsPolicy, Depends(operations_policy)]

CurrentCaller = Annotated[Caller, Depends(current_caller)]


async def justification(
    x_justification: Annotated[
        str,
        Header(
            min_length=1,
            max_length=MAX_JUSTIFICATION_CHARS,
            pattern=r"\S",
            description="why you consult this (case number, inspection order); kept in the "
            "consultation log",
        ),
    ],
) -> str:
    """The caller's stated reason (the role check has already refused a missing one)."""
    return x_justification


# -- what a route leaves to its consultation record (serving.audit.middleware) -----------------


def commit_with_record(scope: Scope, write: Callable[[Session], object]) -> bool:
    """Leave a route's write to the commit of the request's consultation record.

    The write then runs in the record's transaction, just before the record, and the
    response is sent only after that commit: one durable commit per request instead of two,
    and the data and the record of the request that made it land together or not at all.
    Returns False when the request is not being recorded (no audit middleware in front, or a
    route the policy does not record): the route must commit the write itself.
    """
    writes = scope.get("state", {}).get(REQUEST_WRITES)
    route = getattr(scope.get("route"), "path", None)
    policy = None if route is None else policy_for(scope["method"], route)
    if writes is None or policy is None or not policy.audited:
        return False
    writes.append(write)
    return True


def write_with_record(scope: Scope, store: Store, write: Callable[[Session], object]) -> None:
    """`commit_with_record`, or (a request not being recorded) commit the write at once."""
    if not commit_with_record(scope, write):
        with store.transaction() as session:
            write(session)


def name_declarations(scope: Scope, ids: Iterable[str]) -> None:
    """The declaration ids a successful request consulted, for its record.

    Without them the record takes every ``declaration_id`` it finds in the request and
    response bodies, which means parsing both again.
    """
    scope.setdefault("state", {})[NAMED_IDS] = list(ids)


def commit_event(
    state: ServiceState,
    *,
    route: str,
    status: int,
    who: Caller | None,
    writes: Sequence[Callable[[Session], object]] = (),
    detail: Mapping[str, Any] | None = None,
) -> bool:
    """Commit ``writes`` and their consultation record in one transaction, or neither: for
    what the pages do outside the API (sign-in, sign-out, a session's changes, failed
    sign-ins). False when nothing could be committed (the page answers 503).

    ``who``: the caller (its key or session, and person); None records ``-`` (nobody known).
    """
    from serving.audit import records
    from serving.audit.chain import AuditEvent

    person = None if who is None else who.person
    event = AuditEvent(
        recorded_at=datetime.now(UTC),
        key_id="-" if who is None else who.key.key_id,
        key_name="-" if who is None else who.key.name,
        role="-" if who is None else who.key.role.value,
        route=route,
        justification=None if who is None else who.justification,
        status=status,
        detail=dict(detail or {}),
        issuer=None if person is None else person.issuer,
        subject=None if person is None else person.subject,
        person=None if person is None else person.name,
    )
    if state.store is None:
        return False
    try:
        state.audit_log.append(state.store, event, writes)
    except (records.AuditWriteError, records.RequestWriteError) as error:
        log.error("%s not recorded, nothing kept: %s", route, type(error).__name__)
        return False
    return True
