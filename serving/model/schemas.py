"""Response models of the model routes: GET /v1/model and POST /v1/admin/reload."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from serving.base import ModelRef


class ModelInfo(BaseModel):
    """The model being served: version, training window, test metrics, global importance."""

    model: ModelRef
    model_uri: str
    loaded_at: datetime
    threats: list[str]
    training_window: dict[str, Any]
    metrics: dict[str, Any]
    importance: dict[str, dict[str, float | None]] = Field(
        description="mean absolute SHAP value per feature, per threat, largest first"
    )
    drift: dict[str, Any] | None = Field(
        None,
        description="latest `shiprisk monitor` figures: PSI per score, largest feature PSI, "
        "lane shares, alerts (null before the first run)",
    )


class ReloadResponse(BaseModel):
    """Outcome of POST /v1/admin/reload."""

    model: ModelRef
    previous: ModelRef | None
    changed: bool
