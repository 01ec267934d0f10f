"""HTTP routes: each parses, calls one function of models/ (or the holder), returns a model.

Routes are grouped by who calls them (DESIGN.md, Service): probes, officers, risk managers,
admins. Each group is its own router so that authentication and roles can be added later as a
router dependency in `include_routes`, without touching the routes themselves. Shared objects
arrive through typed dependencies, built by the app factory; nothing is global.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from features.records import canonical_records
from serving.access.authenticate import (
    CurrentCaller,
    commit_with_record,
    current_caller,
    name_declarations,
)
from serving.access.policy import unlisted_routes
from serving.access.remit import refuse_declarations
from serving.audit import routes as audit_routes
from serving.audit.records import AuditLog
from serving.inspections import routes as operation_routes
from serving.inspections import service as operations
from serving.inspections.service import OperationsPolicy
from serving.metrics import CONTENT_TYPE_LATEST, ServiceMetrics
from serving.model.holder import (
    LoadedModel,
    ModelHolder,
    ModelLoadError,
    ScoringQueue,
    settle_heap,
    validated_declarations,
)
from serving.scoring.schemas import (
    ErrorResponse,
    ModelInfo,
    ModelRef,
    ReloadResponse,
    ScoreRequest,
    ScoreResponse,
    ScoreResult,
    declarations_frame,
)
from serving.settings import ServiceSettings
from serving.store.database import Store
from serving.store.group_commit import group_commit

MODEL_VERSION_HEADER = "X-Model-Version"
REQUEST_SOURCE = "request"  # the `source` named in validation problems of an API request


@dataclass
class ServiceState:
    """What routes share, created per app by the factory (``app.state.service``)."""

    settings: ServiceSettings
    model_holder: ModelHolder
    metrics: ServiceMetrics
    scoring: ScoringQueue
    policy: OperationsPolicy
    store: Store | None = None  # the operational store, opened by the lifespan
    store_error: str | None = "not opened yet"
    audit_log: AuditLog = field(default_factory=AuditLog)
    audit_error: str | None = None  # why the last consultation record failed, until one works


# -- dependencies ------------------------------------------------------------------------------


async def service_state(request: Request) -> ServiceState:
    """The state of the app serving this request."""
    state: ServiceState = request.app.state.service
    return state


State = Annotated[ServiceState, Depends(service_state)]


async def served_model(state: State) -> LoadedModel:
    """The model to score with, taken once per request; 503 with the reason when there is none."""
    return current_model(state)


def current_model(state: ServiceState) -> LoadedModel:
    """`served_model` as a plain call (the score route's, which keeps its dependencies few)."""
    current = state.model_holder.current
    if current is None:
        raise HTTPException(
            status_code=503,
            detail=f"no model loaded ({state.model_holder.last_error}). Register a model, point "
            f"the alias at it, then POST /v1/admin/reload",
        )
    return current


ServedModel = Annotated[LoadedModel, Depends(served_model)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorResponse, "description": "body or number of declarations over the limit"},
    422: {"model": ErrorResponse, "description": "field path and what was expected"},
    503: {"model": ErrorResponse, "description": "no model loaded"},
}

# -- probes ------------------------------------------------------------------------------------

probes = APIRouter(tags=["probes"])


@probes.get("/livez")
def livez() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "alive"}


@probes.get("/readyz", responses={503: {"description": "no verified model loaded"}})
def readyz(state: State) -> JSONResponse:
    """Readiness: 200 only while a verified model is loaded and the store is open."""
    current = state.model_holder.current
    if current is None:
        return JSONResponse(
            status_code=503,
            content={"status": "not ready", "reason": state.model_holder.last_error},
        )
    if state.store is None:
        return JSONResponse(
            status_code=503,
            content={
                "status": "not ready",
                "reason": f"operational store unavailable: {state.store_error}",
            },
        )
    if state.audit_error is not None and not state.audit_log.writable(state.store):
        return JSONResponse(
            status_code=503, content={"status": "not ready", "reason": state.audit_error}
        )
    state.audit_error = None
    return JSONResponse(
        content={"status": "ready", "model": {"name": current.name, "version": current.version}},
        headers={MODEL_VERSION_HEADER: current.label},
    )


