"""The role check of every keyed route: a router dependency reading the authenticated caller.

`AccessControl` (serving.access.authenticate) has authenticated the key; this dependency checks
its role against `serving.access.policy` (403) and asks for ``X-Justification`` where the
policy says so (400). Office remits are checked by the routes (`serving.access.remit`).
"""

from __future__ import annotations

from fastapi import HTTPException, Request

from serving.access.authenticate import UNAUTHENTICATED
from serving.access.policy import justification_problem, policy_for
from serving.base import CALLER, Caller


async def current_caller(request: Request) -> Caller:
    """The caller AccessControl authenticated, if its role may call this route (403) and it
    said why where the route asks (400)."""
    caller = request.scope.get("state", {}).get(CALLER)
    if not isinstance(caller, Caller):
        raise HTTPException(status_code=401, detail=UNAUTHENTICATED)
    template = getattr(request.scope.get("route"), "path", "")
    policy = policy_for(request.method, template)
    if policy is None or caller.key.role not in policy.roles:
        raise HTTPException(
            status_code=403, detail=f"the {caller.key.role.value} role may not call this route"
        )
    if policy.needs_justification and (problem := justification_problem(caller.justification)):
        raise HTTPException(status_code=400, detail=problem)
    return caller
