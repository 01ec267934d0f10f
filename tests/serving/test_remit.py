"""Office remit on every route that takes a declaration id or an office (issue 16, item 1).

The routes come from the app itself: every route whose path, query or body names a
``declaration_id`` or an ``office_id`` must have a row in `ATTEMPTS`, so a new such route
fails here until someone says how a key limited to office A is refused on it. Each attempt
is made with an A-limited key against office B's declaration or office B itself, and must be
refused, leave every stored row as it was, show nothing of B's outcome, and be recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel
from sqlalchemy import select

from serving.access.keys import Role
from serving.access.policy import ROUTE_POLICIES
from serving.access.query import single_valued_names
from serving.app import create_app
from serving.settings import ServiceSettings
from serving.store.tables import AuditDeclaration, AuditRecordRow, Base
from tests.serving.access_keys import (
    JUSTIFICATION,
    KeyedClient,
    make_key,
    newest_record,
    page_session,
)
from tests.serving.conftest import TrainedModel, json_payload

OFFICE_A = "RS-HORGOS"
OFFICE_B = "AL-KAKAVIJE"
DAY = "2024-02-20"
B_ID = "B-LODGED-1"
A_ID = "A-LODGED-1"
B_NOTES = "weapons parts in a hidden compartment behind the fuel tank"
NAMES = frozenset({"declaration_id", "office_id"})
UNRECORDED = {AuditRecordRow.__tablename__, AuditDeclaration.__tablename__, "api_keys"}


@dataclass(frozen=True)
class Attempt:
    """One request an A-limited key makes against office B, and the refusal it must get."""

    status: int
    role: Role = Role.OFFICER
    request: Callable[[dict[str, Any]], dict[str, Any]] = field(default=lambda _: {})
    path: str | None = None  # the concrete path, when the template has parameters
    page: bool = False  # a web page: signed in with the key, not sending it


def _declaration(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {"json": {"declarations": [{**base, **changes}]}}


_OUTCOME = {
    "declaration_id": B_ID,
    "inspected_at": f"{DAY}T19:00:00Z",
    "inspection_type": "physical",
    "result": "irregular",
    "notes": "overwritten by office A",
}

_WAIVER = {"code": "OTHER", "reason": "waived by office A"}
_ADDITION = {"reason": "added by office A"}

# (method, route template) -> what an A-limited key tries there.
ATTEMPTS: dict[tuple[str, str], list[Attempt]] = {
    ("POST", "/v1/scores"): [
        # The bypass: B's id, office A. Refused as unknown, and B's record stays at B.
        Attempt(404, request=lambda b: _declaration(b, declaration_id=B_ID, office_id=OFFICE_A)),
        Attempt(
            404,
            request=lambda b: _declaration(
                b, declaration_id=B_ID, office_id=OFFICE_A, lodged_at=f"{DAY}T08:00:00Z"
            ),
        ),
        # B's id at B: an office named outright outside the remit.
        Attempt(403, request=lambda b: _declaration(b, declaration_id=B_ID, office_id=OFFICE_B)),
    ],
    ("GET", "/v1/declarations/{declaration_id}"): [
        Attempt(404, path=f"/v1/declarations/{B_ID}"),
        Attempt(404, role=Role.RISK_MANAGER, path=f"/v1/declarations/{B_ID}"),
    ],
    ("GET", "/v1/worklist"): [
        Attempt(
            403, request=lambda _: {"params": {"office_id": OFFICE_B, "date": DAY, "capacity": 5}}
        )
    ],
    ("POST", "/v1/outcomes"): [
        Attempt(404, request=lambda _: {"json": {"outcomes": [_OUTCOME]}}),
    ],
    ("GET", "/v1/audit"): [
        # The log spans every office: a key with a remit may not read it at all.
        Attempt(
            403, role=Role.RISK_MANAGER, request=lambda _: {"params": {"declaration_id": B_ID}}
        ),
    ],
    # An office's capacity: neither set (refitting B's lanes) nor read outside the remit.
    ("PUT", "/v1/offices/{office_id}/capacity"): [
        Attempt(
            403,
            role=Role.RISK_MANAGER,
            path=f"/v1/offices/{OFFICE_B}/capacity",
            request=lambda _: {"json": {"capacity": 3}},
        ),
    ],
    ("GET", "/v1/offices/{office_id}/capacity"): [
        Attempt(403, path=f"/v1/offices/{OFFICE_B}/capacity"),
        Attempt(403, role=Role.RISK_MANAGER, path=f"/v1/offices/{OFFICE_B}/capacity"),
    ],
    ("POST", "/v1/declarations/{declaration_id}/waivers"): [
        Attempt(404, path=f"/v1/declarations/{B_ID}/waivers", request=lambda _: {"json": _WAIVER}),
    ],
    ("POST", "/v1/declarations/{declaration_id}/additions"): [
        Attempt(
            404, path=f"/v1/declarations/{B_ID}/additions", request=lambda _: {"json": _ADDITION}
        ),
    ],
    ("GET", "/v1/declarations/{declaration_id}/waivers"): [
        Attempt(404, path=f"/v1/declarations/{B_ID}/waivers"),
        Attempt(404, role=Role.RISK_MANAGER, path=f"/v1/declarations/{B_ID}/waivers"),
    ],
    ("GET", "/v1/waivers"): [
        # Counts of office B: refused outright (without office_id: office A's only).
        Attempt(403, role=Role.RISK_MANAGER, request=lambda _: {"params": {"office_id": OFFICE_B}}),
    ],
    ("POST", "/web/declarations/{declaration_id}/waiver"): [
        Attempt(
            404,
            path=f"/web/declarations/{B_ID}/waiver",
            page=True,
            request=lambda _: {"data": dict(_WAIVER)},
        ),
    ],
    ("POST", "/web/declarations/{declaration_id}/addition"): [
        Attempt(
            404,
            path=f"/web/declarations/{B_ID}/addition",
            page=True,
            request=lambda _: {"data": dict(_ADDITION)},
        ),
    ],
    ("GET", "/web/declarations/{declaration_id}"): [
        Attempt(404, path=f"/web/declarations/{B_ID}", page=True),
    ],
    ("POST", "/web/declarations/{declaration_id}/outcome"): [
        Attempt(
            404,
            path=f"/web/declarations/{B_ID}/outcome",
            page=True,
            request=lambda _: {
                "data": {
                    "inspected_at": f"{DAY}T19:00",
                    "inspection_type": "physical",
                    "result": "irregular",
                    "notes": "overwritten by office A",
                }
            },
        ),
    ],
    ("GET", "/web/worklist"): [
        Attempt(
            403,
            page=True,
            request=lambda _: {"params": {"office_id": OFFICE_B, "date": DAY, "capacity": "5"}},
        ),
    ],
    ("GET", "/web/audit"): [
        Attempt(
            403,
            role=Role.RISK_MANAGER,
            page=True,
            request=lambda _: {"params": {"declaration_id": B_ID}},
        ),
    ],
}


def _field_names(model: type[BaseModel]) -> set[str]:
    """Every property name anywhere in a body model's JSON schema (nested models too)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            found.update(node.get("properties", {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(model.model_json_schema())
    return found


