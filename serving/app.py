"""The FastAPI app factory: settings in, an app whose lifespan loads and verifies the model.

Nothing happens at import time. `create_app` wires settings, the model holder, metrics, the
request-size limit and the error handlers; the lifespan loads the bundle named by
``SHIPRISK_MODEL_URI``. When no model can be loaded the app still starts, so probes and
operators can see why: /livez answers 200, /readyz and /v1/scores 503 with the reason.

Run it with ``uvicorn --factory serving.app:create_app`` or ``shiprisk serve``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager, suppress
from typing import Any

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from features.validation import DataValidationError
from serving import routes
from serving.access.authenticate import AccessControl, ErrorShield, SecurityHeaders, document_keys
from serving.access.policy import Exposure
from serving.inspections.service import OperationsPolicy
from serving.metrics import ServiceMetrics
from serving.model.holder import (
    BundleLoader,
    ModelHolder,
    ModelLoadError,
    ScoringQueue,
    registry_loader,
    settle_heap,
)
from serving.routes import MODEL_VERSION_HEADER, ServiceState
from serving.settings import ServiceSettings
from serving.store.database import Store, normalised_url
from serving.web.wiring import include_web

log = logging.getLogger(__name__)

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


# -- request body limit ------------------------------------------------------------------------


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        status_code=413,
        content={
            "detail": f"request body larger than {limit} bytes: send fewer declarations per "
            "request, or score large files with `shiprisk score`"
        },
    )


class BodySizeLimit:
    """Answers 413 to a body over ``max_bytes``: by Content-Length, and by counting what arrives.

    The body is read here before the route runs (it is at most ``max_bytes``), so a client that
    sends no or a false Content-Length cannot make the service parse more than the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(self.max_bytes)(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _too_large(self.max_bytes)(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


# -- request metrics ---------------------------------------------------------------------------


class RequestMetrics:
    """Times every request and records it by route template, status and model version."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics, holder: ModelHolder) -> None:
        self.app = app
        self.metrics = metrics
        self.holder = holder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        model_version: str | None = None

        async def send_and_watch(message: MutableMapping[str, Any]) -> None:
            nonlocal status, model_version
            if message["type"] == "http.response.start":
                status = int(message["status"])
                for key, value in message.get("headers", []):
                    if key.decode("latin-1").lower() == MODEL_VERSION_HEADER.lower():
                        model_version = value.decode("latin-1")
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            route = scope.get("route")
            # Templates, not raw paths: /v1/declarations/{id} must stay one time series.
            template = getattr(route, "path", None) or "unmatched"
            if model_version is None and (current := self.holder.current) is not None:
                model_version = current.label
            self.metrics.observe_request(
                template, scope["method"], status, model_version, time.perf_counter() - started
            )


# -- errors ------------------------------------------------------------------------------------


def _request_validation_error(_: Request, error: Exception) -> JSONResponse:
    """422 with each field path and what was expected; the submitted values are left out."""
    assert isinstance(error, RequestValidationError)
    detail = [
        {
            "loc": [str(part) if not isinstance(part, int) else part for part in item["loc"]],
            "msg": item["msg"],
            "type": item["type"],
        }
        for item in error.errors()
    ]
    return JSONResponse(status_code=422, content={"detail": detail})


def _data_validation_error(_: Request, error: Exception) -> JSONResponse:
    """422 for declarations that parse but do not validate (unknown itinerary country, ...).

    `Problem.values` hold the offending values: they are dropped, rows become field paths.
    """
    assert isinstance(error, DataValidationError)
    detail: list[dict[str, Any]] = []
    for problem in error.problems:
        base: list[str | int] = ["body", "declarations"]
        message = {"msg": problem.message, "type": "declaration_invalid", "fix": problem.fix}
        if problem.rows:
            for row in problem.rows:
                loc = [*base, row - 1, *([problem.column] if problem.column else [])]
                detail.append({"loc": loc, **message})
        else:
            detail.append(
                {"loc": [*base, *([problem.column] if problem.column else [])], **message}
            )
    log.info(
        "rejected declarations: %d problems in columns %s",
        len(error.problems),
        sorted({p.column or "-" for p in error.problems}),
    )
    return JSONResponse(status_code=422, content={"detail": detail})


# -- the app -----------------------------------------------------------------------------------


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load and verify the model before serving; start without one rather than not at all."""
    state: ServiceState = app.state.service
    # A failure is logged and counted by the holder; /readyz reports the reason.
    with suppress(ModelLoadError):
        await to_thread.run_sync(state.model_holder.load)
    await to_thread.run_sync(_open_store, state)
    state.scoring.start()
    settle_heap()  # the startup's objects stay out of the collections made while serving
    try:
        yield
    finally:
        await to_thread.run_sync(state.scoring.stop)
        if state.store is not None:
            state.store.close()
            state.store = None


def _open_store(state: ServiceState) -> None:
    """Open and migrate the operational store; on failure keep why, for /readyz and 503s."""
    url = state.settings.resolved_database_url()
    shown = normalised_url(url).render_as_string(hide_password=True)
    try:
        state.store = Store.open(url)
        state.store_error = None
    except Exception as error:  # the service starts anyway: probes must be able to say why
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        state.store_error = f"could not open {shown}: {type(error).__name__}: {first_line}"
        log.error("operational store: %s", state.store_error)


def create_app(
    settings: ServiceSettings | None = None, *, loader: BundleLoader | None = None
) -> FastAPI:
    """Build the scoring service.

    Args:
        settings: service settings; read from the environment when omitted (uvicorn factory mode).
        loader: how bundles are loaded; by default verified from the MLflow registry at the
            settings' tracking URI.
    """
    settings = settings or ServiceSettings()
    settings.pepper()  # production mode without its own secrets stops here (InsecureSettings)
    metrics = ServiceMetrics()
    docs_off = settings.docs_exposure() == Exposure.OFF

    holder = ModelHolder(
        settings.model_uri,
        loader or registry_loader(settings.resolved_tracking_uri()),
        on_failure=lambda _reason: metrics.model_load_failures.inc(),
    )
    metrics.model_loaded.set_function(lambda: 0.0 if holder.current is None else 1.0)
    app = FastAPI(
        title="shiprisk",
        summary="Risk scores with reasons for customs declarations.",
        version=_package_version(),
        lifespan=_lifespan,
        docs_url=None if docs_off else "/docs",
        redoc_url=None if docs_off else "/redoc",
        openapi_url=None if docs_off else "/openapi.json",
    )
    scoring = ScoringQueue(
        num_threads=settings.lightgbm_threads(),
        max_rows=settings.max_rows,
        max_wait_seconds=settings.batch_wait_ms / 1000,
    )
    policy = OperationsPolicy(
        severity=dict(settings.severity), exploration_share=settings.exploration_share
    )
    app.state.service = ServiceState(settings, holder, metrics, scoring, policy)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(DataValidationError, _data_validation_error)
    routes.include_routes(app)
    document_keys(app)
    include_web(app)  # pages under /web: they read everything through the routes above
    # Outermost last: keys are checked on bodies already bounded by the size limit; metrics
    # time everything, including 413s; every response, errors included, gets the headers.
    app.add_middleware(AccessControl)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestMetrics, metrics=metrics, holder=holder)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-API-Key", "X-Justification", "Content-Type"],
            expose_headers=[MODEL_VERSION_HEADER],
        )
    app.add_middleware(ErrorShield)
    app.add_middleware(SecurityHeaders)
    return app


def _package_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("shiprisk")
    except metadata.PackageNotFoundError:
        return "unknown"


__all__ = ["MODEL_VERSION_HEADER", "ServiceState", "create_app"]
