"""Who is calling, may they, and the record of what they did: the service's access middleware.

`AccessControl` sits in front of every route. It lets probes through and authenticates the key
(``Authorization: Bearer <key>`` or ``X-API-Key``; 401 otherwise) before anything of the
request is parsed. The routes' dependency `current_caller` then checks the role against
`serving.access.policy` (403) and asks for ``X-Justification`` where the policy says so
(400), and routes check the key's office remit. For a
recorded route it holds the response back until its consultation-log record is committed:
when the record cannot be written the client gets 503 instead, and /readyz turns not ready
(fail closed). `SecurityHeaders` and `ErrorShield` wrap everything: headers on every
response, and no traceback or exception text in any body or log line.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Annotated, Any

from anyio import to_thread
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.access.keys import MalformedKey, StoredKey, matches, parse_key
from serving.access.policy import (
    DOCS_PATHS,
    METRICS_PATH,
    METRICS_ROLES,
    PAGES_PREFIX,
    PROBE_PATHS,
    Exposure,
    justification_problem,
    policy_for,
)
from serving.audit import records
from serving.audit.chain import AuditEvent

log = logging.getLogger(__name__)

CALLER = "shiprisk.caller"  # where the caller is kept in the request scope
_REQUEST_WRITES = "shiprisk.request_writes"  # writes left to the record's commit
_NAMED_IDS = "shiprisk.declaration_ids"  # ids a route says it consulted
JUSTIFICATION_HEADER = "X-Justification"
MODEL_VERSION_HEADER = "X-Model-Version"
MAX_AUDITED_IDS = 10_000
_ID_KEYS = ("declaration_id",)

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)
# The API answers JSON only; the docs pages need their own scripts and the CDN assets; the
# web pages are served from here with inline SVG charts.
PAGES_CSP = (
    b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    b"form-action 'self'; frame-ancestors 'none'"
)
API_CSP = b"default-src 'none'; frame-ancestors 'none'"
DOCS_CSP = (
    b"default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    b"style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: "
    b"https://fastapi.tiangolo.com; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class Caller:
    """The authenticated key behind a request, and the reason it gave."""

    key: StoredKey
    justification: str | None

    def covers_office(self, office_id: str | None) -> bool:
        """Whether the office is inside the key's remit (an unknown office is not)."""
        if self.key.offices is None:
            return True
        return office_id is not None and self.key.covers_office(office_id)


def _is_page(path: str) -> bool:
    return path == PAGES_PREFIX or path.startswith(f"{PAGES_PREFIX}/")


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail}, headers=headers)


UNAUTHENTICATED = (
    "a valid API key is required: send Authorization: Bearer <key> or X-API-Key: <key>"
)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def presented_key(scope: Scope) -> str | None:
    """The key text of a request: the bearer token, else the X-API-Key header."""
    authorization = _header(scope, b"authorization")
    if authorization is not None:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return ""  # present but not a bearer token: refused, never passed on
    return _header(scope, b"x-api-key")


def _declaration_ids(document: Any, depth: int = 0) -> Iterator[str]:
    """Every string ``declaration_id`` in a JSON document, outer levels first."""
    if depth > 4:
        return
    if isinstance(document, dict):
        for key in _ID_KEYS:
            value = document.get(key)
            if isinstance(value, str):
                yield value
        for value in document.values():
            if isinstance(value, dict | list):
                yield from _declaration_ids(value, depth + 1)
    elif isinstance(document, list):
        for item in document:
            yield from _declaration_ids(item, depth + 1)


def _ids_from_json(body: bytes) -> list[str]:
    if not body:
        return []
    try:
        document = json.loads(body)
    except ValueError:
        return []
    return list(_declaration_ids(document))


