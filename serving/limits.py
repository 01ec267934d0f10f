"""What a request may be before any route reads it: size, nesting and text.

`RequestLimits` answers, before the router parses anything:

* 413 to a body over the configured size, by Content-Length and by counting what arrives;
* 400 to a JSON body nested deeper than `MAX_JSON_DEPTH` (the API's documents nest four deep;
  a thousand levels make Python's parser, and every walker after it, run out of stack);
* 422 to a path, query or JSON body holding text that is not Unicode: bytes that are not
  UTF-8 in the URL, or a lone surrogate (``"\\ud800"``) in a JSON string. Such text cannot be
  stored, hashed into the consultation log or written to a log line, so it stops here, with
  the field named and its value left out.

It sits inside the audit middleware: a refused request to a recorded route is recorded with
the status it got (`serving.audit.middleware`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_to_bytes

import numpy as np
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.access.policy import template_for
from serving.base import UNREADABLE_URL, is_text

MAX_JSON_DEPTH = 32
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_JSON_START = re.compile(rb"\s*[\[{]")
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = np.zeros(256, dtype=np.int32)
_STEP[list(b"[{")] = 1
_STEP[list(b"]}")] = -1
# Where a lone surrogate can come from: a \uD800-\uDFFF escape, or its bytes (ED A0-BF) that
# Python's decoder of JSON bytes lets through. A pair (an emoji written as two escapes) also
# matches; only the parsed strings tell, so the body is parsed when this matches.
_SURROGATE_HINT = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")
NOT_TEXT = "not valid Unicode text (a lone surrogate, or bytes that are not UTF-8): send UTF-8"


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        status_code=413,
        content={
            "detail": f"request body larger than {limit} bytes: send fewer declarations per "
            "request, or score large files with `shiprisk score`"
        },
    )


def _too_deep() -> JSONResponse:
    return JSONResponse(
        status_code=400,
        content={
            "detail": f"JSON nested deeper than {MAX_JSON_DEPTH} levels: the API's documents "
            "nest at most four levels deep"
        },
    )


def _not_text(loc: list[str | int]) -> JSONResponse:
    item = {"loc": loc, "msg": NOT_TEXT, "type": "string_unicode"}
    return JSONResponse(status_code=422, content={"detail": [item]})


def json_deeper_than(body: bytes, limit: int) -> bool:
    """Whether a JSON text nests arrays and objects more than ``limit`` levels deep.

    Counted on the bytes, without parsing: strings are cut out (brackets inside them do not
    count), then the running depth of the brackets left is summed in one vectorised pass.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # not enough brackets to nest that deep: most requests stop here
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    if not brackets:
        return False
    depth = np.cumsum(_STEP[np.frombuffer(brackets, dtype=np.uint8)])
    return bool(depth.max() > limit)


def _untexts(document: Any, loc: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    """Paths to the strings (values, or keys: then the object's path) that are not text."""
    if isinstance(document, str):
        if not is_text(document):
            yield loc
    elif isinstance(document, dict):
        for key, value in document.items():
            if not is_text(key):
                yield loc
            else:
                yield from _untexts(value, (*loc, key))
    elif isinstance(document, list):
        for index, item in enumerate(document):
            yield from _untexts(item, (*loc, index))


def body_not_text(body: bytes) -> list[str | int] | None:
    """The path (``["body", ...]``) of the first JSON string that is not Unicode text, or None.

    The body must already be known not to nest too deep. A body that is not JSON is left to
    the route, which answers it with 422 ``json_invalid``.
    """
    if _SURROGATE_HINT.search(body) is None:
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    first = next(_untexts(document, ()), None)
    return None if first is None else ["body", *first]


def _decodes(raw: bytes) -> bool:
    try:
        unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def url_not_text(scope: Scope) -> list[str | int] | None:
    """Where the path or query is not UTF-8 once percent-decoded: ``["path", name]``,
    ``["query", name]`` (``["query"]`` for an unreadable name); None when both read."""
    for pair in scope.get("query_string", b"").split(b"&"):
        name, _, value = pair.replace(b"+", b" ").partition(b"=")
        if not _decodes(name):
            return ["query"]
        if not _decodes(value):
            return ["query", unquote_to_bytes(name).decode("utf-8")]
    raw_path = scope.get("raw_path")
    if raw_path is None or _decodes(raw_path):
        return None
    root = scope.get("root_path", "").encode("latin-1")
    if root and raw_path.startswith(root):
        raw_path = raw_path[len(root) :]
    template_path = template_for(scope["method"], scope["path"])
    if template_path is not None:
        template = template_path.split("/")
        for index, segment in enumerate(raw_path.split(b"/")):
            part = template[index] if index < len(template) else ""
            if not _decodes(segment) and part.startswith("{") and part.endswith("}"):
                return ["path", part[1:-1].partition(":")[0]]
    return ["path"]


class RequestLimits:
    """Refuses requests too large (413), nested too deep (400) or not text (422), unparsed.

    The body is read here before the route runs (it is at most ``max_bytes``), so a client that
    sends no or a false Content-Length cannot make the service parse more than the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if (where := url_not_text(scope)) is not None:
            scope.setdefault("state", {})[UNREADABLE_URL] = True
            await _not_text(where)(scope, receive, send)
            return
        if scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(self.max_bytes)(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _too_large(self.max_bytes)(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if _JSON_START.match(body):  # JSON: forms and other bodies are the route's
            if json_deeper_than(body, MAX_JSON_DEPTH):
                await _too_deep()(scope, receive, send)
                return
            if (where := body_not_text(body)) is not None:
                await _not_text(where)(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
