"""Settings of the scoring service and batch scoring, read once from the environment.

Variable names are part of the contract (DESIGN.md, Settings): every field reads
``SHIPRISK_<FIELD>``; MLflow's own ``MLFLOW_TRACKING_URI`` wins over ``SHIPRISK_TRACKING_URI``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from models.cores import available_cores
from models.tracking_uri import DEFAULT_TRACKING_URI, resolved_tracking_uri
from serving.access.settings import AccessSettings
from serving.base import MAX_REQUEST_ITEMS
from serving.exchange.settings import ExchangeSettings
from serving.inspections.worklist import DEFAULT_EXPLORATION_SHARE, DEFAULT_SEVERITY
from serving.model.settings import MonitorSettings
from serving.store.database import DATABASE_FILE
from serving.waivers.settings import WaiverSettings

DEFAULT_MODEL_URI = "models:/shiprisk@champion"
DEFAULT_DATABASE_URL = "sqlite:///data/shiprisk.db"
MEBIBYTE = 1024 * 1024


class ServiceSettings(AccessSettings, ExchangeSettings, MonitorSettings, WaiverSettings):
    """What the service loads, the limits it enforces on requests, its access settings,
    those of the exchange with partner agencies, of the performance monitor and the
    waivers' exception codes."""

    model_config = SettingsConfigDict(env_prefix="SHIPRISK_", extra="ignore")

    model_uri: str = Field(
        default=DEFAULT_MODEL_URI, description="registered bundle to serve: models:/<name>@<alias>"
    )
    tracking_uri: str = Field(
        default=DEFAULT_TRACKING_URI, description="MLflow tracking and registry"
    )
    database_url: str = Field(
        default=DEFAULT_DATABASE_URL, description="operational store (PostgreSQL by URL)"
    )
    data_dir: Path = Field(default=Path("data"), description="generated data and local files")
    exploration_share: float = Field(
        default=DEFAULT_EXPLORATION_SHARE,
        ge=0,
        le=1,
        description="expected share of each worklist drawn at random, with known probability",
    )
    lane_min_scores: int = Field(
        default=200,
        ge=1,
        description="recent scores an office needs before PUT /v1/offices/{id}/capacity "
        "refits its lane thresholds",
    )
    severity: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_SEVERITY),
        description='weight per threat in expected harm, JSON: {"weapons": 10, "revenue": 1}',
    )
    max_rows: int = Field(
        default=MAX_REQUEST_ITEMS,
        ge=1,
        le=MAX_REQUEST_ITEMS,
        description="declarations accepted in one request (at most the API's list cap)",
    )
    max_body_bytes: int = Field(default=MEBIBYTE, ge=1024, description="request body size limit")
    top_k: int = Field(
        default=5, ge=0, description="reasons per declaration when a request names none"
    )
    max_top_k: int = Field(default=50, ge=0, description="most reasons a request may ask for")
    batch_wait_ms: float = Field(
        default=20.0,
        ge=0,
        description="how long the scoring queue waits for concurrent requests to join a batch "
        "(only while the process is busy)",
    )
    num_threads: int | None = Field(
        default=None, ge=1, description="LightGBM threads per worker; default: every available core"
    )
    dask_scheduler: str | None = Field(
        default=None,
        description="Dask scheduler for `shiprisk score` (tcp://host:port, local or local:N); "
        "unset: one process",
    )

    def resolved_tracking_uri(self) -> str:
        """MLFLOW_TRACKING_URI when set, else SHIPRISK_TRACKING_URI, else the embedded store."""
        return resolved_tracking_uri(self.tracking_uri)

    def resolved_database_url(self) -> str:
        """The store's URL; the default SQLite file lives under SHIPRISK_DATA_DIR."""
        if self.database_url == DEFAULT_DATABASE_URL:
            return f"sqlite:///{self.data_dir / DATABASE_FILE}"
        return self.database_url

    def lightgbm_threads(self) -> int:
        """Threads LightGBM may use in this process: the setting, capped by the cores we have."""
        cores = available_cores()
        return min(self.num_threads, cores) if self.num_threads else cores


def store_url(database_url: str | None) -> str:
    """The store a command opens: the URL given, else the settings' (SHIPRISK_DATABASE_URL)."""
    return database_url or ServiceSettings().resolved_database_url()
