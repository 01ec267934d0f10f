"""API keys: long random secrets shown once, stored only as salted, peppered hashes.

A key reads ``srk_<key id>_<secret>``. The key id (12 hex digits) is public: it names the
key in listings and in the consultation log, and finds its stored record without scanning
every hash. The secret is ``secrets.token_urlsafe(32)`` (256 random bits); only
HMAC-SHA256(pepper, salt + secret) is stored, with a random salt per key and a pepper that
lives outside the database (settings), so a copy of the store alone cannot be used to check
guessed keys. With 256 random bits no slow hash is needed: there is nothing to brute-force.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

KEY_PREFIX = "srk_"
KEY_ID_HEX_DIGITS = 12
SECRET_BYTES = 32
SALT_BYTES = 16
MAX_NAME_CHARS = 200
_KEY_ID = re.compile(rf"^[0-9a-f]{{{KEY_ID_HEX_DIGITS}}}$")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{43}$")  # token_urlsafe(32): 43 base64url characters


class Role(StrEnum):
    """Who a key belongs to (DESIGN.md, Service): each role sees only its own routes."""

    OFFICER = "officer"  # scores, declarations, worklists, outcomes
    RISK_MANAGER = "risk_manager"  # model, audit log, explanations; read-only
    ADMIN = "admin"  # model reload (keys are managed on the command line)


class MalformedKey(ValueError):
    """The presented text is not shaped like a shiprisk API key."""


@dataclass(frozen=True)
class PresentedKey:
    """A key as a client sent it, split into its public id and its secret."""

    key_id: str
    secret: str


@dataclass(frozen=True)
class StoredKey:
    """What the store keeps of a key: never the secret itself."""

    key_id: str
    name: str
    role: Role
    offices: tuple[str, ...] | None  # None: every office; otherwise the key's remit
    salt: str  # hex
    secret_hash: str  # hex HMAC-SHA256(pepper, salt + secret)
    created_at: datetime
    revoked_at: datetime | None = None
    owner: str | None = None  # the person answerable for the key (a system's, a script's)
    expires_at: datetime | None = None  # None: until revoked
    last_used_at: datetime | None = None  # to the minute (serving.access.key_store)

    @property
    def revoked(self) -> bool:
        """Whether the key was revoked (revocation is final)."""
        return self.revoked_at is not None

    def usable(self, now: datetime) -> bool:
        """Whether the key may be used at ``now``: not revoked and not expired."""
        return not self.revoked and (self.expires_at is None or now < self.expires_at)

    def covers_office(self, office_id: str) -> bool:
        """Whether ``office_id`` is inside this key's remit."""
        return self.offices is None or office_id in self.offices


def secret_hash(secret: str, salt: str, pepper: bytes) -> str:
    """HMAC-SHA256 of salt + secret under the server-side pepper, as hex."""
    return hmac.new(
        pepper, bytes.fromhex(salt) + secret.encode("ascii"), hashlib.sha256
    ).hexdigest()


def parse_key(text: str) -> PresentedKey:
    """Split ``srk_<key id>_<secret>`` into its parts.

    Raises:
        MalformedKey: the text does not have that shape. The message never repeats the text.
    """
    head = len(KEY_PREFIX)
    key_id = text[head : head + KEY_ID_HEX_DIGITS]
    secret = text[head + KEY_ID_HEX_DIGITS + 1 :]
    if (
        not text.startswith(KEY_PREFIX)
        or text[head + KEY_ID_HEX_DIGITS : head + KEY_ID_HEX_DIGITS + 1] != "_"
        or not _KEY_ID.match(key_id)
        or not _SECRET.match(secret)
    ):
        raise MalformedKey("not a shiprisk API key: expected srk_<12 hex digits>_<43 characters>")
    return PresentedKey(key_id, secret)


def normalised_offices(offices: Collection[str] | None) -> tuple[str, ...] | None:
    """The remit as a sorted tuple without repeats; None or empty means every office."""
    if not offices:
        return None
    cleaned = sorted({office.strip() for office in offices if office.strip()})
    return tuple(cleaned) or None


def new_key(
    name: str,
    role: Role | str,
    *,
    pepper: bytes,
    created_at: datetime,
    offices: Collection[str] | None = None,
    owner: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[str, StoredKey]:
    """Make a key: the full key text (to show once) and the record to store.

    Raises:
        ValueError: an empty or overlong name or owner, an expiry not after the creation, or
            an unknown role.
    """
    name = name.strip()
    if not name or len(name) > MAX_NAME_CHARS:
        raise ValueError(f"a key needs a name of 1 to {MAX_NAME_CHARS} characters")
    owner = None if owner is None else owner.strip()
    if owner is not None and (not owner or len(owner) > MAX_NAME_CHARS):
        raise ValueError(f"a key's owner needs a name of 1 to {MAX_NAME_CHARS} characters")
    if expires_at is not None and expires_at <= created_at:
        raise ValueError("a key must expire after it is made")
    try:
        role = Role(role)
    except ValueError:
        raise ValueError(
            f"unknown role {role!r}: choose one of {', '.join(r.value for r in Role)}"
        ) from None
    key_id = secrets.token_hex(KEY_ID_HEX_DIGITS // 2)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    salt = secrets.token_hex(SALT_BYTES)
    record = StoredKey(
        key_id=key_id,
        name=name,
        role=role,
        offices=normalised_offices(offices),
        salt=salt,
        secret_hash=secret_hash(secret, salt, pepper),
        created_at=created_at,
        owner=owner,
        expires_at=expires_at,
    )
    return f"{KEY_PREFIX}{key_id}_{secret}", record


def matches(presented: PresentedKey, stored: StoredKey, pepper: bytes) -> bool:
    """Whether the presented secret is the stored key's, compared in constant time."""
    if presented.key_id != stored.key_id:
        return False
    expected = secret_hash(presented.secret, stored.salt, pepper)
    return hmac.compare_digest(expected, stored.secret_hash)
