"""The key schemes in the OpenAPI document, required by every keyed route.

They are added to the document by `document_keys`, not declared as dependencies:
`AccessControl` does the checking (serving.access.authenticate says why), and two
header-parsing dependencies per request would only cost event-loop time.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

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


def document_limits(app: FastAPI, max_top_k: int) -> None:
    """Put the limits this service was started with in ``app``'s OpenAPI document.

    A schema-valid request must not be refused: ``top_k`` above the configured maximum is
    answered 422, so the document states that maximum.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            request = schema.get("components", {}).get("schemas", {}).get("ScoreRequest", {})
            for choice in request.get("properties", {}).get("top_k", {}).get("anyOf", []):
                if choice.get("type") == "integer":
                    choice["maximum"] = max_top_k
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]
