"""Who may call what: the role x route table every request is checked against.

Pure data and pure functions, so the table can be read, reviewed and tested on its own. A
route missing from the table is refused to everyone (the app refuses to start with one, see
`unlisted_routes`), so a new route is closed until someone decides who may call it.
"""

from __future__ import annotations

import re
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
    ("GET", "/v1/watchlist"): RoutePolicy(OFFICER | RISK_MANAGER),
    ("POST", "/v1/watchlist"): RoutePolicy(RISK_MANAGER),
    # Risk profiles: risk managers write them, officers read what selects declarations.
    ("GET", "/v1/profiles"): RoutePolicy(OFFICER | RISK_MANAGER),
    ("GET", "/v1/profiles/{profile_id}"): RoutePolicy(OFFICER | RISK_MANAGER),
    ("GET", "/v1/profiles/{profile_id}/performance"): RoutePolicy(OFFICER | RISK_MANAGER),
    ("POST", "/v1/profiles"): RoutePolicy(RISK_MANAGER),
    ("PUT", "/v1/profiles/{profile_id}"): RoutePolicy(RISK_MANAGER),
    ("POST", "/v1/profiles/{profile_id}/expire"): RoutePolicy(RISK_MANAGER),
    # An office's capacity refits its lane thresholds (risk managers); officers may read it.
    ("PUT", "/v1/offices/{office_id}/capacity"): RoutePolicy(RISK_MANAGER),
    ("GET", "/v1/offices/{office_id}/capacity"): RoutePolicy(OFFICER | RISK_MANAGER),
    # Waivers and officers' additions: officers decide on their offices' declarations, risk
    # managers read a declaration's decisions and count them all (GAO-15-294).
    ("POST", "/v1/declarations/{declaration_id}/waivers"): RoutePolicy(OFFICER),
    ("POST", "/v1/declarations/{declaration_id}/additions"): RoutePolicy(OFFICER),
    ("GET", "/v1/declarations/{declaration_id}/waivers"): RoutePolicy(
        OFFICER | RISK_MANAGER, needs_justification=True
    ),
    ("GET", "/v1/waivers/codes"): RoutePolicy(OFFICER | RISK_MANAGER),
    ("GET", "/v1/waivers"): RoutePolicy(RISK_MANAGER),
    # Partner messages in, reports out: each a collection or a disclosure, recorded.
    ("POST", "/v1/exchange/inbox"): RoutePolicy(ADMIN | RISK_MANAGER),
    ("GET", "/v1/exchange/outbox"): RoutePolicy(ADMIN | RISK_MANAGER),
    # What was exchanged and what it changed: read by those who answer for the intelligence.
    ("GET", "/v1/exchange/messages"): RoutePolicy(RISK_MANAGER),
}

# Every keyed route lives under the API prefix. Outside it, a path that is not one of the open
# ones below is unknown and answers 404 to anyone; inside it, the key comes first (401 without
# one, 404 after), so an anonymous caller learns nothing of which /v1 routes exist.
API_PREFIX = "/v1"
# Probes answer everyone: orchestrators call them without keys, and they reveal no data.
PROBE_PATHS = frozenset({"/livez", "/readyz"})
# The service's own address: a browser that opens it is sent to the pages' sign-in.
ENTRANCE_PATH = "/"
# Server-rendered pages sign their users in themselves (a key entered once, kept in a signed
# session) and read everything through the API with that key, where every check applies.
PAGES_PREFIX = "/web"
METRICS_PATH = "/metrics"
DOCS_PATHS = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
METRICS_ROLES = RISK_MANAGER | ADMIN  # who may read /metrics when it is restricted


# Routes answering GET that write to the store (every other method is taken to write): their
# data and their consultation record are committed in one transaction, and
# tests/serving/test_one_transaction.py makes the record fail on each of them and on every
# route of another method. A new GET that writes belongs here.
WRITING_READS = frozenset(
    {
        ("GET", "/v1/worklist"),  # a new draw records its picks
        ("GET", f"{PAGES_PREFIX}/worklist"),  # through GET /v1/worklist
        ("GET", f"{PAGES_PREFIX}/oidc/callback"),  # starts a session
    }
)


def writes(method: str, template: str) -> bool:
    """Whether a route may write to the operational store."""
    verb = "GET" if method.upper() == "HEAD" else method.upper()
    return verb not in ("GET", "OPTIONS") or (verb, template) in WRITING_READS


def is_page(path: str) -> bool:
    """Whether a path is one of the server-rendered pages (they sign their users in)."""
    return path == PAGES_PREFIX or path.startswith(f"{PAGES_PREFIX}/")


def is_api(path: str) -> bool:
    """Whether a path is under the API prefix, where every request needs a key."""
    return path == API_PREFIX or path.startswith(f"{API_PREFIX}/")


def is_open(path: str) -> bool:
    """Whether a path answers without a key: probes, the entrance and the pages."""
    return path in PROBE_PATHS or path == ENTRANCE_PATH or is_page(path)


def policy_for(method: str, template: str) -> RoutePolicy | None:
    """The policy of a route (HEAD is checked as GET); None when the route is not listed."""
    verb = "GET" if method.upper() == "HEAD" else method.upper()
    return ROUTE_POLICIES.get((verb, template))


# Each template as a pattern over concrete paths: a parameter is one path segment, as routed.
_TEMPLATE_PATTERNS = [
    (method, template, re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$"))
    for method, template in ROUTE_POLICIES
]


def template_for(method: str, path: str) -> str | None:
    """The listed route a concrete path is for (HEAD as GET); None when none is.

    For requests answered before the router ran (a body over the limit, unreadable input),
    so that they are recorded under their route as well.
    """
    verb = "GET" if method.upper() == "HEAD" else method.upper()
    for listed, template, pattern in _TEMPLATE_PATTERNS:
        if listed == verb and pattern.match(path):
            return template
    return None


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
