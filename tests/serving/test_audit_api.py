"""The consultation log through the service: one record per request, fail closed, queryable."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from serving.access.keys import Role
from serving.app import create_app
from serving.audit.reading import read_chain
from serving.settings import ServiceSettings
from shiprisk.cli import app as shiprisk_app
from tests.serving.access_keys import JUSTIFICATION, KeyedClient
from tests.serving.conftest import MODEL_NAME, TrainedModel, json_payload

OFFICE = "RS-HORGOS"
DAY = "2024-02-20"


@pytest.fixture
def database_url(tmp_path: Any) -> str:
    return f"sqlite:///{tmp_path / 'shiprisk.db'}"


@pytest.fixture
def client(store: TrainedModel, database_url: str) -> Iterator[KeyedClient]:
    settings = ServiceSettings(model_uri=store.model_uri, num_threads=1, database_url=database_url)
    with KeyedClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def declarations(store: TrainedModel) -> list[dict[str, Any]]:
    frame = pd.read_parquet(store.declarations_path).head(2).copy()
    frame["declaration_id"] = ["A-1", "A-2"]
    frame["office_id"] = OFFICE
    frame["lodged_at"] = f"{DAY}T08:00:00Z"
    return json_payload(frame)


def chain(client: KeyedClient) -> list[Any]:
    with client.app.state.service.store.sessions() as session:  # type: ignore[attr-defined]
        return list(read_chain(session))


def test_each_audited_request_makes_exactly_one_record(
    client: KeyedClient, store: TrainedModel, declarations: list[dict[str, Any]]
) -> None:
    officer = client.key_records[Role.OFFICER]
    assert chain(client) == []
    client.post("/v1/scores", json={"declarations": declarations})
    client.get("/v1/declarations/A-2")
    client.get("/v1/declarations/A-2", headers={"X-Justification": ""})  # 400, recorded
    client.get("/livez")
    client.get("/readyz")
    client.get("/v1/model", headers={"Authorization": ""})  # no key: not recorded
    records = chain(client)
    assert [(r.sequence, r.event.route, r.event.status) for r in records] == [
        (1, "POST /v1/scores", 200),
        (2, "GET /v1/declarations/{declaration_id}", 200),
        (3, "GET /v1/declarations/{declaration_id}", 400),
    ]
    scored, looked_up, refused = (r.event for r in records)
    assert scored.declaration_ids == ("A-1", "A-2")
    assert (scored.key_id, scored.key_name, scored.role) == (
        officer.key_id,
        officer.name,
        "officer",
    )
    assert scored.model_version == f"{MODEL_NAME}/{store.version}"
    assert scored.justification is None
    assert looked_up.declaration_ids == ("A-2",)
    assert looked_up.justification == JUSTIFICATION
    assert refused.justification == ""


def test_risk_managers_query_the_log_by_key_and_declaration(
    client: KeyedClient, declarations: list[dict[str, Any]]
) -> None:
    client.post("/v1/scores", json={"declarations": declarations})
    client.get("/v1/declarations/A-1")
    client.get("/v1/worklist", params={"office_id": OFFICE, "date": DAY, "capacity": 0})
    officer = client.key_records[Role.OFFICER].key_id
    found = client.get("/v1/audit", params={"declaration_id": "A-1"})
    assert found.status_code == 200
    assert [r["route"] for r in found.json()["records"]] == [
        "GET /v1/declarations/{declaration_id}",
        "POST /v1/scores",
    ]
    by_key = client.get("/v1/audit", params={"key_id": officer, "limit": 1}).json()["records"]
    assert [(r["sequence"], r["detail"]) for r in by_key] == [
        (3, {"office_id": OFFICE, "date": DAY, "capacity": "0"})
    ]
    # Consulting the log is itself recorded, with its filters.
    last = chain(client)[-1].event
    assert (last.route, last.role, dict(last.detail)) == (
        "GET /v1/audit",
        "risk_manager",
        {"key_id": officer, "limit": "1"},
    )
    assert client.get("/v1/audit", params={"since": "2020-01-01T00:00:00"}).status_code == 200


@contextmanager
def inserts_refused(client: KeyedClient, table: str) -> Iterator[None]:
    """While the block runs, every insert into ``table`` fails, as on a full disk."""
    engine = client.app.state.service.store.engine  # type: ignore[attr-defined]
    with engine.begin() as connection:
        connection.execute(
            text(
                f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} "
                "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            )
        )
    try:
        yield
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP TRIGGER refuse_{table}"))


def test_an_unwritable_log_fails_closed_and_turns_readyz_not_ready(
    client: KeyedClient, declarations: list[dict[str, Any]]
) -> None:
    assert client.get("/readyz").status_code == 200
    with inserts_refused(client, "audit_records"):
        response = client.post("/v1/scores", json={"declarations": declarations})
        assert response.status_code == 503
        assert response.json() == {
            "detail": "the consultation log cannot be written: request refused, try again later"
        }
        assert "results" not in response.text
        looked_up = client.get("/v1/declarations/A-1")
        assert looked_up.status_code == 503
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["reason"] == ("consultation log not writable (IntegrityError)")
        assert chain(client) == []

    assert client.get("/readyz").status_code == 200
    # The refused scoring kept nothing: its scores and its record share one transaction.
    assert client.get("/v1/declarations/A-1").status_code == 404
    assert client.post("/v1/scores", json={"declarations": declarations}).status_code == 200
    assert client.get("/v1/declarations/A-1").status_code == 200


def test_scores_that_cannot_be_kept_answer_500_keep_nothing_and_are_recorded(
    client: KeyedClient, declarations: list[dict[str, Any]]
) -> None:
    with inserts_refused(client, "scored_declarations"):
        response = client.post("/v1/scores", json={"declarations": declarations})
        assert response.status_code == 500
        assert response.json()["detail"].startswith("internal error, incident ")
        assert "results" not in response.text
        assert [
            (r.event.route, r.event.status, r.event.declaration_ids) for r in chain(client)
        ] == [("POST /v1/scores", 500, ("A-1", "A-2"))]
    assert client.get("/v1/declarations/A-1").status_code == 404  # the scores were not kept


def test_no_response_goes_out_without_its_record(
    client: KeyedClient, declarations: list[dict[str, Any]]
) -> None:
    statuses = [
        client.post("/v1/scores", json={"declarations": declarations}).status_code,
        client.get("/v1/declarations/NOPE").status_code,
        client.get("/v1/model", headers={"X-API-Key": client.keys[Role.OFFICER]}).status_code,
        client.post("/v1/scores", json={"declarations": [{"declaration_id": "x"}]}).status_code,
        client.get("/v1/model").status_code,
    ]
    assert statuses == [200, 404, 403, 422, 200]
    assert [r.event.status for r in chain(client)] == statuses


def test_audit_verify_names_an_edited_record(
    client: KeyedClient,
    database_url: str,
    declarations: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for _ in range(3):
        client.get("/v1/model")
    monkeypatch.setenv("SHIPRISK_DATABASE_URL", database_url)
    runner = CliRunner()
    intact = runner.invoke(shiprisk_app, ["audit", "verify"])
    assert intact.exit_code == 0, intact.output
    assert "consultation log intact: 3 records, head 3" in intact.output
    engine = client.app.state.service.store.engine  # type: ignore[attr-defined]
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_records SET status = 500 WHERE sequence = 2"))
    broken = runner.invoke(shiprisk_app, ["audit", "verify"])
    assert broken.exit_code == 1
    assert (
        "consultation log broken at record 2: record 2 does not match its hash: it was edited"
        in " ".join(broken.output.split())
    )
