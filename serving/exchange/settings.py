"""Settings of the exchange with partner agencies, mixed into `serving.settings.ServiceSettings`.

Every field reads ``SHIPRISK_<FIELD>``. Two secrets: our Ed25519 signing key (a private JWK in
a file) and the pseudonym key (a keyed hash of personal identifiers sent to partners whose
agreement does not allow them). In development both are made under the data directory the
first time; production refuses to start an exchange without them (`InsecureSettings`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings

from serving.access.settings import InsecureSettings, _development_key

EXCHANGE_KEY_FILE = "exchange.key"  # development: the seed of our signing key
PSEUDONYM_KEY_FILE = "exchange-pseudonym.key"  # development: the pseudonym key
DEFAULT_RETENTION_DAYS = 365
MIN_PSEUDONYM_KEY_CHARS = 32


class ExchangeSettings(BaseSettings):
    """Who we are to partners, who they are, and the keys we sign and pseudonymise with."""

    exchange_organisation: str = Field(
        default="shiprisk-development",
        min_length=1,
        max_length=200,
        description="our organisation id in exchange messages (the partners' name for us)",
    )
    exchange_country: str = Field(
        default="ZZ", pattern=r"^[A-Z]{2}$", description="our country, ISO 3166-1 alpha-2"
    )
    exchange_partners_file: Path | None = Field(
        default=None,
        description="YAML file of partner agencies, their public keys and agreements "
        "(docs/exchange.md); no partners when unset",
    )
    exchange_signing_key_file: Path | None = Field(
        default=None,
        description="file holding our private Ed25519 JWK; development: made under the data "
        f"directory ({EXCHANGE_KEY_FILE})",
    )
    exchange_pseudonym_key_file: Path | None = Field(
        default=None,
        description="file holding the secret that pseudonymises personal identifiers sent to "
        f"partners; development: made under the data directory ({PSEUDONYM_KEY_FILE})",
    )
    exchange_handling_code: str = Field(
        default="H1",
        pattern=r"^H[0-3]$",
        description="handling code of the reports we send (H3 is not offered: it needs a text)",
    )
    exchange_retention_days: int = Field(
        default=DEFAULT_RETENTION_DAYS,
        ge=1,
        description="retain-until of the reports we send, in days after sending",
    )

    def exchange_signing_jwk(self, data_dir: Path, *, production: bool) -> str | bytes:
        """Our private key: the configured JWK file's text, else (development) a 32-byte seed
        derived from a secret made once under ``data_dir``.

        Raises:
            InsecureSettings: production without a key file, or a file that cannot be read.
        """
        if self.exchange_signing_key_file is not None:
            try:
                return self.exchange_signing_key_file.read_text(encoding="utf-8")
            except OSError as error:
                raise InsecureSettings(
                    f"SHIPRISK_EXCHANGE_SIGNING_KEY_FILE: cannot read it ({type(error).__name__})"
                ) from None
        if production:
            raise InsecureSettings(
                "SHIPRISK_ENV=production needs SHIPRISK_EXCHANGE_SIGNING_KEY_FILE: a private "
                "Ed25519 JWK (`shiprisk exchange keygen`)"
            )
        secret = _development_key(data_dir / EXCHANGE_KEY_FILE)
        return hashlib.sha256(secret.encode("utf-8")).digest()

    def exchange_pseudonym_secret(self, data_dir: Path, *, production: bool) -> bytes:
        """The pseudonym key: the configured file, else (development) one made under
        ``data_dir``.

        Raises:
            InsecureSettings: production without the file, a short key, or an unreadable file.
        """
        source = "SHIPRISK_EXCHANGE_PSEUDONYM_KEY_FILE"
        if self.exchange_pseudonym_key_file is not None:
            try:
                value = self.exchange_pseudonym_key_file.read_text(encoding="utf-8").strip()
            except OSError as error:
                raise InsecureSettings(
                    f"{source}: cannot read it ({type(error).__name__})"
                ) from None
        elif production:
            raise InsecureSettings(
                f"SHIPRISK_ENV=production needs {source}: a random secret of at least "
                f"{MIN_PSEUDONYM_KEY_CHARS} characters"
            )
        else:
            value = _development_key(data_dir / PSEUDONYM_KEY_FILE)
        if len(value) < MIN_PSEUDONYM_KEY_CHARS:
            raise InsecureSettings(f"{source} is shorter than {MIN_PSEUDONYM_KEY_CHARS} characters")
        return value.encode("utf-8")
