"""The FastAPI app factory: settings in, an app whose lifespan loads and verifies the model.

Nothing happens at import time. `create_app` wires the settings, the model holder, the
scoring queue, the rooms' routes, the pages and the middleware; the lifespan
(`serving.lifespan`) loads the bundle named by ``SHIPRISK_MODEL_URI``. When no model can be
loaded the app still starts, so probes and operators can see why: /livez answers 200, /readyz
and /v1/scores 503 with the reason.

Run it with ``uvicorn --factory serving.app:create_app`` or ``shiprisk serve``.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from serving.access.authenticate import AccessControl
from serving.access.headers import SecurityHeaders
from serving.access.openapi import document_keys, document_limits
from serving.access.policy import Exposure
from serving.access.query import single_valued_query
from serving.access.shield import ErrorShield
from serving.audit.chain import AuditKey
from serving.audit.middleware import ConsultationRecords
from serving.audit.records import AuditLog
from serving.base import MODEL_VERSION_HEADER, ServiceState
from serving.errors import add_error_handlers
from serving.inspections.service import OperationsPolicy
from serving.lifespan import lifespan
from serving.limits import RequestLimits
from serving.metrics import RequestMetrics, ServiceMetrics
from serving.model.holder import BundleLoader, ModelHolder, registry_loader
from serving.model.performance import PerformanceMonitor, performance_settings
from serving.routes import include_routes
from serving.scoring.queue import ScoringQueue
from serving.settings import ServiceSettings
from serving.web.wiring import include_web


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
    audit_key = AuditKey(settings.audit_key_secret(settings.data_dir))  # read once, kept
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
        lifespan=lifespan,
        docs_url=None if docs_off else "/docs",
        redoc_url=None if docs_off else "/redoc",
        openapi_url=None if docs_off else "/openapi.json",
        # Every route, pages included: a repeated single-valued query parameter is refused.
        dependencies=[Depends(single_valued_query)],
    )
    scoring = ScoringQueue(
        num_threads=settings.lightgbm_threads(),
        max_rows=settings.max_rows,
        max_wait_seconds=settings.batch_wait_ms / 1000,
    )
    policy = OperationsPolicy(
        severity=dict(settings.severity),
        exploration_share=settings.exploration_share,
        lane_min_scores=settings.lane_min_scores,
    )
    app.state.service = ServiceState(
        settings,
        holder,
        metrics,
        scoring,
        policy,
        AuditLog(audit_key, settings.checkpoint_path(settings.data_dir)),
        performance=PerformanceMonitor(
            performance_settings(settings), refresh_seconds=settings.monitor_refresh_seconds
        ),
    )
    add_error_handlers(app)
    include_routes(app)
    document_keys(app)
    document_limits(app, settings.max_top_k)
    include_web(app)  # pages under /web: they read everything through the routes above
    # Outermost last: keys are checked before any of the body is read; the record of a
    # request is written once its key is known, and the request limits (size, nesting, text)
    # answer inside it, so their refusals are recorded too; metrics time everything,
    # including 401s and 413s; every response, errors included, gets the headers.
    app.add_middleware(RequestLimits, max_bytes=settings.max_body_bytes)
    app.add_middleware(ConsultationRecords)
    app.add_middleware(AccessControl)
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


__all__ = ["create_app"]
