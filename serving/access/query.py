"""Query strings: a parameter a route takes one value of must be given once.

Starlette keeps every value of a repeated parameter and FastAPI hands a route the last one,
while a reader of the raw query string (``parse_qs(...)[0]``) takes the first: with
``?office_id=B&office_id=A`` a route served office A's worklist and its consultation record
said B. `single_valued_query` refuses such a request with 400 naming the parameter, on every
route of the app (an app-wide dependency), and keeps the values the route then reads in the
request scope (`QUERY_VALUES`), where the consultation record reads them: the record names
exactly what the route used.

Which parameters take one value is read from each route's FastAPI signature (its query
parameters and those of its dependencies, a list or set annotation takes many), once per
route.
"""

from __future__ import annotations

import types
import typing
from collections import Counter
from collections.abc import Iterator
from typing import Annotated, Any, Union

from fastapi import HTTPException, Request
from fastapi.dependencies.models import Dependant
from pydantic import BaseModel

from serving.base import QUERY_VALUES

_MANY = (list, set, frozenset, tuple)
_CACHE = "single_valued_query_names"  # app.state: id(route) -> its single-valued names


def _takes_many(annotation: Any) -> bool:
    """Whether a query parameter's annotation takes several values (``list[str]``, ...)."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _takes_many(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return any(_takes_many(arg) for arg in typing.get_args(annotation))
    if origin is None:
        return annotation in _MANY
    return isinstance(origin, type) and issubclass(origin, (*_MANY, typing.Sequence))  # type: ignore[arg-type]


def _query_names(dependant: Dependant) -> Iterator[tuple[str, bool]]:
    """(name in the query string, takes one value) of every query parameter of a route."""
    for field in dependant.query_params:
        annotation = field.field_info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            for name, inner in annotation.model_fields.items():  # a query model's fields
                yield inner.alias or name, not _takes_many(inner.annotation)
        else:
            yield field.alias, not _takes_many(annotation)
    for sub in dependant.dependencies:
        yield from _query_names(sub)


def single_valued_names(route: Any) -> frozenset[str]:
    """The query parameters ``route`` takes one value of (none for a route without a
    FastAPI signature, such as a mount)."""
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return frozenset()
    return frozenset(name for name, single in _query_names(dependant) if single)


async def single_valued_query(request: Request) -> None:
    """400 naming each single-valued query parameter given more than once; otherwise keep
    the values the route reads for its consultation record."""
    route = request.scope.get("route")
    # Read once per route of this app (routes are not hashable: kept by identity).
    known: dict[int, frozenset[str]] | None = getattr(request.app.state, _CACHE, None)
    if known is None:
        known = {}
        setattr(request.app.state, _CACHE, known)
    names = known.get(id(route))
    if names is None:
        names = known[id(route)] = single_valued_names(route)
    given = [(name, value) for name, value in request.query_params.multi_items() if name in names]
    counts = Counter(name for name, _ in given)
    repeated = sorted(name for name, count in counts.items() if count > 1)
    request.scope.setdefault("state", {})[QUERY_VALUES] = {} if repeated else dict(given)
    if repeated:
        raise HTTPException(
            status_code=400,
            detail=[
                {
                    "loc": ["query", name],
                    "msg": "given more than once: this parameter takes one value",
                    "type": "repeated_parameter",
                    "fix": f"send {name} once",
                }
                for name in repeated
            ],
        )
