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