class AccessControl:
    """Authentication, role and justification checks, and fail-closed consultation records."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PROBE_PATHS or _is_page(scope["path"]):
            await self.app(scope, receive, send)
            return
        fastapi_app = scope["app"]
        state = fastapi_app.state.service
        settings = state.settings
        path = scope["path"]
        if path == METRICS_PATH or path in DOCS_PATHS:
            exposure = (
                settings.metrics_exposure() if path == METRICS_PATH else settings.docs_exposure()
            )
            if exposure == Exposure.OFF:
                await _problem(404, "Not Found")(scope, receive, send)
                return
            if exposure == Exposure.RESTRICTED:
                key = await self._authenticate(scope, state)
                if isinstance(key, JSONResponse):
                    await key(scope, receive, send)
                    return
                if path == METRICS_PATH and key.role not in METRICS_ROLES:
                    await _problem(403, "this key's role may not read metrics")(
                        scope, receive, send
                    )
                    return
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        key = await self._authenticate(scope, state)
        if isinstance(key, JSONResponse):
            log.info("%s %s %d", scope["method"], "-", key.status_code)
            await key(scope, receive, send)
            return
        justification = _header(scope, b"x-justification")
        scope.setdefault("state", {})[CALLER] = Caller(key, justification)
        exchange = _Exchange(scope, key)
        await exchange.run(self.app, state, receive, send)
        log.info(
            "%s %s %d key=%s %.1fms",
            scope["method"],
            exchange.template or "unmatched",
            exchange.status,
            key.key_id,
            (time.perf_counter() - started) * 1000,
        )

    async def _authenticate(self, scope: Scope, state: Any) -> StoredKey | JSONResponse:
        """The stored key of the request, or the 401/503 to answer instead."""
        text = presented_key(scope)
        challenge = {"WWW-Authenticate": "Bearer"}
        if not text:
            return _problem(401, UNAUTHENTICATED, challenge)
        try:
            presented = parse_key(text)
        except MalformedKey:
            return _problem(401, UNAUTHENTICATED, challenge)
        store = state.store
        if store is None:
            return _problem(503, f"operational store unavailable: {state.store_error}")

        try:
            stored = await to_thread.run_sync(records.lookup_key, store, presented.key_id)
        except Exception as error:  # the store failed: nobody is let in
            log.error("key lookup failed: %s", type(error).__name__)
            return _problem(503, "key store unavailable")
        pepper = state.settings.pepper()
        if stored is None or stored.revoked or not matches(presented, stored, pepper):
            return _problem(401, UNAUTHENTICATED, challenge)
        return stored


class _Exchange:
    """One recorded request: runs it, holds the response, writes the record, then sends."""

    def __init__(self, scope: Scope, key: StoredKey) -> None:
        self.scope = scope
        self.key = key
        self.template: str | None = None  # known once the router has matched the request
        self.status = 500
        self.request_body = b""

    async def run(self, app: ASGIApp, state: Any, receive: Receive, send: Send) -> None:
        """Run the route with the response held back until its record is written."""
        body_parts: list[bytes] = []

        async def keep_body() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body_parts.append(message.get("body", b""))
            return message

        held: list[Message] = []
        model_version: str | None = None

        async def hold(message: MutableMapping[str, Any]) -> None:
            nonlocal model_version
            if message["type"] == "http.response.start":
                self.status = int(message["status"])
                for name, value in message.get("headers", []):
                    if name.decode("latin-1").lower() == MODEL_VERSION_HEADER.lower():
                        model_version = value.decode("latin-1")
            held.append(message)

        failure: BaseException | None = None
        self.scope.setdefault("state", {})[_REQUEST_WRITES] = []
        try:
            await app(self.scope, keep_body, hold)
        except Exception as error:  # recorded as a 500, then handed to the error shield
            failure = error
            self.status = 500
        self.request_body = b"".join(body_parts)
        self.template = getattr(self.scope.get("route"), "path", None)
        policy = None if self.template is None else policy_for(self.scope["method"], self.template)
        if policy is None or not policy.audited:  # unknown paths (404, 405) are not recorded
            for message in held:
                await send(message)
            if failure is not None:
                raise failure
            return
        await self._release(state, held, model_version, send, failure=failure)

    def _event(self, state: Any, response_body: bytes, model_version: str | None) -> AuditEvent:
        ids: list[str] = []
        path_id = self.scope.get("path_params", {}).get("declaration_id")
        if isinstance(path_id, str):
            ids.append(path_id)
        query_id = _query_value(self.scope, "declaration_id")
        if query_id is not None:
            ids.append(query_id)
        named = self.scope.get("state", {}).get(_NAMED_IDS)
        if named is not None and self.status < 400:
            ids.extend(named)  # the route named them: no need to parse both bodies again
        else:
            ids.extend(_ids_from_json(self.request_body))
            if self.status < 400:
                ids.extend(_ids_from_json(response_body))
        unique = list(dict.fromkeys(i for i in ids if len(i) <= 200))[:MAX_AUDITED_IDS]
        if model_version is None and (current := state.model_holder.current) is not None:
            model_version = current.label
        justification = _header(self.scope, b"x-justification")
        return AuditEvent(
            recorded_at=datetime.now(UTC),
            key_id=self.key.key_id,
            key_name=self.key.name,
            role=self.key.role.value,
            route=f"{self.scope['method']} {self.template}",
            declaration_ids=tuple(unique),
            justification=None if justification is None else justification[:500],
            model_version=model_version,
            status=self.status,
            detail=_query_detail(self.scope),
        )

    async def _release(
        self,
        state: Any,
        held: list[Message],
        model_version: str | None,
        send: Send,
        *,
        failure: BaseException | None = None,
    ) -> None:
        response_body = b"".join(
            m.get("body", b"") for m in held if m["type"] == "http.response.body"
        )
        event = self._event(state, response_body, model_version)
        store = state.store
        writes = self.scope["state"][_REQUEST_WRITES]
        if failure is not None or self.status >= 400:
            writes = []  # a failed request keeps nothing
        try:
            if store is None:
                raise records.AuditWriteError("operational store unavailable")
            try:
                await to_thread.run_sync(state.audit_log.append, store, event, writes)
            except records.RequestWriteError as error:
                # The route's own write failed, so nothing was committed: the request is
                # recorded as the 500 it becomes, and the error shield answers it.
                failure = error.error
                self.status = 500
                event = replace(event, status=500)
                await to_thread.run_sync(state.audit_log.append, store, event)
        except records.AuditWriteError as error:
            state.audit_error = str(error)
            log.error("request refused: %s", error)
            self.status = 503
            await _problem(
                503, "the consultation log cannot be written: request refused, try again later"
            )(self.scope, _no_body, send)
            return
        state.audit_error = None
        if failure is not None:
            raise failure
        for message in held:
            await send(message)


def commit_with_record(scope: Scope, write: Callable[[Session], object]) -> bool:
    """Leave a route's write to the commit of the request's consultation record.

    The write then runs in the record's transaction, just before the record, and the
    response is sent only after that commit: one durable commit per request instead of two,
    and the data and the record of the request that made it land together or not at all.
    Returns False when the request is not being recorded (no AccessControl in front, or a
    route the policy does not record): the route must commit the write itself.
    """
    writes = scope.get("state", {}).get(_REQUEST_WRITES)
    route = getattr(scope.get("route"), "path", None)
    policy = None if route is None else policy_for(scope["method"], route)
    if writes is None or policy is None or not policy.audited:
        return False
    writes.append(write)
    return True


def name_declarations(scope: Scope, ids: Iterable[str]) -> None:
    """The declaration ids a successful request consulted, for its record.

    Without them the record takes every ``declaration_id`` it finds in the request and
    response bodies, which means parsing both again.
    """
    scope.setdefault("state", {})[_NAMED_IDS] = list(ids)


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def _query_value(scope: Scope, name: str) -> str | None:
    from urllib.parse import parse_qs

    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(name)
    return values[0] if values else None


# Query parameters kept in a record's detail: filters, never submitted declaration content.
_DETAIL_PARAMETERS = ("office_id", "date", "capacity", "since", "until", "key_id", "limit")


def _query_detail(scope: Scope) -> dict[str, Any]:
    from urllib.parse import parse_qs

    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return {name: query[name][0][:200] for name in _DETAIL_PARAMETERS if name in query}


# -- dependencies for routes -------------------------------------------------------------------

# The key schemes, as the OpenAPI document states them for every keyed route. They are added
# to the document by `document_keys`, not declared as dependencies: AccessControl does the
# checking, and two header-parsing dependencies per request only cost event-loop time.
SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    "HTTPBearer": {
        "type": "http",
        "description": "Authorization: Bearer <API key>",
        "scheme": "bearer",
    },
    "APIKeyHeader": {
        "type": "apiKey",
        "description": "the API key",
        "in": "header",
        "name": "X-API-Key",
    },
}


def document_keys(app: FastAPI, keyed_prefix: str = "/v1/") -> None:
    """Put the key schemes in ``app``'s OpenAPI document, required by every keyed route."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
            for path, operations in schema.get("paths", {}).items():
                if path.startswith(keyed_prefix):
                    for operation in operations.values():
                        operation["security"] = [{name: []} for name in SECURITY_SCHEMES]
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]


