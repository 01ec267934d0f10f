"""An office's capacity refits its lanes from its recent scores, without a retrain (issue 13,
item 6): the very next score of that office follows, in every serving process; too few
scores, bad bodies, roles and remit are refused; the consultation log records each setting.
The fit itself and the relaning are tested alone at the end."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import pytest
from alembic import command
from sqlalchemy import func, insert, inspect, select

from models.bundle import ScoredDeclaration as ModelScore
from models.lanes import thresholds_for
from serving.access.keys import Role
from serving.app import create_app
from serving.inspections.capacity import ScoredLane, fit_office_lanes
from serving.scoring.lanes import relaned
from serving.settings import ServiceSettings
from serving.store.database import Store, _alembic_config, create_store_engine
from serving.store.offices import OfficeThresholds
from serving.store.tables import AuditRecordRow, OfficeLanes, WorklistRun, WorklistSelection
from tests.serving.access_keys import KeyedClient, make_key
from tests.serving.conftest import TrainedModel, json_payload
from tests.serving.store_backends import store_url  # noqa: F401

OFFICE = "RS-HORGOS"
OTHER_OFFICE = "AL-KAKAVIJE"
ROUTE = "/v1/offices/{office_id}/capacity"
COUNT = 40


def settings_for(model: TrainedModel, url: str, **changes: Any) -> ServiceSettings:
    values: dict[str, Any] = {
        "model_uri": model.model_uri,
        "num_threads": 1,
        "database_url": url,
        "lane_min_scores": 20,
        "exploration_share": 0.0,  # the capacity is the model's alone: lanes easy to predict
    }
    return ServiceSettings(**{**values, **changes})


@pytest.fixture
def client(store: TrainedModel, store_url: str) -> Iterator[KeyedClient]:  # noqa: F811
    with KeyedClient(create_app(settings_for(store, store_url))) as test_client:
        yield test_client


def todays(model: TrainedModel, count: int, office: str = OFFICE) -> list[dict[str, Any]]:
    """``count`` declarations lodged at ``office`` today: inside any recent window."""
    frame = pd.read_parquet(model.declarations_path).head(count).copy().reset_index(drop=True)
    frame["declaration_id"] = [f"{office}-{i:03d}" for i in range(count)]
    frame["office_id"] = office
    frame["lodged_at"] = pd.Timestamp(datetime.now(UTC).replace(hour=0, minute=5, second=0))
    return json_payload(frame)


def score(client: KeyedClient, declarations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    answer = client.post("/v1/scores", json={"declarations": declarations, "top_k": 0})
    assert answer.status_code == 200, answer.text
    results: list[dict[str, Any]] = answer.json()["results"]
    return results


def manager(client: KeyedClient) -> dict[str, str]:
    return {"X-API-Key": client.keys[Role.RISK_MANAGER]}


def set_capacity(client: KeyedClient, office: str = OFFICE, **body: Any) -> dict[str, Any]:
    answer = client.put(f"/v1/offices/{office}/capacity", json=body, headers=manager(client))
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_the_next_score_follows_the_capacity_in_every_process_without_a_retrain(
    client: KeyedClient,
    store: TrainedModel,
    store_url: str,  # noqa: F811
) -> None:
    declarations = todays(store, COUNT)
    score(client, declarations)  # first scorings change the entities' history
    bundle = {r["declaration_id"]: r for r in score(client, declarations)}  # stable from now
    overall = {d: r["overall"] for d, r in bundle.items()}
    safest = min(overall, key=lambda d: (overall[d], d))
    riskiest = max(overall, key=lambda d: (overall[d], d))
    probe = [d for d in declarations if d["declaration_id"] in (safest, riskiest)]
    assert bundle[safest]["lane"] == "green"  # the bundle's 2% red never reaches the safest
    with KeyedClient(create_app(settings_for(store, store_url))) as other:
        score(other, probe)  # the second process has read the (empty) settings

        every = set_capacity(client, capacity=COUNT, yellow_capacity=0)
        assert every["thresholds"]["red"] == pytest.approx(overall[safest])
        assert every["fit"]["scores"] == COUNT and every["fit"]["days"] == 1
        assert every["fit"]["red_share"] == pytest.approx(1.0)
        assert every["in_force"] is True
        assert every["set_by"] == client.key_records[Role.RISK_MANAGER].name
        assert every["model"] == {"name": "shiprisk", "version": store.version}
        for process in (client, other):
            lanes = {r["declaration_id"]: r["lane"] for r in score(process, probe)}
            assert lanes == {safest: "red", riskiest: "red"}

        documents = set_capacity(client, capacity=0, yellow_capacity=COUNT)
        assert documents["thresholds"]["red"] is None  # nobody
        for process in (client, other):
            lanes = {r["declaration_id"]: r["lane"] for r in score(process, probe)}
            assert lanes == {safest: "yellow", riskiest: "yellow"}

        set_capacity(client, capacity=0, yellow_capacity=0)
        for process in (client, other):
            lanes = {r["declaration_id"]: r["lane"] for r in score(process, probe)}
            assert lanes == {safest: "green", riskiest: "green"}
            # risks never move: a capacity decides lanes only
            assert {r["overall"] for r in score(process, probe)} == {
                overall[safest],
                overall[riskiest],
            }

    # every setting is kept, each recorded in the consultation log
    store_ = client.app.state.service.store  # type: ignore[attr-defined]
    with store_.sessions() as session:
        assert session.scalar(select(func.count()).select_from(OfficeLanes)) == 3
        routes = session.scalars(select(AuditRecordRow.route)).all()
    assert sum(ROUTE in route for route in routes) == 3
    # the newest is in force and shown
    shown = client.get(f"/v1/offices/{OFFICE}/capacity").json()  # an officer reads it
    assert (shown["capacity"], shown["yellow_capacity"]) == (0, 0)
    assert shown["thresholds"] == {"red": None, "yellow": None}


def test_another_office_keeps_the_model_lanes(client: KeyedClient, store: TrainedModel) -> None:
    score(client, todays(store, COUNT))
    elsewhere = todays(store, 3, office=OTHER_OFFICE)
    before = {r["declaration_id"]: r["lane"] for r in score(client, elsewhere)}
    set_capacity(client, capacity=COUNT, yellow_capacity=0)  # every declaration at OFFICE red
    after = {r["declaration_id"]: r["lane"] for r in score(client, elsewhere)}
    assert after == before


def test_the_capacity_splits_the_day_as_asked(client: KeyedClient, store: TrainedModel) -> None:
    declarations = todays(store, COUNT)
    score(client, declarations)
    score(client, declarations)
    setting = set_capacity(client, capacity=4, yellow_capacity=6)
    assert setting["fit"]["red_share"] == pytest.approx(4 / COUNT)
    assert setting["fit"]["yellow_share"] == pytest.approx(6 / COUNT)
    lanes = pd.Series([r["lane"] for r in score(client, declarations)]).value_counts()
    assert (lanes.get("red", 0), lanes.get("yellow", 0)) == (4, 6)


def test_too_few_recent_scores_are_a_conflict_and_nothing_is_set(
    client: KeyedClient, store: TrainedModel
) -> None:
    score(client, todays(store, 5))
    answer = client.put(
        f"/v1/offices/{OFFICE}/capacity", json={"capacity": 3}, headers=manager(client)
    )
    assert answer.status_code == 409
    assert answer.json()["detail"] == (
        f"office {OFFICE} has 5 declarations scored by the serving model and lodged in the last "
        "28 days; at least 20 are needed to fit its lane thresholds: score more of its "
        "declarations, or widen window_days"
    )
    assert client.get(f"/v1/offices/{OFFICE}/capacity").status_code == 404


def test_scores_outside_the_window_do_not_count(client: KeyedClient, store: TrainedModel) -> None:
    old = todays(store, COUNT)
    for declaration in old:
        declaration["lodged_at"] = "2024-02-20T08:00:00+00:00"
    score(client, old)
    body = {"capacity": 3, "window_days": 366}
    answer = client.put(f"/v1/offices/{OFFICE}/capacity", json=body, headers=manager(client))
    assert answer.status_code == 409
    assert "has 0 declarations" in answer.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"capacity": -1},
        {"capacity": 10_001},
        {"capacity": "many"},
        {"capacity": 5, "yellow_capacity": -2},
        {"capacity": 5, "window_days": 0},
        {"capacity": 5, "window_days": 367},
        {"capacity": 5, "red": 0.1},
    ],
)
def test_bad_bodies_are_refused_with_their_field(client: KeyedClient, body: dict[str, Any]) -> None:
    answer = client.put(f"/v1/offices/{OFFICE}/capacity", json=body, headers=manager(client))
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"][0] == "body"


def test_officers_read_the_capacity_but_may_not_set_it(
    client: KeyedClient, store: TrainedModel
) -> None:
    score(client, todays(store, COUNT))
    officer = {"X-API-Key": client.keys[Role.OFFICER]}
    refused = client.put(f"/v1/offices/{OFFICE}/capacity", json={"capacity": 3}, headers=officer)
    assert refused.status_code == 403
    assert client.get(f"/v1/offices/{OFFICE}/capacity", headers=officer).status_code == 404
    set_capacity(client, capacity=3)
    shown = client.get(f"/v1/offices/{OFFICE}/capacity", headers=officer)
    assert shown.status_code == 200 and shown.json()["capacity"] == 3


def test_a_key_limited_to_one_office_cannot_set_or_read_another(
    client: KeyedClient, store: TrainedModel
) -> None:
    score(client, todays(store, COUNT, office=OTHER_OFFICE))
    state = client.app.state.service  # type: ignore[attr-defined]
    pepper = state.settings.pepper()
    limited_manager, _ = make_key(state.store, Role.RISK_MANAGER, pepper=pepper, offices=[OFFICE])
    limited_officer, _ = make_key(state.store, Role.OFFICER, pepper=pepper, offices=[OFFICE])
    path = f"/v1/offices/{OTHER_OFFICE}/capacity"
    refused = client.put(path, json={"capacity": 3}, headers={"X-API-Key": limited_manager})
    assert refused.status_code == 403
    assert refused.json() == {"detail": "office outside this key's remit"}
    assert client.get(f"/v1/offices/{OTHER_OFFICE}/capacity").status_code == 404  # nothing set
    set_capacity(client, office=OTHER_OFFICE, capacity=3)  # a manager of every office may
    for key in (limited_manager, limited_officer):
        assert client.get(path, headers={"X-API-Key": key}).status_code == 403


def test_thresholds_fitted_for_another_model_version_are_not_used(
    client: KeyedClient, store: TrainedModel
) -> None:
    declarations = todays(store, COUNT)
    score(client, declarations)
    bundle = {r["declaration_id"]: r["lane"] for r in score(client, declarations)}
    set_capacity(client, capacity=COUNT, yellow_capacity=0)
    state = client.app.state.service  # type: ignore[attr-defined]
    with state.store.transaction() as session:  # as if a new champion were serving now
        for row in session.scalars(select(OfficeLanes)):
            row.model_version = "0"
    assert {r["declaration_id"]: r["lane"] for r in score(client, declarations)} == bundle
    shown = client.get(f"/v1/offices/{OFFICE}/capacity").json()
    assert shown["in_force"] is False


# -- the fit and the relaning alone ----------------------------------------------------------


def lanes_of(overall: list[float], *, profile_red: int = 0, days: int = 2) -> list[ScoredLane]:
    rows = [
        ScoredLane(value, "green", date(2026, 1, 1 + i % days), False)
        for i, value in enumerate(overall)
    ]
    rows += [ScoredLane(0.5, "red", date(2026, 1, 1 + i % days), True) for i in range(profile_red)]
    return rows


def test_profiles_and_exploration_take_their_part_of_the_capacity_first() -> None:
    # 2 days: 90 declarations the model lanes, 10 profiles sent red (5 a day)
    overall = [i / 100 for i in range(90)]
    rows = lanes_of(overall, profile_red=10)
    fitted = fit_office_lanes(rows, capacity=10, yellow_capacity=9, exploration_share=0.1)
    # a day: 10 inspections - 5 profile reds - 1 random = 4 model reds among 45 declarations
    assert fitted.figures["red_share"] == pytest.approx(4 / 45)
    assert fitted.figures["yellow_share"] == pytest.approx(9 / 45)
    assert fitted.figures["profile_red_per_day"] == 5.0
    assert fitted.figures["declarations_per_day"] == 50.0
    expected = thresholds_for(overall, 4 / 45, 9 / 45)
    assert (fitted.red, fitted.yellow) == (expected["red"], expected["yellow"])
    assert fitted.red == pytest.approx(0.82)  # the top 8 of the 90 go red


def test_profiles_beyond_the_capacity_leave_the_model_no_red() -> None:
    rows = lanes_of([0.1, 0.2, 0.3, 0.4], profile_red=8)
    fitted = fit_office_lanes(rows, capacity=3, yellow_capacity=0, exploration_share=0.0)
    assert fitted.figures["red_share"] == 0.0
    assert math.isinf(fitted.red) and math.isinf(fitted.yellow)


def test_relaning_uses_the_office_thresholds_only_for_their_model() -> None:
    scored = [
        ModelScore("A", {"revenue": 0.3}, 0.3, "green", []),
        ModelScore("B", {"revenue": 0.3}, 0.3, "green", []),
        ModelScore("C", {"revenue": 0.3}, 0.3, "red", []),
    ]
    thresholds = {
        "X": OfficeThresholds(0.2, 0.1, "shiprisk", "4"),
        "Y": OfficeThresholds(0.2, 0.1, "shiprisk", "3"),
        "Z": OfficeThresholds(math.inf, 0.5, "shiprisk", "4"),
    }
    lanes = relaned(scored, ["X", "Y", "Z"], thresholds, ("shiprisk", "4"))
    assert [row.lane for row in lanes] == ["red", "green", "green"]
    assert [row.overall for row in lanes] == [0.3, 0.3, 0.3]


def test_migration_0010_keeps_earlier_picks_and_goes_back(store_url: str) -> None:  # noqa: F811
    engine = create_store_engine(store_url)
    made = datetime(2024, 5, 2, 9, tzinfo=UTC)
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0009")
        run = connection.execute(
            insert(WorklistRun.__table__).values(
                office_id=OFFICE,
                day=date(2024, 5, 2),
                version=1,
                capacity=1,
                exploration_share=0.05,
                pool_size=1,
                pool_digest="d",
                created_at=made,
            )
        ).inserted_primary_key[0]
        connection.execute(
            insert(WorklistSelection.__table__).values(
                run_id=run,
                office_id=OFFICE,
                day=date(2024, 5, 2),
                declaration_id="D1",
                rank=1,
                reason="rule",
                selection_probability=1.0,
                expected_harm=0.5,
                created_at=made,
            )
        )
    engine.dispose()
    store = Store.open(store_url)  # migrates to head
    with store.sessions() as session:
        pick = session.scalars(select(WorklistSelection)).one()
        assert (pick.reason, pick.profile_id, pick.selection_probability) == ("rule", None, 1.0)
        assert session.scalar(select(func.count()).select_from(OfficeLanes)) == 0
    with store.engine.begin() as connection:
        command.downgrade(_alembic_config(connection), "0009")
    tables = inspect(store.engine)
    assert "office_lanes" not in tables.get_table_names()
    assert "profile_id" not in {c["name"] for c in tables.get_columns("worklist_selections")}
    store.close()
