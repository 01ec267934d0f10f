"""Waivers and additions with the real app, on SQLite and PostgreSQL (issue 13, item 7).

A waiver of a profile's red-lane pick is stored with the profile, the lane and who waived it,
with its consultation record; waiving twice, or waiving what nothing selected, is 409; bad
bodies 422 naming the field; the wrong role 403; a declaration outside the remit or never
scored 404. An addition makes the declaration's outcome an ``officer`` selection with no
probability. The counts risk managers read match the waivers made.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
import typer
from sqlalchemy import func, select
from typer.testing import CliRunner

from serving.access.keys import Role
from serving.app import create_app
from serving.cli import register
from serving.settings import ServiceSettings
from serving.store import waivers as stored
from serving.store.tables import InspectionOutcome, InspectionOverride
from serving.waivers.settings import MAX_REASON_CHARS, WaiverCode
from tests.serving.access_keys import JUSTIFICATION, make_key, newest_record
from tests.serving.access_keys import KeyedClient as TestClient
from tests.serving.conftest import TrainedModel, json_payload
from tests.serving.store_backends import operational_store, store_url  # noqa: F401

OFFICE = "RS-HORGOS"
OTHER_OFFICE = "AL-KAKAVIJE"
DAY = "2024-03-11"  # a Monday
PROFILE = "IMP-RED"


@pytest.fixture
def client(store: TrainedModel, store_url: str) -> Iterator[TestClient]:  # noqa: F811
    settings = ServiceSettings(model_uri=store.model_uri, num_threads=1, database_url=store_url)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def rows(store: TrainedModel) -> pd.DataFrame:
    frame = pd.read_parquet(store.declarations_path).head(40).copy().reset_index(drop=True)
    frame["office_id"] = OFFICE
    frame["lodged_at"] = pd.Timestamp(f"{DAY}T09:00:00Z")
    return frame


def as_role(client: TestClient, role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.keys[role]}", "X-Justification": JUSTIFICATION}


def score(client: TestClient, frame: pd.DataFrame) -> list[dict[str, Any]]:
    answer = client.post("/v1/scores", json={"declarations": json_payload(frame)})
    assert answer.status_code == 200, answer.text
    results: list[dict[str, Any]] = answer.json()["results"]
    return results


def red_by_profile(client: TestClient, rows: pd.DataFrame, declaration_id: str) -> dict[str, Any]:
    """A declaration a risk profile (on its importer) sends to the red lane."""
    row = rows.head(1).copy()
    row["declaration_id"] = declaration_id
    profile = {
        "id": PROFILE,
        "title": "Importer named in partner alert",
        "threat": "weapons",
        "criteria": {
            "op": "equals",
            "field": "importer_id",
            "value": str(row.loc[0, "importer_id"]),
        },
        "action": {"lane": "red"},
        "rationale": "alert 2024/17",
        "owner": "risk unit",
        "valid_from": "2024-01-01T00:00:00Z",
    }
    made = client.post("/v1/profiles", json=profile, headers=as_role(client, Role.RISK_MANAGER))
    assert made.status_code == 201, made.text
    (result,) = score(client, row)
    assert result["lane"] == "red"
    return result


def unselected(client: TestClient, rows: pd.DataFrame, prefix: str) -> str:
    """The id of a scored declaration that nothing selects (not red, no profile, no draw)."""
    frame = rows.copy()
    frame["declaration_id"] = [f"{prefix}-{i}" for i in range(len(frame))]
    for result in score(client, frame):
        if result["lane"] != "red" and not any(r["kind"] == "profile" for r in result["reasons"]):
            return str(result["declaration_id"])
    raise AssertionError("every declaration was sent to the red lane")


def overrides(client: TestClient) -> list[InspectionOverride]:
    with client.app.state.service.store.sessions() as session:  # type: ignore[attr-defined]
        found = list(session.scalars(select(InspectionOverride).order_by(InspectionOverride.id)))
        session.expunge_all()
        return found


def test_a_waived_profile_pick_is_stored_audited_listed_and_counted(
    client: TestClient, rows: pd.DataFrame
) -> None:
    red_by_profile(client, rows, "W-1")
    officer = client.key_records[Role.OFFICER]
    answer = client.post(
        "/v1/declarations/W-1/waivers", json={"code": "AEO", "reason": "AEO certificate RS-17"}
    )
    assert answer.status_code == 201, answer.text
    waiver = answer.json()
    assert (waiver["action"], waiver["code"], waiver["reason"]) == (
        "waiver",
        "AEO",
        "AEO certificate RS-17",
    )
    assert (waiver["lane"], waiver["profile_ids"], waiver["office_id"]) == (
        "red",
        [PROFILE],
        OFFICE,
    )
    assert waiver["recorded_by"] == officer.name and waiver["selection_reason"] is None

    (row,) = overrides(client)
    assert (row.declaration_id, row.action, row.code, row.profile_id) == (
        "W-1",
        "waiver",
        "AEO",
        PROFILE,
    )
    assert (row.key_id, row.lane, row.draw_id) == (officer.key_id, "red", None)
    record = newest_record(client)
    assert record.route == "POST /v1/declarations/{declaration_id}/waivers"
    assert (record.status, record.key_id, record.declaration_ids) == (201, officer.key_id, ["W-1"])

    again = client.post("/v1/declarations/W-1/waivers", json={"code": "AEO"})
    assert again.status_code == 409, again.text
    assert len(overrides(client)) == 1
    assert newest_record(client).status == 409  # the refusal is in the log too

    listed = client.get("/v1/declarations/W-1/waivers")
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["selection"]["selected"] is True and body["selection"]["profile_ids"] == [PROFILE]
    assert [w["code"] for w in body["waivers"]] == ["AEO"] and body["additions"] == []

    counts = client.get("/v1/waivers", params={"period": "day"})
    assert counts.status_code == 200, counts.text
    today = datetime.now(UTC).date().isoformat()
    assert counts.json() == {
        "since": None,
        "until": None,
        "period": "day",
        "waivers": 1,
        "additions": 0,
        "by_office": [{"office_id": OFFICE, "waivers": 1, "additions": 0}],
        "by_code": [{"code": "AEO", "label": "AEO-trusted trader", "waivers": 1}],
        "by_profile": [{"profile_id": PROFILE, "waivers": 1}],
        "by_pick": [{"pick": "profile", "waivers": 1}],
        "by_period": [{"start": today, "waivers": 1, "additions": 0}],
    }
    with client.app.state.service.store.sessions() as session:  # type: ignore[attr-defined]
        monday = stored.period_start(datetime.now(UTC), "week")
        assert stored.waiver_counts(session) == {PROFILE: {monday: 1}}
        assert stored.waiver_counts(session, profile_id="ELSE") == {}
        tomorrow = datetime.now(UTC).date() + timedelta(days=1)
        assert stored.waiver_counts(session, since=tomorrow) == {}


def test_an_addition_makes_the_outcome_an_officer_selection_without_probability(
    client: TestClient, rows: pd.DataFrame
) -> None:
    declaration_id = unselected(client, rows, "ADD")
    path = f"/v1/declarations/{declaration_id}"
    nothing = client.post(f"{path}/waivers", json={"code": "AEO"})
    assert nothing.status_code == 409 and "nothing to waive" in nothing.text

    added = client.post(f"{path}/additions", json={"reason": "driver's account does not fit"})
    assert added.status_code == 201, added.text
    assert added.json()["selection_reason"] == "officer"
    assert added.json()["selection_probability"] is None
    assert client.post(f"{path}/additions", json={"reason": "again"}).status_code == 409
    assert client.post(f"{path}/waivers", json={"code": "AEO"}).status_code == 409

    outcome = {
        "declaration_id": declaration_id,
        "inspected_at": f"{DAY}T15:00:00Z",
        "result": "irregular",
        "revenue_irregularity": True,
    }
    recorded = client.post("/v1/outcomes", json={"outcomes": [outcome]})
    assert recorded.status_code == 200, recorded.text
    detail = client.get(path).json()
    (stored_outcome,) = detail["outcomes"]
    assert stored_outcome["selection_reason"] == "officer"
    assert stored_outcome["selection_probability"] is None
    listed = client.get(f"{path}/waivers").json()
    assert [a["reason"] for a in listed["additions"]] == ["driver's account does not fit"]
    assert client.get("/v1/waivers").json()["additions"] == 1

    # An outcome of a declaration nobody added keeps no reason of its own.
    other = unselected(client, rows, "PLAIN")
    plain = {**outcome, "declaration_id": other}
    assert client.post("/v1/outcomes", json={"outcomes": [plain]}).status_code == 200
    with client.app.state.service.store.sessions() as session:  # type: ignore[attr-defined]
        reason = session.scalar(
            select(InspectionOutcome.selection_reason).where(
                InspectionOutcome.declaration_id == other
            )
        )
    assert reason is None


def test_a_worklist_pick_is_waived_with_its_draw(client: TestClient, rows: pd.DataFrame) -> None:
    frame = rows.head(6).copy()
    frame["declaration_id"] = [f"WL-{i}" for i in range(len(frame))]
    score(client, frame)
    drawn = client.get("/v1/worklist", params={"office_id": OFFICE, "date": DAY, "capacity": 2})
    assert drawn.status_code == 200, drawn.text
    pick = drawn.json()["picks"][0]
    answer = client.post(
        f"/v1/declarations/{pick['declaration_id']}/waivers",
        json={"code": "OTHER", "reason": "inspected jointly with the border police"},
    )
    assert answer.status_code == 201, answer.text
    waiver = answer.json()
    assert waiver["draw_version"] == drawn.json()["version"]
    assert waiver["pick_reason"] == pick["reason"]
    assert waiver["selection_probability"] == pytest.approx(pick["selection_probability"])
    counts = client.get("/v1/waivers").json()
    assert counts["by_code"] == [
        {"code": "OTHER", "label": "Other: reason written below", "waivers": 1}
    ]
    expected_pick = "profile" if waiver["profile_ids"] else pick["reason"]
    assert counts["by_pick"] == [{"pick": expected_pick, "waivers": 1}]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "NO_SUCH_CODE"}, "code"),
        ({"code": "OTHER"}, "reason"),
        ({"code": "OTHER", "reason": "   "}, "reason"),
        ({"code": "AEO", "reason": "x" * (MAX_REASON_CHARS + 1)}, "reason"),
        ({"code": "aeo"}, "code"),
        ({"code": "AEO", "note": "extra"}, "note"),
        ({}, "code"),
    ],
)
def test_a_bad_waiver_is_422_naming_the_field_and_stores_nothing(
    client: TestClient, rows: pd.DataFrame, body: dict[str, Any], field: str
) -> None:
    red_by_profile(client, rows, "BAD-1")
    answer = client.post("/v1/declarations/BAD-1/waivers", json=body)
    assert answer.status_code == 422, answer.text
    assert any(item["loc"][:2] == ["body", field] for item in answer.json()["detail"])
    assert overrides(client) == []


@pytest.mark.parametrize(
    "body", [{}, {"reason": ""}, {"reason": "x" * (MAX_REASON_CHARS + 1)}, {"reason": 5}]
)
def test_a_bad_addition_is_422(
    client: TestClient, rows: pd.DataFrame, body: dict[str, Any]
) -> None:
    declaration_id = unselected(client, rows, "BADADD")
    answer = client.post(f"/v1/declarations/{declaration_id}/additions", json=body)
    assert answer.status_code == 422, answer.text
    assert overrides(client) == []


def test_roles_remit_and_unknown_declarations(client: TestClient, rows: pd.DataFrame) -> None:
    red_by_profile(client, rows, "R-1")
    waiver = {"code": "AEO"}
    for role in (Role.RISK_MANAGER, Role.ADMIN):
        refused = client.post(
            "/v1/declarations/R-1/waivers", json=waiver, headers=as_role(client, role)
        )
        assert refused.status_code == 403, role
    assert client.get("/v1/waivers", headers=as_role(client, Role.OFFICER)).status_code == 403
    assert client.get("/v1/waivers", headers=as_role(client, Role.ADMIN)).status_code == 403

    state = client.app.state.service  # type: ignore[attr-defined]
    elsewhere, _ = make_key(
        state.store, Role.OFFICER, pepper=state.settings.pepper(), offices=[OTHER_OFFICE]
    )
    limited = {"X-API-Key": elsewhere, "X-Justification": JUSTIFICATION}
    for method, path, body in (
        ("POST", "/v1/declarations/R-1/waivers", waiver),
        ("POST", "/v1/declarations/R-1/additions", {"reason": "look"}),
        ("GET", "/v1/declarations/R-1/waivers", None),
        ("POST", "/v1/declarations/NEVER-SCORED/waivers", waiver),
    ):
        answer = client.request(method, path, json=body, headers=limited)
        assert answer.status_code == 404, (path, answer.text)
        unlimited = client.request(method, path.replace("R-1", "NEVER-SCORED"), json=body)
        assert unlimited.status_code == 404, path
    assert overrides(client) == []

    # A risk manager limited to the other office counts only that office's decisions.
    assert client.post("/v1/declarations/R-1/waivers", json=waiver).status_code == 201
    manager, _ = make_key(
        state.store, Role.RISK_MANAGER, pepper=state.settings.pepper(), offices=[OTHER_OFFICE]
    )
    mine = client.get("/v1/waivers", headers={"X-API-Key": manager})
    assert mine.status_code == 200 and mine.json()["waivers"] == 0
    theirs = client.get("/v1/waivers", params={"office_id": OFFICE}, headers={"X-API-Key": manager})
    assert theirs.status_code == 403
    assert client.get("/v1/waivers", params={"office_id": OFFICE}).json()["waivers"] == 1


def test_the_exception_codes_come_from_the_settings(store: TrainedModel, tmp_path: Any) -> None:
    settings = ServiceSettings(
        model_uri=store.model_uri,
        num_threads=1,
        database_url=f"sqlite:///{tmp_path / 'shiprisk.db'}",
        waiver_codes=(WaiverCode(code="SEALED", label="Customs seal intact"),),
    )
    with TestClient(create_app(settings)) as configured:
        listed = configured.get("/v1/waivers/codes")
        assert listed.status_code == 200, listed.text
        assert listed.json()["codes"] == [
            {"code": "SEALED", "label": "Customs seal intact", "reason_required": False},
            {"code": "OTHER", "label": "Other: reason written below", "reason_required": True},
        ]
        frame = pd.read_parquet(store.declarations_path).head(1).copy()
        frame["declaration_id"] = "CODES-1"
        score(configured, frame)
        refused = configured.post("/v1/declarations/CODES-1/waivers", json={"code": "AEO"})
        assert refused.status_code == 422
        assert "SEALED" in refused.json()["detail"][0]["msg"]


def decision(
    declaration_id: str, action: str, at: datetime, office: str, profiles: list[str]
) -> InspectionOverride:
    """A waiver (code AEO) or an addition, as the service stores one."""
    return InspectionOverride(
        declaration_id=declaration_id,
        action=action,
        office_id=office,
        code="AEO" if action == "waiver" else None,
        reason=None if action == "waiver" else "look",
        profile_id=profiles[0] if profiles else None,
        profile_ids=profiles,
        lane="red" if action == "waiver" else "green",
        recorded_by="test",
        key_id="k",
        recorded_at=at,
    )


def test_counts_by_period_profile_and_window(operational_store: Any) -> None:  # noqa: F811
    """`waiver_counts` by hand: periods, profiles (a waiver counts for each), the window."""
    at = [
        datetime(2024, 3, 11, 9, tzinfo=UTC),  # Monday
        datetime(2024, 3, 13, 9, tzinfo=UTC),  # same week
        datetime(2024, 3, 18, 9, tzinfo=UTC),  # next week
        datetime(2024, 4, 2, 9, tzinfo=UTC),  # next month
    ]
    profiles = [["P1"], ["P1", "P2"], [], ["P2"]]
    with operational_store.transaction() as session:
        for i, (moment, selecting) in enumerate(zip(at, profiles, strict=True)):
            office = OFFICE if i % 2 else OTHER_OFFICE
            stored.add_override(session, decision(f"C-{i}", "waiver", moment, office, selecting))
        stored.add_override(session, decision("C-0", "addition", at[0], OTHER_OFFICE, []))
    with operational_store.transaction() as session, pytest.raises(stored.OverrideConflict):
        stored.add_override(session, decision("C-0", "waiver", at[0], OFFICE, []))
    with operational_store.sessions() as session:
        assert stored.waiver_counts(session) == {
            "P1": {date(2024, 3, 11): 2},
            "P2": {date(2024, 3, 11): 1, date(2024, 4, 1): 1},
        }
        assert stored.waiver_counts(session, period="month", profile_id="P2") == {
            "P2": {date(2024, 3, 1): 1, date(2024, 4, 1): 1}
        }
        assert stored.waiver_counts(session, period="day", since=date(2024, 3, 12)) == {
            "P1": {date(2024, 3, 13): 1},
            "P2": {date(2024, 3, 13): 1, date(2024, 4, 2): 1},
        }
        assert stored.waiver_counts(session, until=date(2024, 3, 13)) == {
            "P1": {date(2024, 3, 11): 1}
        }
        with pytest.raises(ValueError, match="period"):
            stored.waiver_counts(session, period="year")
        counts = stored.override_counts(session, offices=[OFFICE])
        assert (counts.waivers, counts.additions) == (2, 0)  # C-1 and C-3 lie at OFFICE
        everything = stored.override_counts(session)
        assert (everything.waivers, everything.additions) == (4, 1)
        assert dict(everything.by_pick) == {"profile": 3, "red_lane": 1}
        assert dict(everything.by_profile) == {"P1": 2, "P2": 2}
        assert session.scalar(select(func.count()).select_from(InspectionOverride)) == 5


def test_the_waivers_command_counts_as_the_route_does(store_url: str) -> None:  # noqa: F811
    from serving.store.database import Store

    operational = Store.open(store_url)
    try:
        moment = datetime(2024, 3, 13, 9, tzinfo=UTC)
        with operational.transaction() as session:
            stored.add_override(session, decision("CLI-1", "waiver", moment, OFFICE, ["P1"]))
            stored.add_override(session, decision("CLI-2", "addition", moment, OFFICE, []))
    finally:
        operational.close()
    app = typer.Typer()
    register(app)
    ran = CliRunner().invoke(
        app, ["waivers", "counts", "--period", "month", "--database-url", store_url]
    )
    assert ran.exit_code == 0, ran.output
    counted = json.loads(ran.output)
    assert (counted["waivers"], counted["additions"]) == (1, 1)
    assert counted["by_profile"] == [{"profile_id": "P1", "waivers": 1}]
    assert counted["by_period"] == [{"start": "2024-03-01", "waivers": 1, "additions": 1}]
    bad = CliRunner().invoke(app, ["waivers", "counts", "--period", "year"])
    assert bad.exit_code != 0
    codes = CliRunner().invoke(app, ["waivers", "codes"])
    assert codes.exit_code == 0 and codes.output.splitlines()[0] == "AEO\tAEO-trusted trader"
