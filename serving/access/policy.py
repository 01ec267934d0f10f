"""Who may call what: the role x route table every request is checked against.

Pure data and pure functions, so the table can be read, reviewed and tested on its own. A
route missing from the table is refused to everyone (the app refuses to start with one, see
`unlisted_routes`), so a new route is closed until someone decides who may call it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from serving.access.keys import Role
from serving.base import MAX_JUSTIFICATION_CHARS


class Exposure(StrEnum):
    """How an operational route (metrics, OpenAPI docs) is exposed: a setting per deployment."""

    OPEN = "open"  # anyone who can reach the port
    RESTRICTED = "restricted"  # a valid key (metrics: risk managers and admins)
    OFF = "off"  # not served at all


@dataclass(frozen=True)
class RoutePolicy:
    """What a route asks of its caller, and whether its use is recorded.

    Attributes:
        roles: the roles that may call it.
        audited: each request makes one consultation-log record (DOMAIN.md, Accountability:
            every collection, alteration, consultation and disclosure is logged).
        needs_justification: the caller must say why, in ``X-Justification`` (400 without).
    """

    roles: frozenset[Role]
    audited: bool = True
    needs_justification: bool = False


OFFICER = frozenset({Role.OFFICER})
RISK_MANAGER = frozenset({Role.RISK_MANAGER})
ADMIN = frozenset({Role.ADMIN})

# (method, route template) -> policy. Templates are FastAPI's, as in the OpenAPI document.
ROUTE_POLICIES: dict[tuple[str, str], RoutePolicy] = {
    ("POST", "/v1/scores"): RoutePolicy(OFFICER),
    ("GET", "/v1/declarations/{declaration_id}"): RoutePolicy(
        # Risk managers read explanations of single declarations when reviewing the model.
        OFFICER | RISK_MANAGER,
        needs_justification=True,
    ),
    ("GET", "/v1/worklist"): RoutePolicy(OFFICER, needs_justification=True),
    ("POST", "/v1/outcomes"): RoutePolicy(OFFICER),
    ("GET", "/v1/model"): RoutePolicy(RISK_MANAGER | ADMIN),
    ("GET", "/v1/audit"): RoutePolicy(RISK_MANAGER),
    ("POST", "/v1/admin/reload"): RoutePolicy(ADMIN),
    # Partner messages in, reports out: each a collection or a disclosure, recorded.
    ("POST", "/v1/exchange/inbox"): RoutePolicy(ADMIN | RISK_MANAGER),
    ("GET", "/v1/exchange/outbox"): RoutePolicy(ADMIN | RISK_MANAGER),
}

# Probes answer everyone: orchestrators call them without keys, and they reveal no data.
PROBE_PATHS = frozenset({"/livez", "/readyz"})
# Server-rendered pages sign their users in themselves (a key entered once, kept in a signed
# session) and read everything through the API with that key, where every check applies.
PAGES_PREFIX = "/web"
METRICS_PATH = "/metrics"
DOCS_PATHS = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
METRICS_ROLES = RISK_MANAGER | ADMIN  # who may read /metrics when it is restricted


def is_page(path: str) -> bool:
    """Whether a path is one of the server-rendered pages (they sign their users in)."""
    return path == PAGES_PREFIX or path.startswith(f"{PAGES_PREFIX}/")


def policy_for(method: str, template: str) -> RoutePolicy | None:
    """The policy of a route (HEAD is checked as GET); None when the route is not listed."""
    verb = "GET" if method.upper() == "HEAD" else method.upper()
    return ROUTE_POLICIES.get((verb, template))


def may_call(role: Role, method: str, template: str) -> bool:
    """Whether a key of ``role`` may call the route; unlisted routes are refused to all."""
    policy = policy_for(method, template)
    return policy is not None and role in policy.roles


def unlisted_routes(routes: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (method, template) pairs of the app that have no policy and are not open paths."""
    open_paths = PROBE_PATHS | DOCS_PATHS | {METRICS_PATH}
    return sorted(
        (method, template)
        for method, template in routes
        if template not in open_paths and policy_for(method, template) is None
    )


def justification_problem(value: str | None) -> str | None:
    """Why an ``X-Justification`` header is not acceptable, or None when it is."""
    if value is None or not value.strip():
        return (
            "X-Justification header required: say why you consult this declaration or "
            "worklist (case number, inspection order, ...); it is kept in the consultation log"
        )
    if len(value) > MAX_JUSTIFICATION_CHARS:
        return f"X-Justification longer than {MAX_JUSTIFICATION_CHARS} characters"
    return None
