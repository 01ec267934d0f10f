"""Security settings of the service, mixed into `serving.settings.ServiceSettings`.

Every field reads ``SHIPRISK_<FIELD>`` like the rest of the service's settings. Secrets are
never checked inside pydantic validators: a validation error would print the input, secret
included. `AccessSettings.pepper` and `AccessSettings.audit_key` check them instead and raise
`InsecureSettings`, whose message names the variable and never its value.

Two secrets, kept apart: the pepper (API key hashes) and the audit key (the consultation
log's HMAC chain and checkpoints). A dedicated audit key, not one derived from the pepper:
changing the pepper is the remedy for a leaked pepper and must not make the log unverifiable,
and an auditor who verifies the log needs the audit key without being able to check guesses
at API keys.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

from serving.access.policy import Exposure

DEVELOPMENT_PEPPER = "shiprisk-development-pepper-not-for-production"
MIN_PEPPER_CHARS = 32
DEFAULT_RETENTION_DAYS = 3 * 365
MIN_AUDIT_KEY_CHARS = 32
AUDIT_KEY_FILE = "audit.key"  # development: generated under the data directory
CHECKPOINT_FILE = "audit-checkpoints.jsonl"  # default, under the data directory


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
    audit_key: SecretStr | None = Field(
        default=None,
        description="secret keying the consultation log's hash chain and checkpoints; never "
        "stored in the database (at least 32 characters)",
    )
    audit_key_file: Path | None = Field(
        default=None, description="file holding the audit key; wins over SHIPRISK_AUDIT_KEY"
    )
    audit_checkpoint_file: Path | None = Field(
        default=None,
        description="where `shiprisk audit checkpoint` appends signed checkpoints and `audit "
        f"verify` reads them; default <data dir>/{CHECKPOINT_FILE}",
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
        value, source = self._secret(
            self.key_pepper_file, self.key_pepper, "SHIPRISK_KEY_PEPPER", "a key pepper"
        )
        if not value:
            value = DEVELOPMENT_PEPPER
        if self.production and value == DEVELOPMENT_PEPPER:
            raise InsecureSettings(
                f"{source} is the development default: production needs its own secret"
            )
        if self.production and len(value) < MIN_PEPPER_CHARS:
            raise InsecureSettings(f"{source} is shorter than {MIN_PEPPER_CHARS} characters")
        return value.encode("utf-8")

    def audit_key_secret(self, data_dir: Path) -> bytes:
        """The audit key: from the file, else the variable, else (development) a generated file.

        In development without either, the key is ``<data_dir>/audit.key``, made (random,
        readable by its owner only) the first time. Read it once, when a runnable starts.

        Raises:
            InsecureSettings: in production, when the key is missing, shorter than 32
                characters or the same as the pepper; or the file cannot be read.
        """
        value, source = self._secret(
            self.audit_key_file,
            self.audit_key,
            "SHIPRISK_AUDIT_KEY",
            "an audit key",
            ", kept outside the database",
        )
        if not value:
            source = "the development audit key file"
            value = _development_key(data_dir / AUDIT_KEY_FILE)
        if len(value) < MIN_AUDIT_KEY_CHARS:
            raise InsecureSettings(f"{source} is shorter than {MIN_AUDIT_KEY_CHARS} characters")
        if self.production and value.encode("utf-8") == self.pepper():
            raise InsecureSettings(f"{source} is the key pepper: the audit key must be its own")
        return value.encode("utf-8")

    def _secret(
        self, file: Path | None, variable: SecretStr | None, name: str, what: str, where: str = ""
    ) -> tuple[str | None, str]:
        """(the secret, the variable it came from), as `_configured_secret`; in production a
        missing secret is refused, naming ``what`` it is and the variables that set it."""
        value, source = _configured_secret(file, variable, name)
        if not value and self.production:
            raise InsecureSettings(
                f"SHIPRISK_ENV=production needs {what}: set {name}_FILE to a file holding a "
                f"random secret of at least 32 characters (or {name}){where}"
            )
        return value, source

    def checkpoint_path(self, data_dir: Path) -> Path:
        """Where checkpoints are appended and read: the setting, else under the data directory."""
        return self.audit_checkpoint_file or data_dir / CHECKPOINT_FILE


def _configured_secret(
    file: Path | None, variable: SecretStr | None, name: str
) -> tuple[str | None, str]:
    """(the secret, the variable it came from): ``<name>_FILE`` wins over ``<name>``."""
    if file is not None:
        return _read_secret(file, f"{name}_FILE"), f"{name}_FILE"
    return (None if variable is None else variable.get_secret_value()), name


def _read_secret(path: Path, source: str) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise InsecureSettings(f"{source}: cannot read {path} ({type(error).__name__})") from None


def _development_key(path: Path) -> str:
    """The development audit key at ``path``, made on first use (never overwritten)."""
    import secrets

    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside, then linked into place: another process starting at the same moment
        # either keeps its own key (and this one reads it) or never sees a half-written file.
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return _read_secret(path, "the development audit key file")
