"""Probes: liveness, readiness and Prometheus metrics, answered without a key."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from serving.base import MODEL_VERSION_HEADER
from serving.deps import State
from serving.metrics import CONTENT_TYPE_LATEST
from serving.model.performance import show_newest

log = logging.getLogger(__name__)

router = APIRouter(tags=["probes"])


@router.get("/livez")
def livez() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "alive"}


@router.get("/readyz", responses={503: {"description": "no verified model loaded"}})
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


@router.get("/metrics", response_class=Response)
def metrics(state: State) -> Response:
    """Prometheus metrics of this instance, with the newest performance figures of the store."""
    if state.store is not None:
        try:
            show_newest(state.store, state.metrics)
        except SQLAlchemyError as error:  # the figures stay as they were; the scrape answers
            log.warning("performance figures not read: %s", type(error).__name__)
    return Response(state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
