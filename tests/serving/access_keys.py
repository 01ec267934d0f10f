"""Keys for the service tests: one per role, made in the app's own store after its lifespan.

`KeyedClient` is a TestClient that, unless a test sends its own credentials, sends the key of
a role the route is open to, and a justification where one is required. Tests about the
service's behaviour then keep their assertions; tests about access send headers themselves.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from serving.access.key_store import add_key
from serving.access.keys import Role, StoredKey, new_key
from serving.access.policy import ROUTE_POLICIES, policy_for
from serving.store.database import Store
from serving.store.tables import AuditRecordRow

JUSTIFICATION = "test: case 2025/001"
UNCHECKABLE_KEY = "srk_000000000000_" + "A" * 43
_PREFERRED = (Role.OFFICER, Role.RISK_MANAGER, Role.ADMIN)
_TEMPLATES = [
    (method, re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$"), template)
    for method, template in ROUTE_POLICIES
]


def make_key(
    store: Store, role: Role, *, pepper: bytes, name: str | None = None, offices: Any = None
) -> tuple[str, StoredKey]:
    """Make and store one key; returns its text and record."""
    text, key = new_key(
        name or f"test {role.value}",
        role,
        pepper=pepper,
        created_at=datetime.now(UTC),
        offices=offices,
    )
    with store.transaction() as session:
        add_key(session, key)
    return text, key


def key_in_store(url: str, role: Role = Role.OFFICER) -> str:
    """A key made in the store at ``url`` (migrated first), for tests of a real server."""
    from serving.settings import ServiceSettings

    store = Store.open(url)
    try:
        text, _ = make_key(store, role, pepper=ServiceSettings().pepper())
    finally:
        store.close()
    return text


def template_of(method: str, path: str) -> str | None:
    """The policy template a concrete path falls under."""
    for verb, pattern, template in _TEMPLATES:
        if verb == method.upper() and pattern.match(path):
            return template
    return None


class KeyedClient(TestClient):
    """A TestClient holding one key per role, used by default on every request."""

    def __init__(self, app: FastAPI, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.keys: dict[Role, str] = {}
        self.key_records: dict[Role, StoredKey] = {}

    def __enter__(self) -> KeyedClient:
        super().__enter__()
        state = self.app.state.service  # type: ignore[attr-defined]
        if state.store is None:
            # No store, no keys to check: send well-formed ones, as a client would.
            self.keys = {role: UNCHECKABLE_KEY for role in Role}
            return self
        for role in Role:
            text, key = make_key(state.store, role, pepper=state.settings.pepper())
            self.keys[role], self.key_records[role] = text, key
        return self

    def request(self, method: str, url: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        headers = {k: v for k, v in dict(kwargs.pop("headers", None) or {}).items()}
        named = {k.lower() for k in headers}
        path = str(url).split("?", 1)[0]
        template = template_of(method, path)
        policy = None if template is None else policy_for(method, template)
        if policy is not None and self.keys:
            if "authorization" not in named and "x-api-key" not in named:
                role = next(r for r in _PREFERRED if r in policy.roles)
                headers["Authorization"] = f"Bearer {self.keys[role]}"
            if policy.needs_justification and "x-justification" not in named:
                headers["X-Justification"] = JUSTIFICATION
        return super().request(method, url, headers=headers, **kwargs)


def newest_record(client: TestClient) -> AuditRecordRow:
    """The consultation log's newest record in the store of ``client``'s app."""
    store = client.app.state.service.store  # type: ignore[attr-defined]
    with store.sessions() as session:
        row = session.scalars(
            select(AuditRecordRow).order_by(AuditRecordRow.sequence.desc()).limit(1)
        ).one()
        session.expunge(row)
        return row


def page_session(
    client: TestClient, key: StoredKey, justification: str | None = None
) -> tuple[str, Any]:
    """A pages' session signed in with ``key``, stored in the app's store as the sign-in form
    stores one; returns the Cookie header that names it, and the session."""
    from serving.access import sessions
    from serving.web.session import COOKIE_NAME

    app: Any = client.app
    session, secret = sessions.new_session(
        name=key.owner or key.name,
        role=key.role,
        now=datetime.now(UTC),
        offices=key.offices,
        key_id=key.key_id,
    )
    if justification is not None:
        session = sessions.justified(session, justification)
    with app.state.service.store.transaction() as db:
        sessions.add_session(db, session, secret)
    return f"{COOKIE_NAME}={app.state.web.codec.reference(session.session_id, secret)}", session