def names_taken(route: Any) -> set[str]:
    """The parameter and body field names of a route (its dependencies' included)."""
    dependant = route.dependant
    names = {str(p.alias) for p in dependant.path_params}
    names |= set(single_valued_names(route))
    names |= {str(q.alias) for q in dependant.query_params}
    for body in dependant.body_params:
        annotation = body.field_info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= _field_names(annotation)
        names.add(str(body.alias))
    return names


def routes_taking_an_id_or_office(app: Any) -> set[tuple[str, str]]:
    """Every (method, template) of the app whose request names a declaration or an office."""
    routes = {
        (method, str(context.path)): context
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        for method in context.methods or ()
    }
    assert set(ROUTE_POLICIES) <= set(routes)  # the policy table's routes are all seen here
    return {key for key, route in routes.items() if names_taken(route) & NAMES}


def _client(trained: TrainedModel, folder: Path) -> KeyedClient:
    settings = ServiceSettings(
        model_uri=trained.model_uri,
        num_threads=1,
        database_url=f"sqlite:///{folder / 'shiprisk.db'}",
    )
    return KeyedClient(create_app(settings))


def _base_declaration(trained: TrainedModel) -> dict[str, Any]:
    frame = pd.read_parquet(trained.declarations_path).head(1).copy()
    frame["lodged_at"] = f"{DAY}T10:00:00Z"
    return json_payload(frame)[0]


