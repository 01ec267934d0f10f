"""Signing and verifying exchange messages: JWS compact serialisation, Ed25519 (RFC 9864).

The protected header names the signer in ``kid`` (its organisation id, as in the partners
file) and the payload type in ``typ``. Verification looks the signer up among the configured
partners and accepts nothing else: no key in the header, no other algorithm.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey
from joserfc.jws import JWSRegistry

from serving.exchange.partners import Partner

ALGORITHM = "Ed25519"
MEDIA_TYPE = "shiprisk-exchange+json"
MAX_PAYLOAD_BYTES = 64 * 1024 * 1024  # joserfc's default (128 kB) is about 400 entities


class _ExchangeRegistry(JWSRegistry):
    """Ed25519 only, and payloads as large as a message of 100,000 entities."""

    max_payload_length = MAX_PAYLOAD_BYTES


REGISTRY = _ExchangeRegistry(algorithms=[ALGORITHM])


class SignatureRefused(ValueError):
    """A message that is not signed, not signed by a partner, or whose signature fails.

    Attributes:
        reason: ``unsigned``, ``unknown_sender`` or ``bad_signature``.
    """

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True)
class Verified:
    """A message whose signature checked out: who signed it and the payload as signed."""

    partner: Partner
    payload: bytes


def sign(payload: Mapping[str, Any], key: OKPKey, organisation: str) -> str:
    """The compact JWS of ``payload`` (JSON, UTF-8), signed by ``organisation`` with ``key``."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    header = {"alg": ALGORITHM, "kid": organisation, "typ": MEDIA_TYPE}
    return jws.serialize_compact(header, body, key, registry=REGISTRY)


def verify(token: str, partners: Mapping[str, Partner]) -> Verified:
    """Check a compact JWS against the key of the partner its header names.

    Raises:
        SignatureRefused: not a compact JWS (an unsigned message), an algorithm other than
            Ed25519, a signer that is not a configured partner, or a signature that fails.
    """
    text = token.strip()
    if text.count(".") != 2:
        raise SignatureRefused(
            "unsigned",
            "unsigned message: send the compact JWS (header.payload.signature) that the sender "
            "signed with its Ed25519 key",
        )
    try:
        header = jws.extract_compact(text.encode("ascii"), registry=REGISTRY).headers()
    except (JoseError, ValueError, UnicodeError):
        raise SignatureRefused(
            "unsigned", "not a readable compact JWS: the header or payload is not base64url JSON"
        ) from None
    if header.get("alg") != ALGORITHM:
        raise SignatureRefused(
            "bad_signature", f"only {ALGORITHM} signatures are accepted (header alg)"
        )
    signer = header.get("kid")
    partner = partners.get(signer) if isinstance(signer, str) else None
    if partner is None:
        raise SignatureRefused(
            "unknown_sender",
            "the signer (header kid) is not a configured partner: add its organisation and "
            "public key to the partners file (SHIPRISK_EXCHANGE_PARTNERS_FILE)",
        )
    try:
        verified = jws.deserialize_compact(text, partner.key, registry=REGISTRY)
    except (JoseError, ValueError):
        raise SignatureRefused(
            "bad_signature",
            f"the signature does not match {partner.organisation}'s key: the message was "
            "changed after signing, or signed with another key",
        ) from None
    return Verified(partner, verified.payload)
