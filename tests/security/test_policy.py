"""The role x route table: every route decided, least privilege, justification rules."""

from __future__ import annotations

import pytest

from serving.access.keys import Role
from serving.access.policy import (
    ROUTE_POLICIES,
    justification_problem,
    may_call,
    policy_for,
    unlisted_routes,
)

# Hand-written from DESIGN.md's Service table and issue 6: who may call what.
EXPECTED = {
    ("POST", "/v1/scores"): {Role.OFFICER},
    ("GET", "/v1/declarations/{declaration_id}"): {Role.OFFICER, Role.RISK_MANAGER},
    ("GET", "/v1/worklist"): {Role.OFFICER},
    ("POST", "/v1/outcomes"): {Role.OFFICER},
    ("GET", "/v1/model"): {Role.RISK_MANAGER, Role.ADMIN},
    ("GET", "/v1/audit"): {Role.RISK_MANAGER},
    ("POST", "/v1/admin/reload"): {Role.ADMIN},
    # issue 13 and DESIGN.md: risk managers write the watchlist, officers read it
    ("GET", "/v1/watchlist"): {Role.OFFICER, Role.RISK_MANAGER},
    ("POST", "/v1/watchlist"): {Role.RISK_MANAGER},
    # DESIGN.md: partner messages in, reports out, for admins and risk managers (issue 15)
    ("POST", "/v1/exchange/inbox"): {Role.ADMIN, Role.RISK_MANAGER},
    ("GET", "/v1/exchange/outbox"): {Role.ADMIN, Role.RISK_MANAGER},
    # issue 15: the messages exchanged and what each changed, for risk managers
    ("GET", "/v1/exchange/messages"): {Role.RISK_MANAGER},
    # issue 13: risk managers write risk profiles, officers read what selects declarations
    ("GET", "/v1/profiles"): {Role.OFFICER, Role.RISK_MANAGER},
    ("GET", "/v1/profiles/{profile_id}"): {Role.OFFICER, Role.RISK_MANAGER},
    ("GET", "/v1/profiles/{profile_id}/performance"): {Role.OFFICER, Role.RISK_MANAGER},
    ("POST", "/v1/profiles"): {Role.RISK_MANAGER},
    ("PUT", "/v1/profiles/{profile_id}"): {Role.RISK_MANAGER},
    ("POST", "/v1/profiles/{profile_id}/expire"): {Role.RISK_MANAGER},
    # issue 13 item 6 and DESIGN.md: risk managers set an office's capacity, officers read it
    ("PUT", "/v1/offices/{office_id}/capacity"): {Role.RISK_MANAGER},
    ("GET", "/v1/offices/{office_id}/capacity"): {Role.OFFICER, Role.RISK_MANAGER},
    # issue 13 item 7: officers waive and add on their declarations; risk managers read a
    # declaration's decisions and count them; nobody else
    ("POST", "/v1/declarations/{declaration_id}/waivers"): {Role.OFFICER},
    ("POST", "/v1/declarations/{declaration_id}/additions"): {Role.OFFICER},
    ("GET", "/v1/declarations/{declaration_id}/waivers"): {Role.OFFICER, Role.RISK_MANAGER},
    ("GET", "/v1/waivers/codes"): {Role.OFFICER, Role.RISK_MANAGER},
    ("GET", "/v1/waivers"): {Role.RISK_MANAGER},
}
# What risk managers may change: the intelligence they are responsible for (DESIGN.md):
# partner alerts, the watchlist and risk profiles; and each office's capacity (its lanes).
RISK_MANAGER_WRITES = {
    ("POST", "/v1/watchlist"),
    ("POST", "/v1/exchange/inbox"),
    ("POST", "/v1/profiles"),
    ("PUT", "/v1/profiles/{profile_id}"),
    ("POST", "/v1/profiles/{profile_id}/expire"),
    ("PUT", "/v1/offices/{office_id}/capacity"),
}


@pytest.mark.parametrize("route", sorted(EXPECTED))
@pytest.mark.parametrize("role", list(Role))
def test_each_role_calls_exactly_its_routes(role: Role, route: tuple[str, str]) -> None:
    assert may_call(role, *route) is (role in EXPECTED[route])


def test_the_table_lists_exactly_the_expected_routes() -> None:
    assert set(ROUTE_POLICIES) == set(EXPECTED)


def test_risk_managers_change_nothing_but_intelligence() -> None:
    changing = [route for route in ROUTE_POLICIES if route[0] != "GET"]
    assert {r for r in changing if may_call(Role.RISK_MANAGER, *r)} == RISK_MANAGER_WRITES


def test_declaration_lookups_and_worklists_need_a_justification() -> None:
    needing = {route for route, policy in ROUTE_POLICIES.items() if policy.needs_justification}
    assert needing == {
        ("GET", "/v1/declarations/{declaration_id}"),
        ("GET", "/v1/declarations/{declaration_id}/waivers"),
        ("GET", "/v1/worklist"),
    }
    assert all(policy.audited for policy in ROUTE_POLICIES.values())


def test_head_is_checked_as_get_and_unknown_routes_are_refused() -> None:
    assert policy_for("HEAD", "/v1/model") == ROUTE_POLICIES[("GET", "/v1/model")]
    assert policy_for("DELETE", "/v1/model") is None
    assert not may_call(Role.ADMIN, "GET", "/v1/secret")


def test_unlisted_routes_names_routes_nobody_decided_about() -> None:
    app_routes = [("GET", "/livez"), ("GET", "/metrics"), ("GET", "/v1/model"), ("PUT", "/v1/x")]
    assert unlisted_routes(app_routes) == [("PUT", "/v1/x")]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (
            None,
            "X-Justification header required: say why you consult this declaration or "
            "worklist (case number, inspection order, ...); it is kept in the consultation log",
        ),
        (
            "   ",
            "X-Justification header required: say why you consult this declaration or "
            "worklist (case number, inspection order, ...); it is kept in the consultation log",
        ),
        ("x" * 501, "X-Justification longer than 500 characters"),
        ("case 2025/114", None),
        ("x" * 500, None),
    ],
)
def test_justification_rules(value: str | None, problem: str | None) -> None:
    assert justification_problem(value) == problem
