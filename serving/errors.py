"""How a request that does not validate is answered: 422 with field paths and fixes, no values."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from features.validation import DataValidationError

log = logging.getLogger(__name__)


def _request_validation_error(_: Request, error: Exception) -> JSONResponse:
    """422 with each field path and what was expected; the submitted values are left out."""
    assert isinstance(error, RequestValidationError)
    detail = [
        {
            "loc": [str(part) if not isinstance(part, int) else part for part in item["loc"]],
            "msg": item["msg"],
            "type": item["type"],
        }
        for item in error.errors()
    ]
    return JSONResponse(status_code=422, content={"detail": detail})


def _data_validation_error(_: Request, error: Exception) -> JSONResponse:
    """422 for declarations that parse but do not validate (unknown itinerary country, ...).

    `Problem.values` hold the offending values: they are dropped, rows become field paths.
    """
    assert isinstance(error, DataValidationError)
    detail: list[dict[str, Any]] = []
    for problem in error.problems:
        base: list[str | int] = ["body", "declarations"]
        message = {"msg": problem.message, "type": "declaration_invalid", "fix": problem.fix}
        if problem.rows:
            for row in problem.rows:
                loc = [*base, row - 1, *([problem.column] if problem.column else [])]
                detail.append({"loc": loc, **message})
        else:
            detail.append(
                {"loc": [*base, *([problem.column] if problem.column else [])], **message}
            )
    log.info(
        "rejected declarations: %d problems in columns %s",
        len(error.problems),
        sorted({p.column or "-" for p in error.problems}),
    )
    return JSONResponse(status_code=422, content={"detail": detail})


def add_error_handlers(app: FastAPI) -> None:
    """Answer pydantic's and `features.validation`'s errors with field paths, never values."""
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(DataValidationError, _data_validation_error)
