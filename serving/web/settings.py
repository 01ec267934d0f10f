"""Settings of the web pages, read once with the service's (``SHIPRISK_`` variables)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    """How the pages set their cookie and where they link to MLflow."""

    model_config = SettingsConfigDict(env_prefix="SHIPRISK_", extra="ignore")

    web_secure_cookie: bool = Field(
        default=True,
        description="send the session cookie over HTTPS only (browsers also accept it from "
        "http://localhost); switch off only behind a TLS-terminating proxy on plain HTTP",
    )
    mlflow_ui_url: str | None = Field(
        default=None,
        description="address of the MLflow UI, for the model page's link to the model's run",
    )
