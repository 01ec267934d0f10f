"""Response models of the model routes: GET /v1/model and POST /v1/admin/reload."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from serving.base import ModelRef, RiskBasis

RISK_BASIS_DESCRIPTION = (
    "what a risk is a rate of: all_declarations when training corrected for selection bias "
    "with known selection probabilities, inspected_only when it could not (the risk is then "
    "the rate among declarations like those past rules inspected)"
)


class ModelInfo(BaseModel):
    """The model being served: version, training window, test metrics, global importance."""

    model: ModelRef
    model_uri: str
    loaded_at: datetime
    threats: list[str]
    risk_basis: RiskBasis = Field(description=RISK_BASIS_DESCRIPTION)
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
    performance: dict[str, Any] | None = Field(
        None,
        description="hit rates of stored outcomes per threat and week: model picks, random "
        "picks with a 95% interval, the Horvitz-Thompson rate over all declarations, and each "
        "threat's state (ok, alert, insufficient_data) with its alerts; null before outcomes",
    )


class ReloadResponse(BaseModel):
    """Outcome of POST /v1/admin/reload."""

    model: ModelRef
    previous: ModelRef | None
    changed: bool
