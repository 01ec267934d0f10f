"""The web pages' session: the signed-in API key in a signed, http-only, strict cookie.

The cookie holds the key the user signed in with (the pages present it to the API on their
behalf), who it belongs to, the justification given for this session and a token that every
form posts back (a second guard against cross-site requests besides SameSite=strict). It is
signed with a secret derived from the server's key pepper, so a user can read nothing new
from it and change nothing in it; it is never written to logs.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import asdict, dataclass, replace
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from serving.access.policy import PAGES_PREFIX

COOKIE_NAME = "shiprisk_session"
COOKIE_PATH = PAGES_PREFIX
SESSION_HOURS = 10  # one working shift; then the user signs in again
_SALT = "shiprisk.web.session"


@dataclass(frozen=True)
class WebSession:
    """Who is signed in to the pages, and what they said once per session."""

    api_key: str
    key_id: str
    name: str
    role: str
    csrf: str
    justification: str | None = None
    locale: str | None = None  # the language the user chose (serving.web.i18n.pick_locale)

    @classmethod
    def start(
        cls, api_key: str, *, key_id: str, name: str, role: str, locale: str | None = None
    ) -> WebSession:
        """A fresh session for a key that was just checked, with a new form token.

        ``locale``: the language chosen before sign-in, or an identity provider's claim.
        """
        return cls(api_key, key_id, name, role, secrets.token_urlsafe(24), locale=locale)

    def speaking(self, locale: str | None) -> WebSession:
        """The same session with the language the user chose (None: their browser's)."""
        return replace(self, locale=locale)

    def justified(self, justification: str) -> WebSession:
        """The same session with the reason the user gave for their consultations."""
        return replace(self, justification=justification)

    def form_token_matches(self, token: str | None) -> bool:
        """Whether a posted form carries this session's token (constant-time comparison)."""
        return token is not None and hmac.compare_digest(token, self.csrf)


def session_secret(pepper: bytes) -> bytes:
    """The cookie-signing secret: derived from the key pepper, never the pepper itself."""
    return hmac.new(pepper, b"shiprisk web session cookie", hashlib.sha256).digest()


class SessionCodec:
    """Signs sessions into cookie values and reads them back (None when forged or expired)."""

    def __init__(self, secret: bytes, *, max_age_seconds: int = SESSION_HOURS * 3600) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=_SALT)
        self.max_age_seconds = max_age_seconds

    def dumps(self, session: WebSession) -> str:
        """The signed cookie value of a session."""
        return str(self._serializer.dumps(asdict(session)))

    def loads(self, value: str | None) -> WebSession | None:
        """The session in a cookie value, or None when absent, tampered with or too old."""
        if not value:
            return None
        try:
            data: Any = self._serializer.loads(value, max_age=self.max_age_seconds)
        except BadSignature:  # SignatureExpired is a BadSignature too
            return None
        if not isinstance(data, dict):
            return None
        try:
            return WebSession(**data)
        except TypeError:
            return None