def _lodge(client: KeyedClient, base_declaration: dict[str, Any]) -> dict[str, Any]:
    """B's declaration with an outcome, and one of A's, scored by an unlimited officer."""
    for declaration_id, office in ((B_ID, OFFICE_B), (A_ID, OFFICE_A)):
        payload = {"declaration_id": declaration_id, "office_id": office}
        answer = client.post("/v1/scores", json={"declarations": [{**base_declaration, **payload}]})
        assert answer.status_code == 200, answer.text
    outcome = {**_OUTCOME, "inspected_at": f"{DAY}T18:00:00Z", "notes": B_NOTES}
    answer = client.post("/v1/outcomes", json={"outcomes": [outcome]})
    assert answer.status_code == 200, answer.text
    # The hit rates recomputed after outcomes land before the snapshots are taken.
    client.app.state.service.performance.flush()  # type: ignore[attr-defined]
    return base_declaration


@pytest.fixture
def client(store: TrainedModel, tmp_path: Path) -> Iterator[KeyedClient]:
    with _client(store, tmp_path) as test_client:
        yield test_client


@pytest.fixture
def base_declaration(store: TrainedModel) -> dict[str, Any]:
    return _base_declaration(store)


@pytest.fixture
def lodged(client: KeyedClient, base_declaration: dict[str, Any]) -> dict[str, Any]:
    """B's declaration with an outcome, and one of A's, scored by an unlimited officer."""
    return _lodge(client, base_declaration)


