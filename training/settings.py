"""Settings of the training commands, read once from the environment (DESIGN.md, Settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.tracking_uri import DEFAULT_TRACKING_URI, resolved_tracking_uri


class TrainingSettings(BaseSettings):
    """Environment settings with the SHIPRISK_ prefix; MLflow's own variable wins when set."""

    model_config = SettingsConfigDict(env_prefix="SHIPRISK_", extra="ignore")

    tracking_uri: str = DEFAULT_TRACKING_URI
    model_name: str = "shiprisk"
    data_dir: Path = Field(default=Path("data"))
    # Default Dask scheduler of `shiprisk train` (DESIGN.md, Settings); unset: one process.
    dask_scheduler: str | None = None

    def resolved_tracking_uri(self) -> str:
        """MLFLOW_TRACKING_URI when set, else SHIPRISK_TRACKING_URI, else the embedded store."""
        return resolved_tracking_uri(self.tracking_uri)
