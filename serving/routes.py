"""Every router of the service, mounted in one place: probes open, every /v1 route keyed.

Each room keeps its own routes (scoring, inspections, model, audit, exchange); this module only
includes them, behind the role check of `serving.access.roles`, and refuses to start with a
route that has no entry in the role x route table.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI

from serving import probes
from serving.access.policy import API_PREFIX, is_api, unlisted_routes
from serving.access.roles import current_caller
from serving.audit import routes as audit
from serving.base import ErrorResponse
from serving.exchange import routes as exchange
from serving.inspections import routes as inspections
from serving.intelligence import routes as intelligence
from serving.model import routes as model
from serving.profiles import routes as profiles
from serving.scoring import routes as scoring
from serving.waivers import routes as waivers

ACCESS_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "no valid API key"},
    403: {"model": ErrorResponse, "description": "role or office remit does not allow this"},
    503: {"model": ErrorResponse, "description": "consultation log or store unavailable"},
}

# In the order of the OpenAPI document.
KEYED_ROUTERS: tuple[APIRouter, ...] = (
    scoring.router,
    inspections.router,
    intelligence.router,
    profiles.router,
    waivers.router,
    model.router,
    audit.router,
    exchange.router,
    model.admin_router,
)


def include_routes(app: FastAPI) -> None:
    """Mount every router; every /v1 route needs a key (checked by AccessControl).

    Raises:
        RuntimeError: a route has no entry in the role x route table (it would be closed to
            everyone; decide who may call it in serving/access/policy.py), or lies outside
            the API prefix (where every path but the open ones answers 404).
    """
    app.include_router(probes.router)
    for router in KEYED_ROUTERS:
        app.include_router(router, dependencies=[Depends(current_caller)], responses=ACCESS_ERRORS)
    declared = [
        (method, str(getattr(route, "path", "")))
        for router in KEYED_ROUTERS
        for route in router.routes
        for method in getattr(route, "methods", None) or ()
    ]
    if missing := unlisted_routes(declared):
        raise RuntimeError(f"routes without an access policy: {missing}")
    if outside := sorted({template for _, template in declared if not is_api(template)}):
        raise RuntimeError(f"keyed routes outside {API_PREFIX}: {outside}")
