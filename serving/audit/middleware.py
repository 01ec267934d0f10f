"""The audit middleware: a recorded request is answered only once its record is committed.

For a route the policy records (`serving.access.policy`), `ConsultationRecords` runs the
request with its response held back, writes the consultation-log record (and the writes the
route left to that commit, `serving.deps.commit_with_record`) in one transaction, and only then
sends the response. When the record cannot be written the client gets 503 instead, and
/readyz turns not ready (fail closed). It sits inside `AccessControl`, which put the
authenticated `Caller` in the request scope; a request without one is passed through. Every
request to a recorded route is recorded whatever its status, including the 413, 400 and 422
that `serving.limits` answers before the router runs, and the 500 of an unexpected error; a
declaration id is recorded only when it is valid text.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, MutableMapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from anyio import to_thread
from fastapi import HTTPException
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.access.keys import StoredKey
from serving.access.policy import policy_for, template_for
from serving.audit import records
from serving.audit.chain import AuditEvent
from serving.base import (
    CALLER,
    MODEL_VERSION_HEADER,
    NAMED_IDS,
    QUERY_VALUES,
    REQUEST_WRITES,
    UNREADABLE_URL,
    Caller,
    error_response,
    is_text,
)

log = logging.getLogger(__name__)

MAX_AUDITED_IDS = 10_000
_ID_KEYS = ("declaration_id",)
# Query parameters kept in a record's detail: filters, never submitted declaration content.
_DETAIL_PARAMETERS = (
    "office_id",
    "date",
    "capacity",
    "since",
    "until",
    "key_id",
    "limit",
    "person",
    "subject",
    "to",  # the partner an exchange outbox disclosed to
    "direction",  # the exchange messages listed: received or sent
    "partner",
)


class ConsultationRecords:
    """Fail-closed consultation records: the response waits for its record's commit."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        caller = scope.get("state", {}).get(CALLER) if scope["type"] == "http" else None
        if not isinstance(caller, Caller):  # probes, pages, docs, metrics
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        exchange = _Exchange(scope, caller.key)
        await exchange.run(self.app, scope["app"].state.service, receive, send)
        log.info(
            "%s %s %d key=%s %.1fms",
            scope["method"],
            exchange.template or "unmatched",
            exchange.status,
            caller.key.key_id,
            (time.perf_counter() - started) * 1000,
        )


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
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's stack
        return []
    return list(_declaration_ids(document))


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
        self.scope.setdefault("state", {})[REQUEST_WRITES] = []
        try:
            await app(self.scope, keep_body, hold)
        except Exception as error:  # recorded as a 500, then handed to the error shield
            failure = error
            self.status = 500
        self.request_body = b"".join(body_parts)
        self.template = getattr(self.scope.get("route"), "path", None)
        if self.template is None:  # answered before the router ran (413, 400, 422)
            self.template = template_for(self.scope["method"], self.scope["path"])
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
        # A path or query that is not UTF-8 was refused unread: nothing of it is recorded.
        url_read = not self.scope.get("state", {}).get(UNREADABLE_URL)
        path_id = self.scope.get("path_params", {}).get("declaration_id")
        if isinstance(path_id, str) and url_read:
            ids.append(path_id)
        query_id = _query_value(self.scope, "declaration_id") if url_read else None
        if query_id is not None:
            ids.append(query_id)
        named = self.scope.get("state", {}).get(NAMED_IDS)
        if named is not None and self.status < 400:
            ids.extend(named)  # the route named them: no need to parse both bodies again
        else:
            ids.extend(_ids_from_json(self.request_body))
            if self.status < 400:
                ids.extend(_ids_from_json(response_body))
        unique = list(dict.fromkeys(i for i in ids if len(i) <= 200 and is_text(i)))
        unique = unique[:MAX_AUDITED_IDS]
        if model_version is None and (current := state.model_holder.current) is not None:
            model_version = current.label
        caller = self.scope["state"][CALLER]
        justification = caller.justification
        person = caller.person
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
            detail=_query_detail(self.scope) if url_read else {},
            issuer=None if person is None else person.issuer,
            subject=None if person is None else person.subject,
            person=None if person is None else person.name,
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
        writes = self.scope["state"][REQUEST_WRITES]
        if failure is not None or self.status >= 400:
            writes = []  # a failed request keeps nothing
        try:
            if store is None:
                raise records.AuditWriteError("operational store unavailable")
            try:
                await to_thread.run_sync(state.audit_log.append, store, event, writes)
            except records.RequestWriteError as error:
                # The route's own write failed, so nothing was committed: the request is
                # recorded as the 500 it becomes, and the error shield answers it; a write
                # that refused (HTTPException: a re-scoring that would move a declaration)
                # is recorded and answered with its status instead.
                if isinstance(error.error, HTTPException):
                    held = await _answer(self.scope, error.error)
                    self.status = error.error.status_code
                else:
                    failure = error.error
                    self.status = 500
                event = replace(event, status=self.status)
                await to_thread.run_sync(state.audit_log.append, store, event)
        except records.AuditWriteError as error:
            state.audit_error = str(error)
            log.error("request refused: %s", error)
            self.status = 503
            await error_response(
                503, "the consultation log cannot be written: request refused, try again later"
            )(self.scope, _no_body, send)
            return
        state.audit_error = None
        if failure is not None:
            raise failure
        for message in held:
            await send(message)


async def _answer(scope: Scope, refusal: HTTPException) -> list[Message]:
    """The messages of the error response for ``refusal``, held like a route's."""
    messages: list[Message] = []

    async def keep(message: Message) -> None:
        messages.append(message)

    response = JSONResponse(
        status_code=refusal.status_code,
        content={"detail": refusal.detail},
        headers=refusal.headers,
    )
    await response(scope, _no_body, keep)
    return messages


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def _query_values(scope: Scope) -> dict[str, str]:
    """The query values the route read (kept by `serving.access.query`), not the raw query
    string's: a parameter the route does not take, or a refused repeat, names nothing."""
    values = scope.get("state", {}).get(QUERY_VALUES)
    return values if isinstance(values, dict) else {}


def _query_value(scope: Scope, name: str) -> str | None:
    return _query_values(scope).get(name)


def _query_detail(scope: Scope) -> dict[str, Any]:
    query = _query_values(scope)
    return {name: query[name][:200] for name in _DETAIL_PARAMETERS if name in query}