@probes.get("/metrics", response_class=Response)
def metrics(state: State) -> Response:
    """Prometheus metrics of this instance."""
    return Response(state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


# -- officers ----------------------------------------------------------------------------------

officers = APIRouter(prefix="/v1", tags=["scores"])


def _limits(payload: ScoreRequest, settings: ServiceSettings) -> int:
    """Reject requests over the configured limits; return the number of reasons to give."""
    if len(payload.declarations) > settings.max_rows:
        raise HTTPException(
            status_code=413,
            detail=f"{len(payload.declarations)} declarations in one request, at most "
            f"{settings.max_rows}: split the request, or score files with `shiprisk score`",
        )
    top_k = settings.top_k if payload.top_k is None else payload.top_k
    if top_k > settings.max_top_k:
        raise HTTPException(
            status_code=422,
            detail=[
                {
                    "loc": ["body", "top_k"],
                    "msg": f"Input should be less than or equal to {settings.max_top_k}",
                    "type": "less_than_equal",
                }
            ],
        )
    return top_k


@officers.post("/scores", response_model=ScoreResponse, responses=_ERRORS)
async def score(payload: ScoreRequest, request: Request, caller: CurrentCaller) -> Response:
    """Score 1..N declarations: per-threat risk, overall risk, lane and top reasons."""
    # State, model and store by plain calls rather than dependencies: FastAPI's dependency
    # resolution is a tenth of the event loop's time per scored declaration.
    state: ServiceState = request.app.state.service
    model = current_model(state)
    store = operation_routes.open_store(state)
    top_k = _limits(payload, state.settings)
    refuse_declarations(caller, [d.office_id for d in payload.declarations], "declarations")
    # A coroutine: the canonical records, the wait for the scoring batch and the answer run
    # on the event loop, with no thread hop; only the frame validation (unusual values,
    # errors) and the store's commit run in threads.
    # The validated field values as pydantic keeps them (dict(model) costs 20 times more).
    records = [{**d.__dict__, **(d.model_extra or {})} for d in payload.declarations]
    declarations = canonical_records(records)
    if declarations is None:  # unusual values or invalid declarations: the frame path decides
        declarations = await run_in_threadpool(
            validated_declarations,
            lambda: declarations_frame(payload.declarations),
            source=REQUEST_SOURCE,
        )
    scored = await state.scoring.score_async(model, declarations, top_k)
    # Kept (committed) before the answer: worklists and outcomes build on what was served.
    # Committed with the request's consultation record when there is one (one commit).
    keep = operations.scores_write(scored, model_name=model.name, model_version=model.version)
    name_declarations(request.scope, [s.declaration_id for s in scored])
    if not commit_with_record(request.scope, keep):
        await run_in_threadpool(group_commit(store).submit, keep)
    state.metrics.count_lanes([s.lane for s in scored], model.label)
    body = ScoreResponse(
        model=ModelRef(name=model.name, version=model.version),
        results=[ScoreResult.from_scored(s) for s in scored],
    )
    # Sent as built: FastAPI would validate a returned model against response_model again.
    return Response(
        body.model_dump_json(),
        media_type="application/json",
        headers={MODEL_VERSION_HEADER: model.label},
    )


# -- risk managers -----------------------------------------------------------------------------

risk_managers = APIRouter(prefix="/v1", tags=["model"])


@risk_managers.get("/model", response_model=ModelInfo, responses={503: _ERRORS[503]})
def model_info(response: Response, model: ServedModel, state: State) -> ModelInfo:
    """The model being served: version, training window, test metrics, importance, drift."""
    metadata = model.bundle.metadata
    response.headers[MODEL_VERSION_HEADER] = model.label
    return ModelInfo(
        model=ModelRef(name=model.name, version=model.version),
        model_uri=model.uri,
        loaded_at=model.loaded_at,
        threats=list(model.bundle.threats),
        training_window=dict(metadata.get("training_window") or {}),
        metrics=dict(metadata.get("metrics") or {}),
        importance=dict(metadata.get("importance") or {}),
        drift=None if state.store is None else operations.latest_drift(state.store),
    )


# -- admins ------------------------------------------------------------------------------------

admins = APIRouter(prefix="/v1/admin", tags=["admin"])


@admins.post(
    "/reload",
    response_model=ReloadResponse,
    responses={503: {"model": ErrorResponse, "description": "reload failed; old model serves"}},
)
def reload_model(response: Response, state: State) -> ReloadResponse:
    """Load the model the alias names now, verify it, and swap it in atomically."""
    holder = state.model_holder
    try:
        loaded, previous = holder.load()
    except ModelLoadError as error:
        serving = holder.current
        still = f"still serving {serving.label}" if serving else "no model is being served"
        raise HTTPException(status_code=503, detail=f"reload failed, {still}: {error}") from error
    response.headers[MODEL_VERSION_HEADER] = loaded.label
    answer = ReloadResponse(
        model=ModelRef(name=loaded.name, version=loaded.version),
        previous=None
        if previous is None
        else ModelRef(name=previous.name, version=previous.version),
        changed=previous is None or previous.label != loaded.label,
    )
    del loaded, previous  # the replaced model goes in the collection below
    settle_heap()
    return answer


_ACCESS_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "no valid API key"},
    403: {"model": ErrorResponse, "description": "role or office remit does not allow this"},
    503: {"model": ErrorResponse, "description": "consultation log or store unavailable"},
}


def include_routes(app: FastAPI) -> None:
    """Mount every router; every /v1 route needs a key (checked by AccessControl).

    Raises:
        RuntimeError: a route has no entry in the role x route table (it would be closed to
            everyone; decide who may call it in serving/security/policy.py).
    """
    app.include_router(probes)
    keyed: dict[str, Any] = {
        "dependencies": [Depends(current_caller)],
        "responses": _ACCESS_ERRORS,
    }
    app.include_router(officers, **keyed)
    app.include_router(operation_routes.router, **keyed)
    app.include_router(risk_managers, **keyed)
    app.include_router(audit_routes.router, **keyed)
    app.include_router(admins, **keyed)
    routers = (officers, operation_routes.router, risk_managers, audit_routes.router, admins)
    declared = [
        (method, str(getattr(route, "path", "")))
        for router in routers
        for route in router.routes
        for method in getattr(route, "methods", None) or ()
    ]
    if missing := unlisted_routes(declared):
        raise RuntimeError(f"routes without an access policy: {missing}")