@pytest.fixture(scope="module")
def lodged_once(
    trained: TrainedModel, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[KeyedClient, dict[str, Any]]]:
    """One app with the declarations lodged, shared by the refused attempts: each attempt
    asserts that it left every stored row as it was, so none changes what the next one sees."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", trained.tracking_uri)
        mlflow.set_tracking_uri(trained.tracking_uri)
        mlflow.set_registry_uri(trained.tracking_uri)
        with _client(trained, tmp_path_factory.mktemp("remit")) as client:
            yield client, _lodge(client, _base_declaration(trained))


def limited_key(client: KeyedClient, role: Role) -> tuple[str, Any]:
    state = client.app.state.service  # type: ignore[attr-defined]
    return make_key(state.store, role, pepper=state.settings.pepper(), offices=[OFFICE_A])


def snapshot(client: KeyedClient) -> dict[str, list[str]]:
    """Every stored row outside the consultation log and the keys."""
    store = client.app.state.service.store  # type: ignore[attr-defined]
    with store.sessions() as session:
        return {
            table.name: sorted(repr(tuple(row)) for row in session.execute(select(table)))
            for table in Base.metadata.sorted_tables
            if table.name not in UNRECORDED
        }


def test_every_route_taking_a_declaration_or_an_office_has_attempts(
    client: KeyedClient,
) -> None:
    assert routes_taking_an_id_or_office(client.app) == set(ATTEMPTS)


def test_the_derivation_sees_a_new_route(client: KeyedClient) -> None:
    app = client.app

    @app.get("/v1/offices/{office_id}/queue")  # type: ignore[attr-defined, untyped-decorator]
    def queue(office_id: str) -> int:
        return 0

    assert ("GET", "/v1/offices/{office_id}/queue") in routes_taking_an_id_or_office(app)


@pytest.mark.parametrize(
    ("route", "attempt"),
    [(route, attempt) for route, attempts in ATTEMPTS.items() for attempt in attempts],
    ids=lambda value: f"{value[0]} {value[1]}" if isinstance(value, tuple) else str(value.status),
)
def test_a_key_limited_to_office_a_is_refused_on_office_b(
    lodged_once: tuple[KeyedClient, dict[str, Any]],
    route: tuple[str, str],
    attempt: Attempt,
) -> None:
    client, lodged = lodged_once
    method, template = route
    text, key = limited_key(client, attempt.role)
    headers = {"X-API-Key": text, "X-Justification": JUSTIFICATION}
    request = attempt.request(lodged)
    if attempt.page:
        cookie, session = page_session(client, key, JUSTIFICATION)
        headers = {"Cookie": cookie}
        if "data" in request:
            request["data"] = {**request["data"], "csrf": session.csrf}
    before = snapshot(client)
    # a page's own API call names its session (and, through it, the key it signed in with)
    caller = session.caller().key.key_id if attempt.page else key.key_id

    answer = client.request(method, attempt.path or template, headers=headers, **request)

    assert answer.status_code == attempt.status, answer.text
    assert B_NOTES not in answer.text
    assert snapshot(client) == before
    record = newest_record(client)  # the API call (a page's own, for pages) is recorded
    assert (record.key_id, record.status) == (caller, attempt.status)


def test_the_bypass_leaves_b_at_b_for_everyone(client: KeyedClient, lodged: dict[str, Any]) -> None:
    text, _ = limited_key(client, Role.OFFICER)
    moved = {**lodged, "declaration_id": B_ID, "office_id": OFFICE_A}
    refused = client.post("/v1/scores", json={"declarations": [moved]}, headers={"X-API-Key": text})
    assert refused.status_code == 404
    assert refused.json() == {
        "detail": [
            {
                "loc": ["body", "declarations", 0, "declaration_id"],
                "msg": "this declaration id cannot be scored with this key: a new lodging "
                "needs a new declaration id",
                "type": "declaration_unavailable",
            }
        ]
    }
    assert OFFICE_B not in refused.text
    detail = client.get(f"/v1/declarations/{B_ID}").json()  # an unlimited officer
    assert (detail["office_id"], detail["declaration"]["office_id"]) == (OFFICE_B, OFFICE_B)
    assert detail["times_scored"] == 1
    # A's own declaration is still scored again by the limited key: history is kept.
    again = {**lodged, "declaration_id": A_ID, "office_id": OFFICE_A, "customs_value_eur": 1.0}
    answer = client.post("/v1/scores", json={"declarations": [again]}, headers={"X-API-Key": text})
    assert answer.status_code == 200, answer.text
    assert client.get(f"/v1/declarations/{A_ID}").json()["times_scored"] == 2


def test_no_caller_may_change_a_recorded_lodging(
    client: KeyedClient, lodged: dict[str, Any]
) -> None:
    moved = {
        **lodged,
        "declaration_id": B_ID,
        "office_id": OFFICE_A,
        "lodged_at": f"{DAY}T11:00:00Z",
        "importer_id": "SOMEONE-ELSE",
    }
    before = snapshot(client)
    refused = client.post("/v1/scores", json={"declarations": [moved]})  # no remit at all
    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert [item["loc"] for item in detail] == [
        ["body", "declarations", 0, "office_id"],
        ["body", "declarations", 0, "lodged_at"],
        ["body", "declarations", 0, "importer_id"],
    ]
    assert {item["type"] for item in detail} == {"lodging_conflict"}
    assert "new declaration id" in detail[0]["fix"]
    for value in (OFFICE_A, OFFICE_B, "SOMEONE-ELSE", "11:00"):
        assert value not in refused.text  # neither the submitted nor the recorded values
    assert snapshot(client) == before
    assert newest_record(client).status == 409
