"""Security settings of the service, mixed into `serving.settings.ServiceSettings`.

Every field reads ``SHIPRISK_<FIELD>`` like the rest of the service's settings. Secrets are
never checked inside pydantic validators: a validation error would print the input, secret
included. `AccessSettings.pepper` checks them instead and raises `InsecureSettings`, whose
message names the variable and never its value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

from serving.access.policy import Exposure

DEVELOPMENT_PEPPER = "shiprisk-development-pepper-not-for-production"
MIN_PEPPER_CHARS = 32
DEFAULT_RETENTION_DAYS = 3 * 365


class InsecureSettings(RuntimeError):
    """Production mode with a missing or default secret: the service refuses to start."""


class AccessSettings(BaseSettings):
    """Keys, the consultation log's retention, and what is exposed without a key."""

    env: Literal["development", "production"] = Field(
        default="development",
        description="production refuses default secrets and closes the OpenAPI docs",
    )
    key_pepper: SecretStr | None = Field(
        default=None, description="server-side secret mixed into every API key hash"
    )
    key_pepper_file: Path | None = Field(
        default=None, description="file holding the pepper; wins over SHIPRISK_KEY_PEPPER"
    )
    audit_retention_days: int = Field(
        default=DEFAULT_RETENTION_DAYS,
        ge=1,
        description="consultation-log records younger than this cannot be purged",
    )
    docs: Exposure | None = Field(
        default=None,
        description="/docs, /redoc, /openapi.json: open, restricted (any key) or off; "
        "default open, in production off",
    )
    metrics: Exposure | None = Field(
        default=None,
        description="/metrics: open, restricted (risk manager or admin key) or off; "
        "default open, in production restricted",
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="browser origins allowed to call the API (JSON list)"
    )

    @property
    def production(self) -> bool:
        """Whether the service runs in production mode."""
        return self.env == "production"

    def docs_exposure(self) -> Exposure:
        """How the OpenAPI docs are served."""
        if self.docs is not None:
            return self.docs
        return Exposure.OFF if self.production else Exposure.OPEN

    def metrics_exposure(self) -> Exposure:
        """How /metrics is served."""
        if self.metrics is not None:
            return self.metrics
        return Exposure.RESTRICTED if self.production else Exposure.OPEN

    def pepper(self) -> bytes:
        """The key-hash pepper: from the file, else the variable, else (development) a default.

        Raises:
            InsecureSettings: in production, when the pepper is missing, the development
                default, or shorter than 32 characters; or the file cannot be read.
        """
        value: str | None = None
        source = "SHIPRISK_KEY_PEPPER"
        if self.key_pepper_file is not None:
            source = "SHIPRISK_KEY_PEPPER_FILE"
            try:
                value = self.key_pepper_file.read_text(encoding="utf-8").strip()
            except OSError as error:
                raise InsecureSettings(
                    f"{source}: cannot read {self.key_pepper_file} ({type(error).__name__})"
                ) from None
        elif self.key_pepper is not None:
            value = self.key_pepper.get_secret_value()
        if not value:
            if self.production:
                raise InsecureSettings(
                    "SHIPRISK_ENV=production needs a key pepper: set SHIPRISK_KEY_PEPPER_FILE "
                    "to a file holding a random secret of at least 32 characters (or "
                    "SHIPRISK_KEY_PEPPER)"
                )
            value = DEVELOPMENT_PEPPER
        if self.production and value == DEVELOPMENT_PEPPER:
            raise InsecureSettings(
                f"{source} is the development default: production needs its own secret"
            )
        if self.production and len(value) < MIN_PEPPER_CHARS:
            raise InsecureSettings(f"{source} is shorter than {MIN_PEPPER_CHARS} characters")
        return value.encode("utf-8")
