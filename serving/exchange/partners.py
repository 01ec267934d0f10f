"""Partner agencies and their agreements, read once from the YAML file the settings name.

```yaml
partners:
  BA-ITA:                       # the partner's organisation id (its messages' sender)
    country: BA
    key: {kty: OKP, crv: Ed25519, x: "..."}   # its public signing key (JWK)
    personal_data: false        # the agreement allows personal identifiers in clear
    redisseminate_from: []      # providers whose H2 (or H3 no-dissemination) entries
                                # may be passed to this partner (their written permission)
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from joserfc.jwk import OKPKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from serving.exchange.settings import ExchangeSettings


class ExchangeConfigError(ValueError):
    """The partners file or a key does not fit: the message names the file and the entry."""


class PartnerAgreement(BaseModel):
    """One partner as the partners file describes it."""

    model_config = ConfigDict(extra="forbid")

    country: str = Field(pattern=r"^[A-Z]{2}$")
    key: dict[str, Any] = Field(description="public Ed25519 JWK")
    personal_data: bool = False
    redisseminate_from: list[str] = Field(default_factory=list)


class PartnersFile(BaseModel):
    """The partners file: organisation id -> agreement."""

    model_config = ConfigDict(extra="forbid")

    partners: dict[str, PartnerAgreement] = Field(default_factory=dict)


@dataclass(frozen=True)
class Partner:
    """A partner agency with its verified public key."""

    organisation: str
    country: str
    key: OKPKey
    personal_data: bool = False
    redisseminate_from: frozenset[str] = frozenset()


def public_key(jwk: Mapping[str, Any], *, where: str) -> OKPKey:
    """An Ed25519 public key from a JWK (a private part, if any, is dropped)."""
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ExchangeConfigError(f"{where}: the key must be an Ed25519 JWK (kty OKP, crv Ed25519)")
    try:
        key = OKPKey.import_key(dict(jwk))
    except Exception as error:
        raise ExchangeConfigError(f"{where}: not a usable key ({type(error).__name__})") from None
    return OKPKey.import_key(key.as_dict(private=False))


def read_partners(path: Path | None) -> dict[str, Partner]:
    """The partners of the file (none when no file is configured).

    Raises:
        ExchangeConfigError: unreadable YAML, an unknown field, or a key that is not Ed25519.
    """
    if path is None:
        return {}
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        parsed = PartnersFile.model_validate(raw)
    except (OSError, yaml.YAMLError) as error:
        raise ExchangeConfigError(f"{path}: cannot read ({type(error).__name__})") from None
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            for item in error.errors()
        )
        raise ExchangeConfigError(f"{path}: {problems}") from None
    return {
        organisation: Partner(
            organisation=organisation,
            country=agreement.country,
            key=public_key(agreement.key, where=f"{path}: partners.{organisation}.key"),
            personal_data=agreement.personal_data,
            redisseminate_from=frozenset(agreement.redisseminate_from),
        )
        for organisation, agreement in parsed.partners.items()
    }


@dataclass(frozen=True)
class ExchangeConfig:
    """Everything the exchange needs, read once per runnable from its settings."""

    organisation: str
    country: str
    signing_key: OKPKey
    pseudonym_key: bytes = field(repr=False)
    partners: Mapping[str, Partner]
    handling_code: str = "H1"
    retention: timedelta = timedelta(days=365)

    @classmethod
    def from_settings(
        cls, settings: ExchangeSettings, data_dir: Path, *, production: bool
    ) -> ExchangeConfig:
        """Read the partners file and both keys.

        Raises:
            ExchangeConfigError: the partners file or the signing key does not fit.
            serving.access.settings.InsecureSettings: a key missing in production.
        """
        return cls(
            organisation=settings.exchange_organisation,
            country=settings.exchange_country,
            signing_key=private_key(settings.exchange_signing_jwk(data_dir, production=production)),
            pseudonym_key=settings.exchange_pseudonym_secret(data_dir, production=production),
            partners=read_partners(settings.exchange_partners_file),
            handling_code=settings.exchange_handling_code,
            retention=timedelta(days=settings.exchange_retention_days),
        )

    def public_jwk(self) -> dict[str, Any]:
        """Our public key as a JWK, for partners' files."""
        return dict(self.signing_key.as_dict(private=False))


def private_key(material: str | bytes) -> OKPKey:
    """Our Ed25519 signing key from a private JWK (text) or a 32-byte seed (development)."""
    if isinstance(material, bytes):
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return OKPKey.import_key(Ed25519PrivateKey.from_private_bytes(material))
    try:
        key = OKPKey.import_key(yaml.safe_load(material))
    except Exception as error:
        raise ExchangeConfigError(
            f"SHIPRISK_EXCHANGE_SIGNING_KEY_FILE: not a private Ed25519 JWK "
            f"({type(error).__name__})"
        ) from None
    if key.curve_name != "Ed25519" or not key.is_private:
        raise ExchangeConfigError(
            "SHIPRISK_EXCHANGE_SIGNING_KEY_FILE: the key must be a private Ed25519 JWK"
        )
    return key
