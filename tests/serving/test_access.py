"""Every route x every caller x remit: who gets in, who gets 401, 403, 400 or 404."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest
import yaml

from serving.access.key_store import revoke_key
from serving.access.keys import Role
from serving.access.policy import ROUTE_POLICIES, policy_for
from serving.app import create_app
from serving.exchange.signing import sign
from serving.settings import ServiceSettings
from tests.serving.access_keys import JUSTIFICATION, KeyedClient, make_key
from tests.serving.conftest import TrainedModel, json_payload
from tests.serving.exchange.partners import agency, alert

OFFICE = "RS-HORGOS"
OTHER_OFFICE = "AL-KAKAVIJE"
DAY = "2024-02-20"
IN_REMIT = "IN-REMIT-1"
PARTNER = agency("RS-CUSTOMS", "RS")


@pytest.fixture
def client(store: TrainedModel, tmp_path: Any) -> Iterator[KeyedClient]:
    partners = tmp_path / "partners.yaml"
    partners.write_text(
        yaml.safe_dump({"partners": {"RS-CUSTOMS": {"country": "RS", "key": PARTNER.public_jwk()}}})
    )
    settings = ServiceSettings(
        model_uri=store.model_uri,
        num_threads=1,
        database_url=f"sqlite:///{tmp_path / 'shiprisk.db'}",
        data_dir=tmp_path,
        exchange_organisation="BA-ITA",
        exchange_partners_file=partners,
        lane_min_scores=1,  # one declaration lodged today refits an office's lanes
    )
    with KeyedClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def declaration(store: TrainedModel) -> dict[str, Any]:
    frame = pd.read_parquet(store.declarations_path).head(1).copy()
    frame["declaration_id"] = IN_REMIT
    frame["office_id"] = OFFICE
    frame["lodged_at"] = f"{DAY}T08:00:00Z"
    return json_payload(frame)[0]


CREATED = {  # routes that answer an allowed caller 201
    ("POST", "/v1/watchlist"): 201,
    ("POST", "/v1/profiles"): 201,
    ("POST", "/v1/declarations/{declaration_id}/waivers"): 201,
    ("POST", "/v1/declarations/{declaration_id}/additions"): 201,
}
PROFILE_ID = "ACCESS-1"  # made before each profile route's case, by a risk manager


def profile_document(profile_id: str) -> dict[str, Any]:
    return {
        "id": profile_id,
        "title": "access test",
        "threat": "weapons",
        "criteria": {"op": "hs_prefix", "prefixes": ["9305"]},
        "action": {"lane": "red"},
        "rationale": "access test",
        "owner": "risk unit",
        "valid_from": "2024-01-01T00:00:00Z",
    }


def request_for(route: tuple[str, str], declaration: dict[str, Any]) -> dict[str, Any]:
    """A valid request to each route (the one an allowed caller gets 200 for)."""
    return {
        ("POST", "/v1/scores"): {"json": {"declarations": [declaration]}},
        ("GET", "/v1/declarations/{declaration_id}"): {},
        ("GET", "/v1/worklist"): {"params": {"office_id": OFFICE, "date": DAY, "capacity": 1}},
        ("POST", "/v1/outcomes"): {
            "json": {
                "outcomes": [
                    {
                        "declaration_id": IN_REMIT,
                        "inspected_at": f"{DAY}T18:00:00Z",
                        "inspection_type": "physical",
                        "result": "clear",
                    }
                ]
            }
        },
        ("GET", "/v1/model"): {},
        ("GET", "/v1/audit"): {"params": {"limit": 5}},
        ("POST", "/v1/admin/reload"): {},
        ("GET", "/v1/watchlist"): {},
        ("POST", "/v1/watchlist"): {
            "json": {
                "entries": [
                    {
                        "entity_type": "importer_id",
                        "entity_id": "IMP-9",
                        "threat": "revenue",
                        "valid_from": "2024-01-01",
                    }
                ]
            }
        },
        ("POST", "/v1/exchange/inbox"): {  # a new message each time: a repeat is a replay
            "json": {
                "message": sign(
                    alert(PARTNER, "BA-ITA", message_id=str(uuid.uuid4()), retain_days=36500),
                    PARTNER.signing_key,
                    PARTNER.organisation,
                )
            }
        },
        ("GET", "/v1/exchange/outbox"): {"params": {"to": "RS-CUSTOMS"}},
        ("GET", "/v1/exchange/messages"): {"params": {"limit": 5}},
        ("GET", "/v1/profiles"): {},
        ("GET", "/v1/profiles/{profile_id}"): {},
        ("GET", "/v1/profiles/{profile_id}/performance"): {"params": {"period": "month"}},
        ("POST", "/v1/profiles"): {"json": profile_document("ACCESS-NEW")},
        ("PUT", "/v1/profiles/{profile_id}"): {"json": profile_document(PROFILE_ID)},
        ("POST", "/v1/profiles/{profile_id}/expire"): {},
        ("PUT", "/v1/offices/{office_id}/capacity"): {"json": {"capacity": 3}},
        ("GET", "/v1/offices/{office_id}/capacity"): {},
        ("POST", "/v1/declarations/{declaration_id}/waivers"): {"json": {"code": "AEO"}},
        ("POST", "/v1/declarations/{declaration_id}/additions"): {"json": {"reason": "access"}},
        ("GET", "/v1/declarations/{declaration_id}/waivers"): {},
        ("GET", "/v1/waivers/codes"): {},
        ("GET", "/v1/waivers"): {"params": {"period": "day"}},
    }[route]


def path_of(template: str) -> str:
    return (
        template.replace("{declaration_id}", IN_REMIT)
        .replace("{profile_id}", PROFILE_ID)
        .replace("{office_id}", OFFICE)
    )


def test_every_route_of_the_app_has_a_policy(client: KeyedClient) -> None:
    open_paths = {
        "/livez",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/docs",
        "/redoc",
        "/docs/oauth2-redirect",
    }
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    app_routes = {
        (method.upper(), path)
        for path, operations in paths.items()
        if path not in open_paths
        for method in operations
    }
    assert app_routes == set(ROUTE_POLICIES)


CALLERS = ["no key", "malformed key", "wrong secret", "revoked key", *[r.value for r in Role]]


@pytest.mark.parametrize("route", sorted(ROUTE_POLICIES), ids=lambda r: f"{r[0]} {r[1]}")
def test_role_route_matrix(
    client: KeyedClient, declaration: dict[str, Any], route: tuple[str, str]
) -> None:
    # The declaration exists for look-ups and outcomes.
    assert client.post("/v1/scores", json={"declarations": [declaration]}).status_code == 200
    store = client.app.state.service.store  # type: ignore[attr-defined]
    pepper = client.app.state.service.settings.pepper()  # type: ignore[attr-defined]
    revoked_text, revoked = make_key(store, Role.OFFICER, pepper=pepper)
    with store.transaction() as session:
        revoke_key(session, revoked.key_id, datetime.now(UTC))
    officer = client.keys[Role.OFFICER]
    credentials = {
        "no key": {},
        "malformed key": {"Authorization": "Bearer not-a-key"},
        "wrong secret": {
            "X-API-Key": officer[:-4] + ("AAAA" if officer[-4:] != "AAAA" else "BBBB")
        },
        "revoked key": {"Authorization": f"Bearer {revoked_text}"},
        **{role.value: {"X-API-Key": client.keys[role]} for role in Role},
    }
    method, template = route
    policy = policy_for(method, template)
    assert policy is not None
    if "{profile_id}" in template:  # a profile to read, revise and expire
        made = client.post(
            "/v1/profiles",
            json=profile_document(PROFILE_ID),
            headers={"X-API-Key": client.keys[Role.RISK_MANAGER]},
        )
        assert made.status_code == 201, made.text
    if "{office_id}" in template:  # a declaration lodged today, and the office's capacity set
        today = {
            **declaration,
            "declaration_id": "TODAY-1",
            "lodged_at": datetime.now(UTC).isoformat(),
        }
        assert client.post("/v1/scores", json={"declarations": [today]}).status_code == 200
        made = client.put(
            path_of(template),
            json={"capacity": 2},
            headers={"X-API-Key": client.keys[Role.RISK_MANAGER]},
        )
        assert made.status_code == 200, made.text
    if template.endswith("/waivers") and method == "POST":  # a worklist pick to waive
        drawn = request_for(("GET", "/v1/worklist"), declaration)
        assert client.get("/v1/worklist", **drawn).status_code == 200
    outcome: dict[str, int] = {}
    for caller in CALLERS:
        headers = {"X-Justification": JUSTIFICATION, **credentials[caller]}
        if caller == "no key":
            headers["Authorization"] = ""  # stop KeyedClient from adding one
        response = client.request(
            method, path_of(template), headers=headers, **request_for(route, declaration)
        )
        outcome[caller] = response.status_code
    expected = {
        "no key": 401,
        "malformed key": 401,
        "wrong secret": 401,
        "revoked key": 401,
        **{role.value: CREATED.get(route, 200) if role in policy.roles else 403 for role in Role},
    }
    assert outcome == expected


def remit_client(client: KeyedClient, offices: list[str]) -> str:
    store = client.app.state.service.store  # type: ignore[attr-defined]
    pepper = client.app.state.service.settings.pepper()  # type: ignore[attr-defined]
    text, _ = make_key(store, Role.OFFICER, pepper=pepper, offices=offices)
    return text


def test_a_declaration_outside_the_remit_answers_404(
    client: KeyedClient, declaration: dict[str, Any]
) -> None:
    assert client.post("/v1/scores", json={"declarations": [declaration]}).status_code == 200
    elsewhere = remit_client(client, [OTHER_OFFICE])
    here = remit_client(client, [OFFICE])
    path = f"/v1/declarations/{IN_REMIT}"
    outside = client.get(path, headers={"X-API-Key": elsewhere})
    never_scored = client.get("/v1/declarations/NEVER", headers={"X-API-Key": elsewhere})
    assert outside.status_code == 404
    assert outside.json() == never_scored.json()  # its existence is not revealed
    assert client.get(path, headers={"X-API-Key": here}).status_code == 200


def test_worklists_scores_and_outcomes_outside_the_remit_are_refused(
    client: KeyedClient, declaration: dict[str, Any]
) -> None:
    assert client.post("/v1/scores", json={"declarations": [declaration]}).status_code == 200
    elsewhere = {"X-API-Key": remit_client(client, [OTHER_OFFICE])}
    here = {"X-API-Key": remit_client(client, [OFFICE])}
    worklist = request_for(("GET", "/v1/worklist"), declaration)
    refused = client.get("/v1/worklist", headers=elsewhere, **worklist)
    assert refused.status_code == 403
    assert refused.json() == {"detail": "office outside this key's remit"}
    assert client.get("/v1/worklist", headers=here, **worklist).status_code == 200

    scores = request_for(("POST", "/v1/scores"), declaration)
    refused = client.post("/v1/scores", headers=elsewhere, **scores)
    assert refused.status_code == 403
    assert refused.json() == {
        "detail": [
            {
                "loc": ["body", "declarations", 0, "office_id"],
                "msg": "office outside this key's remit",
                "type": "outside_remit",
            }
        ]
    }
    outcomes = request_for(("POST", "/v1/outcomes"), declaration)
    refused = client.post("/v1/outcomes", headers=elsewhere, **outcomes)
    assert refused.status_code == 404
    assert refused.json()["detail"][0]["loc"] == ["body", "outcomes", 0, "declaration_id"]
    assert client.post("/v1/outcomes", headers=here, **outcomes).status_code == 200


def test_justification_is_required_for_lookups_and_worklists(
    client: KeyedClient, declaration: dict[str, Any]
) -> None:
    assert client.post("/v1/scores", json={"declarations": [declaration]}).status_code == 200
    officer = {"X-API-Key": client.keys[Role.OFFICER]}
    for path, params in [
        (f"/v1/declarations/{IN_REMIT}", {}),
        ("/v1/worklist", {"office_id": OFFICE, "date": DAY, "capacity": 1}),
    ]:
        # KeyedClient adds a justification unless one is given: give a blank one.
        response = client.get(path, params=params, headers={**officer, "X-Justification": " "})
        assert response.status_code == 400
        assert response.json()["detail"].startswith("X-Justification header required")
