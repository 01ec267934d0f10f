"""GET /v1/model (risk managers) and POST /v1/admin/reload (admins): the model being served."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response

from serving.base import MODEL_VERSION_HEADER, ErrorResponse, ModelRef, risk_basis
from serving.deps import ServedModel, State
from serving.model.heap import settle_heap
from serving.model.holder import ModelLoadError
from serving.model.monitor import latest_drift
from serving.model.performance import latest_performance
from serving.model.schemas import ModelInfo, ReloadResponse

router = APIRouter(prefix="/v1", tags=["model"])
admin_router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.get(
    "/model",
    response_model=ModelInfo,
    responses={503: {"model": ErrorResponse, "description": "no model loaded"}},
)
def model_info(response: Response, model: ServedModel, state: State) -> ModelInfo:
    """The model being served: version, training window, test metrics, importance, drift."""
    metadata = model.bundle.metadata
    response.headers[MODEL_VERSION_HEADER] = model.label
    return ModelInfo(
        model=ModelRef(name=model.name, version=model.version),
        model_uri=model.uri,
        loaded_at=model.loaded_at,
        threats=list(model.bundle.threats),
        risk_basis=risk_basis(metadata),
        training_window=dict(metadata.get("training_window") or {}),
        metrics=dict(metadata.get("metrics") or {}),
        importance=dict(metadata.get("importance") or {}),
        drift=None if state.store is None else latest_drift(state.store),
        performance=None if state.store is None else latest_performance(state.store),
    )


@admin_router.post(
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
