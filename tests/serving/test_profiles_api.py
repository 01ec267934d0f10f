"""Risk profiles with the real app: a new profile and an expired one change the very next score
without a retrain (on SQLite and PostgreSQL, and seen by a second serving process); revisions
kept; field paths in 422s; roles; conflicts; the `shiprisk profiles` commands and YAML."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import typer
import yaml
from sqlalchemy import func, select
from typer.testing import CliRunner

from serving.access.keys import Role
from serving.app import create_app
from serving.cli import register
from serving.settings import ServiceSettings
from serving.store.database import Store
from serving.store.tables import AuditRecordRow, RiskProfileRevision
from tests.serving.access_keys import KeyedClient as TestClient
from tests.serving.conftest import TrainedModel, json_payload
from tests.serving.store_backends import store_url  # noqa: F401


def settings_for(store: TrainedModel, url: str) -> ServiceSettings:
    return ServiceSettings(model_uri=store.model_uri, num_threads=1, database_url=url)


@pytest.fixture
def client(store: TrainedModel, store_url: str) -> Iterator[TestClient]:  # noqa: F811
    with TestClient(create_app(settings_for(store, store_url))) as test_client:
        yield test_client


@pytest.fixture
def declaration(store: TrainedModel) -> pd.DataFrame:
    row = pd.read_parquet(store.declarations_path).head(1).copy().reset_index(drop=True)
    row["declaration_id"] = "PROF-1"
    row["lodged_at"] = pd.Timestamp("2024-03-10T12:00:00Z")
    return row


def manager(client: TestClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.keys[Role.RISK_MANAGER]}"}


def document(importer: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": "IMP-WATCH",
        "title": "Importer named in partner alert",
        "threat": "weapons",
        "criteria": {
            "op": "all",
            "of": [
                {"op": "equals", "field": "importer_id", "value": importer},
                {"op": "range", "field": "net_mass_kg", "min": 0},
            ],
        },
        "action": {"lane": "red"},
        "rationale": "alert 2024/17 names this importer",
        "instructions": "open every package",
        "owner": "risk unit",
        "valid_from": "2024-01-01T00:00:00Z",
        **fields,
    }


def score(client: TestClient, frame: pd.DataFrame) -> dict[str, Any]:
    response = client.post("/v1/scores", json={"declarations": json_payload(frame), "top_k": 2})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["results"][0]
    return result


def profile_reasons(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [reason for reason in result["reasons"] if reason["kind"] == "profile"]


def test_a_new_profile_and_its_expiry_change_the_next_score_in_every_process(
    client: TestClient,
    declaration: pd.DataFrame,
    store: TrainedModel,
    store_url: str,  # noqa: F811
) -> None:
    score(client, declaration)
    before = score(client, declaration)  # re-scored: history no longer changes between scorings
    assert profile_reasons(before) == []
    # a second serving process on the same store: its own cache of profiles
    with TestClient(create_app(settings_for(store, store_url))) as other:
        assert profile_reasons(score(other, declaration)) == []

        importer = str(declaration.loc[0, "importer_id"]).lower()  # ids compare normalised
        created = client.post("/v1/profiles", json=document(importer), headers=manager(client))
        assert created.status_code == 201, created.text
        assert created.json()["revision"] == 1 and created.json()["in_force"] is True

        for process in (client, other):
            after = score(process, declaration)
            assert after["lane"] == "red"
            assert after["risk"] == before["risk"]  # profiles decide lanes, not risk
            assert profile_reasons(after) == [
                {
                    "threat": "weapons",
                    "feature": "profile_IMP-WATCH",
                    "value": 1.0,
                    "contribution": 0.0,
                    "text": "risk profile IMP-WATCH (Importer named in partner alert): "
                    "selected for the red lane",
                    "kind": "profile",
                    "source_agency": None,
                    "handling_code": None,
                    "profile_id": "IMP-WATCH",
                    "title": "Importer named in partner alert",
                    "rationale": "alert 2024/17 names this importer",
                }
            ]
            assert after["reasons"][0]["kind"] == "profile"  # before the model's reasons

        expired = other.post("/v1/profiles/IMP-WATCH/expire", headers=manager(other))
        assert expired.status_code == 200, expired.text
        assert expired.json()["in_force"] is False
        for process in (client, other):
            again = score(process, declaration)
            assert profile_reasons(again) == []
            assert again["lane"] == before["lane"]


def test_a_profile_for_another_office_or_outside_its_window_does_not_match(
    client: TestClient, declaration: pd.DataFrame
) -> None:
    importer = str(declaration.loc[0, "importer_id"])
    elsewhere = document(importer, id="ELSEWHERE", offices=["NO-SUCH-OFFICE"])
    later = document(importer, id="LATER", valid_from="2999-01-01T00:00:00Z")
    over = document(importer, id="OVER", valid_to="2024-02-01T00:00:00Z")
    for body in (elsewhere, later, over):
        assert client.post("/v1/profiles", json=body, headers=manager(client)).status_code == 201
    assert profile_reasons(score(client, declaration)) == []
    listed = client.get("/v1/profiles").json()["profiles"]
    assert [(p["profile"]["id"], p["in_force"]) for p in listed] == [
        ("ELSEWHERE", True),
        ("LATER", False),
        ("OVER", False),
    ]


def test_a_yellow_share_profile_answers_the_same_for_the_same_declaration(
    client: TestClient, declaration: pd.DataFrame
) -> None:
    body = document(
        str(declaration.loc[0, "importer_id"]), id="SHARE", action={"lane": "yellow", "percent": 50}
    )
    assert client.post("/v1/profiles", json=body, headers=manager(client)).status_code == 201
    answers = [profile_reasons(score(client, declaration))[0]["value"] for _ in range(3)]
    assert len(set(answers)) == 1


def test_revisions_are_kept_whole_and_in_order(client: TestClient, store_url: str) -> None:  # noqa: F811
    body = document("IMP-1")
    assert client.post("/v1/profiles", json=body, headers=manager(client)).status_code == 201
    revised = {**body, "title": "Importer named twice"}
    answer = client.put("/v1/profiles/IMP-WATCH", json=revised, headers=manager(client))
    assert answer.status_code == 200, answer.text
    assert answer.json()["revision"] == 2
    assert client.post("/v1/profiles/IMP-WATCH/expire", headers=manager(client)).status_code == 200

    detail = client.get("/v1/profiles/IMP-WATCH").json()  # an officer reads it
    assert [(r["revision"], r["change"]) for r in detail["revisions"]] == [
        (1, "created"),
        (2, "revised"),
        (3, "expired"),
    ]
    assert detail["revisions"][0]["content"]["title"] == "Importer named in partner alert"
    assert detail["revisions"][1]["content"]["title"] == "Importer named twice"
    assert "valid_to" not in detail["revisions"][1]["content"]
    assert detail["revisions"][2]["content"]["valid_to"]
    assert detail["in_force"] is False and detail["revision"] == 3
    assert {r["changed_by"] for r in detail["revisions"]} == {
        client.key_records[Role.RISK_MANAGER].name
    }

    store = Store.open(store_url)
    try:
        with store.sessions() as session:
            assert session.scalar(select(func.count()).select_from(RiskProfileRevision)) == 3
            routes = session.scalars(select(AuditRecordRow.route)).all()
    finally:
        store.close()
    for route in ("/v1/profiles", "/v1/profiles/{profile_id}", "/v1/profiles/{profile_id}/expire"):
        assert any(route in recorded for recorded in routes), route


def test_invalid_criteria_are_refused_with_their_field_path(client: TestClient) -> None:
    body = document("IMP-1")
    body["criteria"]["of"][1] = {"op": "range", "field": "colour", "min": 1}
    answer = client.post("/v1/profiles", json=body, headers=manager(client))
    assert answer.status_code == 422
    assert [e["loc"] for e in answer.json()["detail"]] == [
        ["body", "criteria", "all", "of", 1, "range", "field"]
    ]
    unsafe = document("IMP-1", criteria={"op": "regex", "pattern": "(a+)+$"})
    answer = client.post("/v1/profiles", json=unsafe, headers=manager(client))
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "criteria", "regex", "pattern"]
    assert "repeat inside a repeat" in answer.json()["detail"][0]["msg"]
    assert client.get("/v1/profiles").json()["profiles"] == []


def test_conflicts_and_unknown_profiles(client: TestClient) -> None:
    body = document("IMP-1")
    headers = manager(client)
    assert client.post("/v1/profiles", json=body, headers=headers).status_code == 201
    assert client.post("/v1/profiles", json=body, headers=headers).status_code == 409
    assert (
        client.put("/v1/profiles/IMP-WATCH?revision=7", json=body, headers=headers).status_code
        == 409
    )
    assert client.put("/v1/profiles/OTHER", json=body, headers=headers).status_code == 422
    unknown = {**body, "id": "OTHER"}
    assert client.put("/v1/profiles/OTHER", json=unknown, headers=headers).status_code == 404
    assert client.post("/v1/profiles/OTHER/expire", headers=headers).status_code == 404
    assert client.get("/v1/profiles/OTHER").status_code == 404
    assert client.post("/v1/profiles/IMP-WATCH/expire", headers=headers).status_code == 200
    assert client.post("/v1/profiles/IMP-WATCH/expire", headers=headers).status_code == 409


def test_officers_read_risk_managers_write(client: TestClient) -> None:
    officer = {"Authorization": f"Bearer {client.keys[Role.OFFICER]}"}
    admin = {"Authorization": f"Bearer {client.keys[Role.ADMIN]}"}
    body = document("IMP-1")
    assert client.post("/v1/profiles", json=body, headers=officer).status_code == 403
    assert client.post("/v1/profiles", json=body, headers=admin).status_code == 403
    assert client.post("/v1/profiles", json=body, headers=manager(client)).status_code == 201
    assert client.put("/v1/profiles/IMP-WATCH", json=body, headers=officer).status_code == 403
    assert client.post("/v1/profiles/IMP-WATCH/expire", headers=officer).status_code == 403
    assert client.get("/v1/profiles", headers=officer).status_code == 200
    assert client.get("/v1/profiles/IMP-WATCH", headers=officer).status_code == 200
    assert client.get("/v1/profiles", headers=admin).status_code == 403


# -- the commands ------------------------------------------------------------------------------


@pytest.fixture
def shiprisk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setenv("SHIPRISK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SHIPRISK_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    app = typer.Typer()
    register(app)
    return app


def test_yaml_import_export_round_trip_and_expire(shiprisk: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    profiles = [
        document("IMP-1"),
        document(
            "IMP-2",
            id="SALW-POST",
            criteria={"op": "keywords", "words": ["пиштољ*", "steel pins"]},
            action={"lane": "yellow", "percent": 30},
            offices=["RS-POST"],
            valid_to="2025-01-01T00:00:00Z",
            review_date="2024-06-01",
        ),
    ]
    source = tmp_path / "profiles.yaml"
    source.write_text(yaml.safe_dump({"profiles": profiles}, allow_unicode=True))
    first = runner.invoke(shiprisk, ["profiles", "import", str(source)])
    assert first.exit_code == 0, first.output
    assert "2 created, 0 revised, 0 unchanged" in first.output

    exported = tmp_path / "out.yaml"
    assert runner.invoke(shiprisk, ["profiles", "export", str(exported)]).exit_code == 0
    again = runner.invoke(shiprisk, ["profiles", "import", str(exported)])
    assert "0 created, 0 revised, 2 unchanged" in again.output
    read_back = yaml.safe_load(exported.read_text())["profiles"]
    assert [p["id"] for p in read_back] == ["IMP-WATCH", "SALW-POST"]
    assert read_back[1]["criteria"]["words"] == ["пиштољ*", "steel pins"]
    assert read_back[1]["action"] == {"lane": "yellow", "percent": 30.0}

    listed = runner.invoke(shiprisk, ["profiles", "list"])
    assert "IMP-WATCH\tred\t100%\tin force\tr1" in listed.output
    assert runner.invoke(shiprisk, ["profiles", "expire", "IMP-WATCH"]).exit_code == 0
    shown = runner.invoke(shiprisk, ["profiles", "show", "IMP-WATCH"])
    assert "revision 2: expired by cli:" in shown.output
    assert runner.invoke(shiprisk, ["profiles", "expire", "IMP-WATCH"]).exit_code == 1


def test_yaml_import_names_every_problem_and_stores_nothing(
    shiprisk: typer.Typer, tmp_path: Path
) -> None:
    runner = CliRunner()
    bad = document("IMP-1", id="FIRST")
    bad["criteria"]["of"][0]["field"] = "colour"
    worse = document("IMP-2", id="SECOND", action={"lane": "blue"})
    good = document("IMP-3", id="THIRD")
    source = tmp_path / "profiles.yaml"
    source.write_text(yaml.safe_dump([good, bad, worse]))
    answer = runner.invoke(shiprisk, ["profiles", "import", str(source)])
    assert answer.exit_code == 2
    assert f"{source}: profiles[1].criteria.all.of[0].equals.field:" in answer.output
    assert f"{source}: profiles[2].action.lane:" in answer.output
    listed = runner.invoke(shiprisk, ["profiles", "list"])
    assert "no risk profiles" in listed.output
