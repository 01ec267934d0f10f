"""Settings of the performance monitor (`serving.model.performance`), mixed into
`serving.settings.ServiceSettings`.

Every field reads ``SHIPRISK_<FIELD>``: the monitoring window, the alert thresholds and how
often the figures are recomputed after outcome writes.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings


class MonitorSettings(BaseSettings):
    """How far back the monitor reads outcomes, when it alerts, and how often it recomputes."""

    monitor_weeks: int = Field(
        default=8, ge=1, le=520, description="weeks of outcomes the performance monitor reads"
    )
    monitor_min_random_picks: int = Field(
        default=30,
        ge=1,
        description="random picks in the window before the monitor judges whether model picks "
        "beat them",
    )
    monitor_min_model_picks: int = Field(
        default=30, ge=1, description="model picks per side before a hit-rate drop is judged"
    )
    monitor_hit_rate_drop: float = Field(
        default=0.5,
        gt=0,
        lt=1,
        description="alert when the last week's model-pick hit rate falls by more than this share "
        "of the earlier weeks'",
    )
    monitor_refresh_seconds: float = Field(
        default=60.0,
        ge=0,
        description="the performance figures are recomputed at most this often after outcomes",
    )
