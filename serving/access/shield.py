"""The error shield: no traceback or exception text in any response body or log line."""

from __future__ import annotations

import logging
import secrets
from collections.abc import MutableMapping
from typing import Any

from starlette.types import Receive, Scope, Send

from serving.access.http_only import HttpMiddleware
from serving.base import error_response

log = logging.getLogger(__name__)


class ErrorShield(HttpMiddleware):
    """Turns an unhandled exception into a bare 500: no traceback, no message, one log line.

    Exception texts can quote submitted values or SQL; the log line names the exception type
    and an incident id that the client also gets, so the two can be matched.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
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
                await error_response(500, f"internal error, incident {incident}")(
                    scope, receive, send
                )
