"""Worklists with the risk profiles' mandatory picks, through the real app on SQLite and
PostgreSQL (issue 13, item 6): profile picks first with probability 1 or the profile's share,
all listed beyond capacity, model and random picks over what is left with exact
probabilities, outcomes carrying the draw's reason and probability, and a profile expired
after the lane was given keeps its pick."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

from serving.access.keys import Role
from serving.app import create_app
from serving.inspections.worklist import DEFAULT_SEVERITY, inclusion_probabilities
from serving.settings import ServiceSettings
from tests.serving.access_keys import KeyedClient, page_session
from tests.serving.conftest import TrainedModel, json_payload
from tests.serving.store_backends import store_url  # noqa: F401

OFFICE = "RS-HORGOS"
DAY = "2024-02-20"
PROFILED = "IMP-PROFILED"


@pytest.fixture
def client(store: TrainedModel, store_url: str) -> Iterator[KeyedClient]:  # noqa: F811
    settings = ServiceSettings(
        model_uri=store.model_uri, num_threads=1, database_url=store_url, lane_min_scores=5
    )
    with KeyedClient(create_app(settings)) as test_client:
        yield test_client


def office_day(model: TrainedModel, n: int, profiled: tuple[int, ...] = ()) -> pd.DataFrame:
    """``n`` declarations at one office and day; those at ``profiled`` from one importer."""
    frame = pd.read_parquet(model.declarations_path).head(n).copy().reset_index(drop=True)
    frame["declaration_id"] = [f"W{i:03d}" for i in range(n)]
    frame["office_id"] = OFFICE
    frame["lodged_at"] = [f"{DAY}T{6 + i % 12:02d}:{i % 60:02d}:00Z" for i in range(n)]
    for row in profiled:
        frame.loc[row, "importer_id"] = PROFILED
    return frame


def profile(profile_id: str, criteria: dict[str, Any], action: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": profile_id,
        "title": f"profile {profile_id}",
        "threat": "weapons",
        "criteria": criteria,
        "action": action,
        "rationale": "partner alert",
        "owner": "risk unit",
        "valid_from": "2024-01-01T00:00:00Z",
    }


RED = profile(
    "RED-IMPORTER",
    {"op": "equals", "field": "importer_id", "value": PROFILED.lower()},
    {"lane": "red"},
)
SHARE = profile(
    "HALF-OFFICE", {"op": "office", "offices": [OFFICE]}, {"lane": "yellow", "percent": 50}
)


def write_profiles(client: KeyedClient, *documents: dict[str, Any]) -> None:
    headers = {"X-API-Key": client.keys[Role.RISK_MANAGER]}
    for document in documents:
        answer = client.post("/v1/profiles", json=document, headers=headers)
        assert answer.status_code == 201, answer.text


def score(client: KeyedClient, frame: pd.DataFrame) -> list[dict[str, Any]]:
    answer = client.post("/v1/scores", json={"declarations": json_payload(frame), "top_k": 0})
    assert answer.status_code == 200, answer.text
    results: list[dict[str, Any]] = answer.json()["results"]
    return results


def worklist(client: KeyedClient, capacity: int | None) -> dict[str, Any]:
    query: dict[str, Any] = {"office_id": OFFICE, "date": DAY}
    if capacity is not None:
        query["capacity"] = capacity
    answer = client.get("/v1/worklist", params=query)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def drawn_by(result: dict[str, Any], profile_id: str) -> bool:
    return any(
        r["kind"] == "profile" and r["profile_id"] == profile_id and r["value"] == 1.0
        for r in result["reasons"]
    )


def test_profile_picks_come_first_and_the_model_and_exploration_share_the_rest(
    client: KeyedClient, store: TrainedModel
) -> None:
    write_profiles(client, RED, SHARE)
    scored = score(client, office_day(store, 40, profiled=(3,)))
    share_ids = {r["declaration_id"] for r in scored if drawn_by(r, "HALF-OFFICE")} - {"W003"}
    assert 5 <= len(share_ids) <= 35  # half of 39, drawn by hash: both kinds are present
    capacity = len(share_ids) + 4
    drawn = worklist(client, capacity)
    picks = drawn["picks"]
    mandatory = 1 + len(share_ids)
    assert (drawn["mandatory"], drawn["capacity_exceeded"]) == (mandatory, False)
    assert len(picks) == capacity
    assert (picks[0]["declaration_id"], picks[0]["reason"], picks[0]["profile_id"]) == (
        "W003",
        "profile:RED-IMPORTER",
        "RED-IMPORTER",
    )
    assert picks[0]["selection_probability"] == 1.0
    shares = picks[1:mandatory]
    assert {p["declaration_id"] for p in shares} == share_ids
    assert {(p["reason"], p["selection_probability"]) for p in shares} == {
        ("profile:HALF-OFFICE", 0.5)
    }
    # the model and exploration fill the 3 slots left, over the 40 - mandatory others; their
    # probabilities are the exact inclusion probabilities over that pool
    harm = {
        r["declaration_id"]: sum(DEFAULT_SEVERITY.get(t, 1.0) * v for t, v in r["risk"].items())
        for r in scored
    }
    pool = sorted(
        (d for d in harm if d not in share_ids and d != "W003"), key=lambda d: (-harm[d], d)
    )
    expected = dict(zip(pool, inclusion_probabilities(len(pool), 3, 0.05), strict=True))
    rest = picks[mandatory:]
    assert {p["reason"] for p in rest} <= {"model", "random"}
    for pick in rest:
        assert pick["profile_id"] is None
        assert pick["selection_probability"] == pytest.approx(expected[pick["declaration_id"]])

    # outcomes carry the draw's reason (a profile's pick is a rule) and probability
    share_pick = shares[0]["declaration_id"]
    outcomes = [
        {"declaration_id": "W003", "inspected_at": f"{DAY}T18:00:00Z", "result": "irregular"},
        {
            "declaration_id": share_pick,
            "inspected_at": f"{DAY}T18:00:00Z",
            "result": "clear",
            "selection_reason": "rule",
            "draw_version": drawn["version"],
        },
    ]
    answer = client.post("/v1/outcomes", json={"outcomes": outcomes})
    assert answer.status_code == 200, answer.text
    for declaration_id, probability, profile_id in (
        ("W003", 1.0, "RED-IMPORTER"),
        (share_pick, 0.5, "HALF-OFFICE"),
    ):
        kept = client.get(f"/v1/declarations/{declaration_id}").json()["outcomes"][0]
        assert (kept["selection_reason"], kept["selection_probability"]) == ("rule", probability)
        assert (kept["draw_version"], kept["profile_id"]) == (drawn["version"], profile_id)


def test_a_profile_expired_after_the_lane_was_given_keeps_its_pick(
    client: KeyedClient, store: TrainedModel
) -> None:
    write_profiles(client, RED)
    day = office_day(store, 12, profiled=(5,))
    assert score(client, day.head(11))[5]["lane"] == "red"
    first = worklist(client, 3)
    assert first["picks"][0]["reason"] == "profile:RED-IMPORTER"
    headers = {"X-API-Key": client.keys[Role.RISK_MANAGER]}
    assert client.post("/v1/profiles/RED-IMPORTER/expire", headers=headers).status_code == 200
    assert worklist(client, 3) == first  # nothing new scored: the recorded draw
    score(client, day.tail(1))  # a new declaration: a new draw, the lane W005 was given stands
    again = worklist(client, 3)
    assert again["version"] == 2
    assert (again["picks"][0]["declaration_id"], again["picks"][0]["reason"]) == (
        "W005",
        "profile:RED-IMPORTER",
    )
    # re-scored now, W005 matches no profile in force: the next draw follows that score
    score(client, day.iloc[[5]])
    latest = worklist(client, 3)
    assert latest["version"] == 3
    assert [p["reason"] for p in latest["picks"]] != [] and all(
        not p["reason"].startswith("profile:") for p in latest["picks"]
    )


def test_mandatory_picks_beyond_capacity_are_all_listed_and_said(
    client: KeyedClient, store: TrainedModel
) -> None:
    write_profiles(client, RED)
    score(client, office_day(store, 20, profiled=(2, 9, 14)))
    drawn = worklist(client, 2)
    assert (drawn["mandatory"], drawn["capacity_exceeded"]) == (3, True)
    assert {p["declaration_id"] for p in drawn["picks"]} == {"W002", "W009", "W014"}
    assert {p["reason"] for p in drawn["picks"]} == {"profile:RED-IMPORTER"}
    nothing = worklist(client, 0)
    assert len(nothing["picks"]) == 3 and nothing["capacity_exceeded"] is True
    # The officer's page says so, and names the profile of each pick with a link to it.
    cookie, _ = page_session(client, client.key_records[Role.OFFICER], justification="shift")
    page = client.get(
        "/web/worklist",
        params={"office_id": OFFICE, "date": DAY, "capacity": "2"},
        headers={"Cookie": cookie},
    )
    assert page.status_code == 200, page.text
    assert "mandatory picks (3) exceed the capacity" in page.text
    assert page.text.count('href="/web/profiles/RED-IMPORTER"') == 3
    assert "profile:RED-IMPORTER" not in page.text


def test_without_a_capacity_the_worklist_takes_the_office_capacity(
    client: KeyedClient, store: TrainedModel
) -> None:
    answer = client.get("/v1/worklist", params={"office_id": OFFICE, "date": DAY})
    assert answer.status_code == 409
    assert "none set for this office" in answer.json()["detail"]
    today = office_day(store, 10)
    today["lodged_at"] = pd.Timestamp.now(tz="UTC").floor("D")
    score(client, today)
    headers = {"X-API-Key": client.keys[Role.RISK_MANAGER]}
    set_ = client.put(f"/v1/offices/{OFFICE}/capacity", json={"capacity": 4}, headers=headers)
    assert set_.status_code == 200, set_.text
    today["declaration_id"] = [f"D{i:03d}" for i in range(10)]
    today["lodged_at"] = f"{DAY}T09:00:00Z"
    score(client, today)
    drawn = worklist(client, None)
    assert (drawn["capacity"], len(drawn["picks"])) == (4, 4)