async def current_caller(request: Request) -> Caller:
    """The caller AccessControl authenticated, if its role may call this route (403) and it
    said why where the route asks (400)."""
    caller = request.scope.get("state", {}).get(CALLER)
    if not isinstance(caller, Caller):
        raise HTTPException(status_code=401, detail=UNAUTHENTICATED)
    template = getattr(request.scope.get("route"), "path", "")
    policy = policy_for(request.method, template)
    if policy is None or caller.key.role not in policy.roles:
        raise HTTPException(
            status_code=403, detail=f"the {caller.key.role.value} role may not call this route"
        )
    if policy.needs_justification and (problem := justification_problem(caller.justification)):
        raise HTTPException(status_code=400, detail=problem)
    return caller


CurrentCaller = Annotated[Caller, Depends(current_caller)]


# -- headers and errors ------------------------------------------------------------------------


class SecurityHeaders:
    """Adds the security headers to every response, errors and probes included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        policy = API_CSP
        if path in DOCS_PATHS and path != "/openapi.json":
            policy = DOCS_CSP
        elif _is_page(path):
            policy = PAGES_CSP

        async def with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in {name for name, _ in SECURITY_HEADERS}
                ]
                headers.extend(SECURITY_HEADERS)
                headers.append((b"content-security-policy", policy))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class ErrorShield:
    """Turns an unhandled exception into a bare 500: no traceback, no message, one log line.

    Exception texts can quote submitted values or SQL; the log line names the exception type
    and an incident id that the client also gets, so the two can be matched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as error:
            incident = secrets.token_hex(6)
            route = getattr(scope.get("route"), "path", "unmatched")
            log.error(
                "internal error %s in %s %s: %s",
                incident,
                scope["method"],
                route,
                type(error).__name__,
            )
            if not started:
                await _problem(500, f"internal error, incident {incident}")(scope, receive, send)
