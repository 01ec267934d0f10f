"""A single-valued query parameter given twice is refused on every route, and the
consultation record names exactly the values the route used (issue 16, item 2)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI, Query
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from serving.access.policy import policy_for
from serving.access.query import single_valued_names, single_valued_query
from serving.app import create_app
from serving.settings import ServiceSettings
from tests.serving.access_keys import KeyedClient, newest_record
from tests.serving.conftest import TrainedModel

# A valid value of each query parameter of the app's routes, so that only the repeat is wrong.
VALID = {
    "office_id": "RS-HORGOS",
    "date": "2024-02-20",
    "capacity": "3",
    "since": "2024-01-01T00:00:00Z",
    "until": "2030-01-01T00:00:00Z",
    "key_id": "0123456789ab",
    "person": "Ana Officer",
    "subject": "ana",
    "declaration_id": "D1",
    "limit": "5",
    "recorded": "1",
    "next": "/web/",
    "to": "RS-CUSTOMS",
    "entity_type": "importer_id",
    "value": "IMP-1",
    "offset": "0",
    "revision": "1",
    "direction": "in",
    "partner": "RS-CUSTOMS",
    "cursor": "1",
    "period": "week",
    "saved": "1",
    "expired": "1",
    "profile_id": "IMP-RED",
    "decided": "waiver",  # the declaration page after a waiver
}


def app_routes_with_queries(app: Any) -> list[tuple[str, str, frozenset[str]]]:
    """(method, template, single-valued query names) of every route of the app that has any."""
    return sorted(
        (method, str(context.path), names)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute) and (names := single_valued_names(context))
        for method in context.methods or ()
    )


@pytest.fixture(scope="module")
def client(
    trained: TrainedModel, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KeyedClient]:
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained.tracking_uri)
    settings = ServiceSettings(
        model_uri=trained.model_uri,
        num_threads=1,
        database_url=f"sqlite:///{tmp_path_factory.mktemp('query') / 'shiprisk.db'}",
    )
    with KeyedClient(create_app(settings)) as test_client:
        yield test_client
    monkeypatch.undo()


def test_the_app_routes_with_query_parameters_are_found(client: KeyedClient) -> None:
    found = {(method, template) for method, template, _ in app_routes_with_queries(client.app)}
    # The API's and the pages' (a new route with query parameters joins the test below).
    assert {("GET", "/v1/worklist"), ("GET", "/v1/audit"), ("GET", "/web/worklist")} <= found
    assert set(VALID) >= {n for _, _, names in app_routes_with_queries(client.app) for n in names}


def test_every_repeated_single_valued_parameter_is_refused_and_recorded(
    client: KeyedClient,
) -> None:
    cases = [
        (method, template, name, names)
        for method, template, names in app_routes_with_queries(client.app)
        for name in sorted(names)
    ]
    assert cases
    for method, template, name, names in cases:
        path = template.replace("{declaration_id}", "D1").replace("{profile_id}", "P-1")
        query = [(other, VALID[other]) for other in sorted(names) if other != name]
        query += [(name, VALID[name]), (name, VALID[name] + "0")]
        answer = client.request(method, path, params=query)
        assert answer.status_code == 400, (method, template, name, answer.text)
        assert answer.json()["detail"] == [
            {
                "loc": ["query", name],
                "msg": "given more than once: this parameter takes one value",
                "type": "repeated_parameter",
                "fix": f"send {name} once",
            }
        ]
        if policy_for(method, template) is not None:  # an API route: the 400 is recorded
            record = newest_record(client)
            assert (record.route, record.status) == (f"{method} {template}", 400)
            assert name not in record.detail  # neither of the two values


def test_the_worklist_of_two_offices_is_refused_and_the_record_names_neither(
    client: KeyedClient,
) -> None:
    answer = client.get(
        "/v1/worklist?office_id=AL-KAKAVIJE&office_id=RS-HORGOS&date=2024-02-20&capacity=3"
    )
    assert answer.status_code == 400
    assert answer.json()["detail"][0]["loc"] == ["query", "office_id"]
    record = newest_record(client)
    assert (record.route, record.status, record.detail) == ("GET /v1/worklist", 400, {})


def test_the_record_names_the_values_the_route_used(client: KeyedClient) -> None:
    answer = client.get(
        "/v1/worklist",
        params={
            "office_id": "RS-HORGOS",
            "date": "2024-02-20",
            "capacity": "3",
            "declaration_id": "NOT-CONSULTED",  # not a parameter of this route
        },
    )
    assert answer.status_code == 200, answer.text
    record = newest_record(client)
    assert record.detail == {"office_id": "RS-HORGOS", "date": "2024-02-20", "capacity": "3"}
    assert "NOT-CONSULTED" not in record.declaration_ids


def test_a_list_parameter_may_repeat_and_a_scalar_may_not() -> None:
    app = FastAPI(dependencies=[Depends(single_valued_query)])

    @app.get("/things")
    def things(
        tag: Annotated[list[str], Query()],
        office_id: Annotated[str | None, Query()] = None,
    ) -> dict[str, Any]:
        return {"tag": tag, "office_id": office_id}

    with TestClient(app) as client:
        many = client.get("/things?tag=a&tag=b&office_id=X")
        assert many.json() == {"tag": ["a", "b"], "office_id": "X"}
        refused = client.get("/things?tag=a&office_id=X&office_id=Y")
        assert refused.status_code == 400
        assert refused.json()["detail"][0]["loc"] == ["query", "office_id"]
        # An encoded name is the same name.
        assert client.get("/things?tag=a&office_id=X&office%5Fid=Y").status_code == 400
