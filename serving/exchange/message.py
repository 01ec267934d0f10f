"""The message format (docs/exchange.md): its JSON Schema, shipped beside this module, and
the checks a schema cannot say (local ids unique, links and the conveyance naming entities).

`message_problems` collects every problem with its field path before anything is stored;
problems never quote a value (messages carry personal data).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

import jsonschema_rs

SCHEMA_VERSION = "1"
SCHEMA_FILE = "message.schema.json"
# Handling codes (Europol SIENA) under which what came in may not be passed on.
NO_DISSEMINATION_CODES = frozenset({"H2"})


@dataclass(frozen=True)
class MessageProblem:
    """One thing wrong with a message: where (field path), what, and how to fix it."""

    loc: tuple[str | int, ...]
    msg: str
    fix: str


@cache
def message_schema() -> dict[str, Any]:
    """The JSON Schema of schema version 1, as shipped in the package."""
    schema: dict[str, Any] = json.loads(
        files("serving.exchange").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    )
    return schema


@cache
def _validator() -> Any:
    return jsonschema_rs.validator_for(message_schema(), validate_formats=True)


def _worded(error: Any) -> tuple[str, str]:
    """(what is wrong, the fix) for one schema error, without the offending value."""
    kind = error.kind
    name = type(kind).__name__
    if name == "Required":
        return f"{kind.property!r} is required", f"add {kind.property!r}"
    if name == "Enum":
        options = ", ".join(json.dumps(option) for option in kind.options)
        return "not one of the allowed values", f"use one of {options}"
    if name == "Constant":
        return "not the expected value", f"use {json.dumps(kind.expected_value)}"
    if name == "Pattern":
        return "does not match the pattern", f"write it as {kind.pattern}"
    if name == "Format":
        return f"not a valid {kind.format}", f"write a {kind.format} (RFC 3339)"
    if name in ("AdditionalProperties", "UnevaluatedProperties"):
        fields = ", ".join(repr(field) for field in kind.unexpected)
        return f"unexpected field(s) {fields}", "remove them or check their spelling"
    if name == "Type":
        return "wrong type", "see the schema for the field's type"
    keyword = str(list(error.schema_path)[-1]) if list(error.schema_path) else name
    return f"fails the schema's {keyword!r} rule", "see docs/exchange.md for the field"


def schema_problems(document: Any) -> list[MessageProblem]:
    """Every schema error of the document, with its field path."""
    problems = []
    for error in _validator().iter_errors(document):
        what, fix = _worded(error)
        problems.append(MessageProblem(tuple(error.instance_path), what, fix))
    return problems


def _reference_problems(message: Mapping[str, Any]) -> Iterator[MessageProblem]:
    entities = message.get("entities", [])
    kinds: dict[str, str] = {}
    for position, entity in enumerate(entities):
        local_id = entity["local_id"]
        if local_id in kinds:
            yield MessageProblem(
                ("entities", position, "local_id"),
                "local id used by an earlier entity",
                "give every entity of the message its own local_id",
            )
        kinds[local_id] = entity["type"]
    for position, link in enumerate(message.get("links", [])):
        for end in ("from", "to"):
            if link[end] not in kinds:
                yield MessageProblem(
                    ("links", position, end),
                    "names no entity of this message",
                    "use the local_id of one of the message's entities",
                )
    conveyance = message.get("event", {}).get("conveyance")
    if conveyance is not None and kinds.get(conveyance) != "vehicle":
        yield MessageProblem(
            ("event", "conveyance"),
            "names no vehicle of this message",
            "use the local_id of the vehicle entity that carried the goods",
        )


def message_problems(document: Any) -> list[MessageProblem]:
    """Everything wrong with a decoded message: schema errors first; when the schema holds,
    the references between its parts."""
    problems = schema_problems(document)
    if problems:
        return problems
    return list(_reference_problems(document))


def no_dissemination(handling: Mapping[str, Any]) -> bool:
    """Whether a message's handling forbids passing it on without the provider's permission:
    H2, or H3 whose restrictions say so (``no_dissemination``)."""
    return handling["code"] in NO_DISSEMINATION_CODES or bool(handling.get("no_dissemination"))
