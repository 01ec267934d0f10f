"""The exchange routes in the real app: inbox and outbox, roles, and consultation records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from serving.access.keys import Role
from serving.app import create_app
from serving.exchange.signing import sign, verify
from serving.settings import ServiceSettings
from serving.store.tables import ExchangeMessage
from tests.serving.access_keys import KeyedClient, newest_record
from tests.serving.exchange.partners import (
    agency,
    alert,
    declaration,
    knowing,
    record_seizure,
)

A = agency("RS-CUSTOMS", "RS")
OURS = "BA-ITA"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[KeyedClient]:
    partners = tmp_path / "partners.yaml"
    partners.write_text(
        yaml.safe_dump(
            {
                "partners": {
                    A.organisation: {"country": "RS", "key": A.public_jwk(), "personal_data": True}
                }
            }
        )
    )
    settings = ServiceSettings(
        model_uri="models:/absent@champion",
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        data_dir=tmp_path,
        exchange_organisation=OURS,
        exchange_country="BA",
        exchange_partners_file=partners,
    )
    with KeyedClient(create_app(settings)) as test_client:
        yield test_client


def messages(client: KeyedClient) -> int:
    store = client.app.state.service.store  # type: ignore[attr-defined]
    with store.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(ExchangeMessage)) or 0)


def test_the_inbox_stores_a_signed_alert_and_records_the_collection(client: KeyedClient) -> None:
    token = sign(alert(A, OURS), A.signing_key, A.organisation)
    response = client.post("/v1/exchange/inbox", json={"message": token})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["sender"], body["handling_code"], body["watchlist_entries"]) == (
        "RS-CUSTOMS",
        "H0",
        2,
    )
    assert messages(client) == 1
    record = newest_record(client)
    assert (record.route, record.status, record.role) == (
        "POST /v1/exchange/inbox",
        200,
        "risk_manager",
    )

    again = client.post("/v1/exchange/inbox", json={"message": token})
    assert again.status_code == 409
    assert again.json()["detail"][0]["type"] == "replayed"
    assert messages(client) == 1


def test_the_inbox_answers_every_schema_problem_with_its_path(client: KeyedClient) -> None:
    message = alert(A, OURS)
    del message["tlp"]
    message["entities"][0]["type"] = "boat"
    response = client.post(
        "/v1/exchange/inbox", json={"message": sign(message, A.signing_key, A.organisation)}
    )
    assert response.status_code == 422
    locations = {tuple(item["loc"]) for item in response.json()["detail"]}
    assert locations == {("body", "message"), ("body", "message", "entities", 0, "type")}
    assert messages(client) == 0


def test_an_unsigned_message_is_400_and_an_officer_may_not_post(client: KeyedClient) -> None:
    response = client.post("/v1/exchange/inbox", json={"message": json.dumps(alert(A, OURS))})
    assert response.status_code == 400
    assert response.json()["detail"][0]["type"] == "unsigned"
    officer = {"Authorization": f"Bearer {client.keys[Role.OFFICER]}"}
    token = sign(alert(A, OURS), A.signing_key, A.organisation)
    assert (
        client.post("/v1/exchange/inbox", json={"message": token}, headers=officer).status_code
        == 403
    )
    assert messages(client) == 0


def test_the_outbox_signs_reports_and_records_the_disclosure(client: KeyedClient) -> None:
    record_seizure(client.app.state.service.store, declaration("D1"))  # type: ignore[attr-defined]
    response = client.get("/v1/exchange/outbox", params={"to": "RS-CUSTOMS"})
    assert response.status_code == 200, response.text
    reports = response.json()["reports"]
    assert [r["kind"] for r in reports] == ["seizure_report"]
    ours = knowing(A, client.app.state.exchange_config)  # type: ignore[attr-defined]
    payload = json.loads(verify(reports[0]["token"], ours.partners).payload)
    assert payload["sender"]["organisation"] == OURS
    record = newest_record(client)
    assert record.route == "GET /v1/exchange/outbox"
    assert record.declaration_ids == ["D1"]
    assert record.detail == {"to": "RS-CUSTOMS"}
    assert messages(client) == 1  # the disclosure is kept, with its token
    assert client.get("/v1/exchange/outbox", params={"to": "NOBODY"}).status_code == 404
