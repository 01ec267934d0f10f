"""Who is calling: the access middleware authenticates the API key of every keyed request.

`AccessControl` sits in front of every route. It lets probes, the entrance (``/``) and pages
through, serves /metrics and the OpenAPI docs as the settings expose them, answers 404 to any
other path outside the API prefix (``/favicon.ico``, typos, scanners: no key is asked for
there, and none would help), and under the prefix authenticates the key
(``Authorization: Bearer <key>`` or ``X-API-Key``; 401 otherwise, whether or not the route
exists), then keeps the `Caller` in the request scope for the audit middleware and the routes'
role check (`serving.access.roles.current_caller`).

Authentication stays a middleware rather than a FastAPI dependency, for three reasons:
the key is checked before anything of the request is read or parsed (a dependency runs after
FastAPI has read and parsed the body, so a client without a key could make the service parse
a megabyte of JSON, and would get 422 for a malformed body instead of 401); the audit
middleware needs the authenticated key for the record of every recorded request, including
requests a route then refuses; and /metrics and the docs, which are not our routes, are
checked by the same code.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from anyio import to_thread
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from serving.access import key_store
from serving.access.keys import MalformedKey, StoredKey, matches, parse_key
from serving.access.policy import (
    DOCS_PATHS,
    METRICS_PATH,
    METRICS_ROLES,
    Exposure,
    is_api,
    is_open,
)
from serving.base import CALLER, SIGNED_IN, Caller, Person, error_response

log = logging.getLogger(__name__)

UNAUTHENTICATED = (
    "a valid API key is required: send Authorization: Bearer <key> or X-API-Key: <key>"
)


def request_header(scope: Scope, name: bytes) -> str | None:
    """The value of a request header (``name`` in lower case), or None."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def presented_key(scope: Scope) -> str | None:
    """The key text of a request: the bearer token, else the X-API-Key header."""
    authorization = request_header(scope, b"authorization")
    if authorization is not None:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return ""  # present but not a bearer token: refused, never passed on
    return request_header(scope, b"x-api-key")


class AccessControl:
    """Authenticates keyed requests (401/503 otherwise) and puts the `Caller` in the scope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        state = scope["app"].state.service
        settings = state.settings
        path = scope["path"]
        if path == METRICS_PATH or path in DOCS_PATHS:
            exposure = (
                settings.metrics_exposure() if path == METRICS_PATH else settings.docs_exposure()
            )
            if exposure == Exposure.OFF:
                await error_response(404, "Not Found")(scope, receive, send)
                return
            if exposure == Exposure.RESTRICTED:
                key = await self._authenticate(scope, state)
                if isinstance(key, JSONResponse):
                    await key(scope, receive, send)
                    return
                if path == METRICS_PATH and key.role not in METRICS_ROLES:
                    await error_response(403, "this key's role may not read metrics")(
                        scope, receive, send
                    )
                    return
            await self.app(scope, receive, send)
            return
        if not is_api(path):  # unknown outside the API: nothing to authenticate for
            await error_response(404, "Not Found")(scope, receive, send)
            return

        justification = request_header(scope, b"x-justification")
        signed_in = scope.get("state", {}).get(SIGNED_IN)
        if isinstance(signed_in, Caller):  # a page's own call, as its signed-in person
            scope["state"][CALLER] = Caller(signed_in.key, justification, signed_in.person)
            await self.app(scope, receive, send)
            return
        key = await self._authenticate(scope, state)
        if isinstance(key, JSONResponse):
            log.info("%s %s %d", scope["method"], "-", key.status_code)
            await key(scope, receive, send)
            return
        person = None if key.owner is None else Person(key.owner)
        scope.setdefault("state", {})[CALLER] = Caller(key, justification, person)
        await self.app(scope, receive, send)

    async def _authenticate(self, scope: Scope, state: Any) -> StoredKey | JSONResponse:
        """The stored key of the request, or the 401/503 to answer instead."""
        text = presented_key(scope)
        challenge = {"WWW-Authenticate": "Bearer"}
        if not text:
            return error_response(401, UNAUTHENTICATED, challenge)
        try:
            presented = parse_key(text)
        except MalformedKey:
            return error_response(401, UNAUTHENTICATED, challenge)
        store = state.store
        if store is None:
            return error_response(503, f"operational store unavailable: {state.store_error}")

        try:
            stored = await to_thread.run_sync(key_store.lookup_key, store, presented.key_id)
        except Exception as error:  # the store failed: nobody is let in
            log.error("key lookup failed: %s", type(error).__name__)
            return error_response(503, "key store unavailable")
        pepper = state.settings.pepper()
        now = datetime.now(UTC)
        if stored is None or not stored.usable(now) or not matches(presented, stored, pepper):
            return error_response(401, UNAUTHENTICATED, challenge)
        if key_store.use_is_due(stored, now):
            try:
                await to_thread.run_sync(key_store.note_use, store, stored.key_id, now)
            except Exception as error:  # bookkeeping only: the request goes on
                log.warning("last use of key not kept: %s", type(error).__name__)
        return stored
