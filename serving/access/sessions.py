"""Sign-in sessions of the pages in the operational store: start, find, change, end, revoke.

A session is a row: who (an identity provider's issuer and subject, or the key a developer
signed in with), the display name, role and remit, the form token, the justification and
language chosen, and when it expires or was ended. The browser holds only the session id and a
random secret (`serving.web.session`); the store keeps the secret's SHA-256, so a copy of the
store cannot be replayed as a cookie. Functions that take a session never commit, like
the store modules (`serving.store.scores`, ...).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from serving.access.key_store import find_key
from serving.access.keys import Role, StoredKey, normalised_offices
from serving.base import Caller, Person
from serving.store.database import Store
from serving.store.rows import from_row, row_values
from serving.store.tables import WebSession as SessionRow

SESSION_HOURS = 10  # one working shift; then the person signs in again
SESSION_KEY_PREFIX = "session:"  # how a session names itself in the consultation log


@dataclass(frozen=True)
class WebSession:
    """Who is signed in to the pages, and what they said once per session."""

    session_id: str
    name: str
    role: str
    csrf: str
    created_at: datetime
    expires_at: datetime
    offices: tuple[str, ...] | None = None
    issuer: str | None = None
    subject: str | None = None
    key_id: str | None = None  # development sign-in: the key it was made with
    justification: str | None = None
    locale: str | None = None  # the language chosen (serving.web.i18n.pick_locale)

    def form_token_matches(self, token: str | None) -> bool:
        """Whether a posted form carries this session's token (constant-time comparison)."""
        return token is not None and hmac.compare_digest(token, self.csrf)

    @property
    def person(self) -> Person:
        """The person the consultation log names for this session's requests."""
        return Person(self.name, self.issuer, self.subject)

    def caller(self, justification: str | None = None) -> Caller:
        """The session as the API's access checks see a caller: its role and remit."""
        key = StoredKey(
            key_id=f"{SESSION_KEY_PREFIX}{self.session_id}",
            name=self.name,
            role=Role(self.role),
            offices=self.offices,
            salt="",
            secret_hash="",
            created_at=self.created_at,
            expires_at=self.expires_at,
        )
        return Caller(key, justification, self.person)


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def new_session(
    *,
    name: str,
    role: Role | str,
    now: datetime,
    offices: Collection[str] | None = None,
    issuer: str | None = None,
    subject: str | None = None,
    key_id: str | None = None,
    locale: str | None = None,
    hours: float = SESSION_HOURS,
) -> tuple[WebSession, str]:
    """A fresh session and its secret (for the cookie only; the store keeps its hash)."""
    session = WebSession(
        session_id=secrets.token_hex(8),
        name=name.strip()[:200] or "unnamed",
        role=Role(role).value,
        csrf=secrets.token_urlsafe(24),
        created_at=now,
        expires_at=now + timedelta(hours=hours),
        offices=normalised_offices(offices),
        issuer=issuer,
        subject=subject,
        key_id=key_id,
        locale=locale,
    )
    return session, secrets.token_urlsafe(32)


def add_session(db: Session, session: WebSession, secret: str) -> None:
    """Store a new session (the hash of its secret, never the secret)."""
    offices = None if session.offices is None else list(session.offices)
    values = row_values(session, offices=offices)
    db.add(SessionRow(**values, secret_hash=_secret_hash(secret), revoked_at=None))


def _session(row: Any) -> WebSession:
    offices = None if row.offices is None else tuple(row.offices)
    return from_row(WebSession, row, offices=offices)


def live_session(store: Store, session_id: str, secret: str, now: datetime) -> WebSession | None:
    """The session with this id when the secret matches and it is neither expired nor ended
    (nor its sign-in key revoked or expired); None otherwise."""
    with store.sessions() as db:
        row = db.get(SessionRow, session_id)
        if row is None or not hmac.compare_digest(row.secret_hash, _secret_hash(secret)):
            return None
        if row.revoked_at is not None or now >= row.expires_at:
            return None
        if row.key_id is not None:
            key = find_key(db, row.key_id)
            if key is None or not key.usable(now):
                return None
        return _session(row)


def change_session(db: Session, session: WebSession) -> None:
    """Keep a session's justification and language (what a person changes while signed in)."""
    db.execute(
        update(SessionRow)
        .where(SessionRow.session_id == session.session_id)
        .values(justification=session.justification, locale=session.locale)
    )


def end_session(db: Session, session_id: str, at: datetime) -> None:
    """End a session from ``at`` on (sign-out); an ended session stays ended."""
    db.execute(
        update(SessionRow)
        .where(SessionRow.session_id == session_id, SessionRow.revoked_at.is_(None))
        .values(revoked_at=at)
    )


def revoke_sessions(
    db: Session,
    at: datetime,
    *,
    name: str | None = None,
    subject: str | None = None,
    key_ids: Collection[str] = (),
) -> list[WebSession]:
    """End every live session of a person (by display name or subject) or made with one of
    ``key_ids``; the sessions ended now."""
    conditions = []
    if name is not None:
        conditions.append(SessionRow.name == name)
    if subject is not None:
        conditions.append(SessionRow.subject == subject)
    if key_ids:
        conditions.append(SessionRow.key_id.in_(list(key_ids)))
    if not conditions:
        return []
    from sqlalchemy import or_

    rows = db.scalars(
        select(SessionRow).where(or_(*conditions), SessionRow.revoked_at.is_(None))
    ).all()
    for row in rows:
        row.revoked_at = at
    return [_session(row) for row in rows]


def speaking(session: WebSession, locale: str | None) -> WebSession:
    """The same session with the language the person chose (None: their browser's)."""
    return replace(session, locale=locale)


def justified(session: WebSession, justification: str) -> WebSession:
    """The same session with the reason the person gave for their consultations."""
    return replace(session, justification=justification)


def utc_now() -> datetime:
    """Now, in UTC (one place, so tests read the same clock)."""
    return datetime.now(UTC)
