"""The web pages' session cookie: a reference to a server-side session, never a key.

The cookie holds the session's id and a random secret, signed (a changed cookie is refused
before the store is asked) and bounded in age; the session itself (who, role, remit, form
token, justification, language, expiry) lives in the operational store
(`serving.access.sessions`), where sign-out and `shiprisk sessions revoke` end it. The cookie is
http-only and SameSite=strict; it is never written to logs.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from serving.access.policy import PAGES_PREFIX
from serving.access.sessions import SESSION_HOURS, WebSession

__all__ = ["COOKIE_NAME", "COOKIE_PATH", "SessionCodec", "WebSession", "session_secret"]

COOKIE_NAME = "shiprisk_session"
COOKIE_PATH = PAGES_PREFIX
_SALT = "shiprisk.web.session.v2"


def session_secret(pepper: bytes) -> bytes:
    """The cookie-signing secret: derived from the key pepper, never the pepper itself."""
    return hmac.new(pepper, b"shiprisk web session cookie", hashlib.sha256).digest()


class SessionCodec:
    """Signs (session id, secret) into cookie values and reads them back (None when forged or
    older than a session lasts)."""

    def __init__(
        self, secret: bytes, *, max_age_seconds: int = SESSION_HOURS * 3600, salt: str = _SALT
    ) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=salt)
        self.max_age_seconds = max_age_seconds

    def dumps(self, data: Any) -> str:
        """The signed cookie value of ``data`` (JSON-ready)."""
        return str(self._serializer.dumps(data))

    def loads_data(self, value: str | None) -> Any:
        """What a cookie value holds, or None when absent, tampered with or too old."""
        if not value:
            return None
        try:
            return self._serializer.loads(value, max_age=self.max_age_seconds)
        except BadSignature:  # SignatureExpired is a BadSignature too
            return None

    def reference(self, session_id: str, secret: str) -> str:
        """The cookie value naming a stored session."""
        return self.dumps([session_id, secret])

    def loads(self, value: str | None) -> tuple[str, str] | None:
        """The (session id, secret) in a cookie value, or None."""
        data = self.loads_data(value)
        if (
            isinstance(data, list)
            and len(data) == 2
            and all(isinstance(part, str) and 0 < len(part) <= 64 for part in data)
        ):
            return data[0], data[1]
        return None
