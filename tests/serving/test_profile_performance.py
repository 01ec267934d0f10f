"""GET /v1/profiles/{id}/performance on SQLite and PostgreSQL: a hand-built store of scorings,
worklist picks and outcomes, whose figures are counted by hand below."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from models.estimates import wilson_interval
from serving.access.keys import Role
from serving.app import create_app
from serving.profiles.performance import next_period, period_count, period_starts, window
from serving.settings import ServiceSettings
from serving.store.tables import (
    DeclarationLodging,
    InspectionOutcome,
    ScoredDeclaration,
    WorklistRun,
    WorklistSelection,
)
from tests.serving.access_keys import KeyedClient, make_key
from tests.serving.conftest import TrainedModel
from tests.serving.store_backends import store_url  # noqa: F401

X, Y = "RS-HORGOS", "RS-BATROVCI"


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def profile_reason(profile_id: str, selected: bool) -> dict[str, Any]:
    return {
        "threat": "weapons",
        "feature": f"profile_{profile_id}",
        "value": 1.0 if selected else 0.0,
        "contribution": 0.0,
        "text": f"risk profile {profile_id}",
        "kind": "profile",
        "profile_id": profile_id,
        "title": "t",
        "rationale": "r",
    }


MODEL_REASON = {
    "threat": "weapons",
    "feature": "hs_code",
    "value": 1.0,
    "contribution": 0.4,
    "text": "the goods",
    "kind": "model",
}

# declaration -> (office, lodged, reasons of each scoring)
SCORINGS: dict[str, tuple[str, str, list[list[dict[str, Any]]]]] = {
    # week of 2024-03-04
    "D1": (X, "2024-03-05T09:00", [[profile_reason("P1", True)], [profile_reason("P1", True)]]),
    "D2": (X, "2024-03-06T09:00", [[profile_reason("P1", False), MODEL_REASON]]),
    "D3": (X, "2024-03-07T09:00", [[profile_reason("P10", True), MODEL_REASON]]),  # not P1
    # week of 2024-03-11
    "D4": (X, "2024-03-12T09:00", [[MODEL_REASON], [profile_reason("P1", True)]]),
    "D5": (X, "2024-03-13T09:00", [[MODEL_REASON]]),
    "D6": (X, "2024-03-14T09:00", [[MODEL_REASON]]),
    "D7": (Y, "2024-03-12T09:00", [[profile_reason("P1", True)]]),
    # before the window
    "D8": (X, "2024-02-20T09:00", [[profile_reason("P1", True)]]),
}

# declaration -> outcomes (selection reason, weapons found, result)
OUTCOMES: dict[str, list[tuple[str | None, bool, str]]] = {
    "D1": [("model", True, "irregular")],
    "D2": [("random", False, "irregular")],  # revenue, not weapons
    "D3": [("model", False, "clear")],
    # its reason comes from the worklist pick it followed (random); the second inspection hits
    "D4": [(None, False, "clear"), (None, True, "irregular")],
    "D5": [("random", False, "clear")],
    "D6": [("model", True, "irregular")],
    "D8": [("model", True, "irregular")],
}


def fill(client: KeyedClient) -> None:
    store = client.app.state.service.store  # type: ignore[attr-defined]
    with store.transaction() as session:
        for declaration_id, (office, lodged, scorings) in SCORINGS.items():
            at = moment(lodged)
            session.add(
                DeclarationLodging(
                    declaration_id=declaration_id,
                    office_id=office,
                    lodged_at=at,
                    declarant_id="DEC",
                    importer_id="IMP",
                    recorded_at=at,
                )
            )
            for reasons in scorings:
                session.add(
                    ScoredDeclaration(
                        declaration_id=declaration_id,
                        office_id=office,
                        lodged_at=at,
                        lodged_day=at.date(),
                        declaration={"declaration_id": declaration_id},
                        risk={"weapons": 0.1},
                        overall=0.1,
                        lane="red",
                        reasons=reasons,
                        model_name="shiprisk",
                        model_version="1",
                        scored_at=at,
                    )
                )
        run = WorklistRun(
            office_id=X,
            day=date(2024, 3, 12),
            version=1,
            capacity=5,
            exploration_share=0.2,
            pool_size=10,
            pool_digest="0" * 64,
            created_at=moment("2024-03-12T10:00"),
        )
        session.add(run)
        session.flush()
        session.add(
            WorklistSelection(
                run_id=run.id,
                office_id=X,
                day=date(2024, 3, 12),
                declaration_id="D4",
                rank=1,
                reason="random",
                selection_probability=0.1,
                expected_harm=0.0,
                created_at=moment("2024-03-12T10:00"),
            )
        )
        for declaration_id, outcomes in OUTCOMES.items():
            lodged = moment(SCORINGS[declaration_id][1])
            for hour, (reason, weapons, result) in enumerate(outcomes, start=11):
                session.add(
                    InspectionOutcome(
                        declaration_id=declaration_id,
                        inspected_at=lodged.replace(hour=hour),
                        inspection_type="physical",
                        selection_reason=reason,
                        selection_probability=None if reason is None else 0.5,
                        result=result,
                        weapons_found=weapons,
                        migrants_found=None,
                        revenue_irregularity=result == "irregular" and not weapons,
                        additional_duty_eur=None,
                        concealment=None,
                        notes=None,
                        recorded_at=lodged.replace(hour=20),
                        draw_id=run.id if declaration_id == "D4" else None,
                    )
                )


def profile(profile_id: str, threat: str, offices: list[str] | None = None) -> dict[str, Any]:
    return {
        "id": profile_id,
        "title": f"profile {profile_id}",
        "threat": threat,
        "criteria": {"op": "hs_prefix", "prefixes": ["9305"]},
        "action": {"lane": "red"},
        "rationale": "hand-built",
        "owner": "risk unit",
        "offices": offices or [],
        "valid_from": "2024-01-01T00:00:00Z",
    }


@pytest.fixture
def client(store: TrainedModel, store_url: str) -> Iterator[KeyedClient]:  # noqa: F811
    settings = ServiceSettings(model_uri=store.model_uri, num_threads=1, database_url=store_url)
    with KeyedClient(create_app(settings)) as test_client:
        manager = {"Authorization": f"Bearer {test_client.keys[Role.RISK_MANAGER]}"}
        for body in (profile("P1", "weapons"), profile("P2", "tobacco", [X])):
            made = test_client.post("/v1/profiles", json=body, headers=manager)
            assert made.status_code == 201, made.text
        fill(test_client)
        yield test_client


def rate(n: int, hits: int) -> dict[str, Any]:
    interval = wilson_interval(hits, n)
    return {
        "n": n,
        "hits": hits,
        "rate": hits / n if n else None,
        "interval": None if interval is None else pytest.approx(list(interval)),
    }


def figures(
    start: str,
    end: str,
    matches: tuple[int, int],
    own: tuple[int, int],
    model: tuple[int, int],
    random: tuple[int, int],
) -> dict[str, Any]:
    mine = rate(*own)
    return {
        "start": start,
        "end": end,
        "matches": matches[0],
        "selected": matches[1],
        "inspections": mine["n"],
        "hits": mine["hits"],
        "waivers": 0,
        "hit_rate": mine["rate"],
        "interval": mine["interval"],
        "model": rate(*model),
        "random": rate(*random),
    }


WINDOW = {"since": "2024-03-04", "until": "2024-03-17"}


def test_a_profiles_figures_per_week_beside_model_and_random_picks(client: KeyedClient) -> None:
    answer = client.get("/v1/profiles/P1/performance", params=WINDOW)
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert (found["profile_id"], found["threat"], found["period"]) == ("P1", "weapons", "week")
    assert (found["since"], found["until"], found["offices"]) == (*WINDOW.values(), None)
    # week 1: D1 (selected; scored twice, counted once) and D2 (matched, not drawn) match; D3
    # carries P10's reason, not P1's. D1 hits, D2 (revenue) does not. Model picks D1 (hit) and
    # D3; random pick D2.
    # week 2: D4 and D7 match; D4 is inspected twice and found on the second (a hit), its
    # reason from the random worklist pick it followed; D7 was not inspected. Model pick D6
    # (hit); random picks D4 (hit) and D5.
    assert found["periods"] == [
        figures("2024-03-04", "2024-03-10", (2, 1), (2, 1), (2, 1), (1, 0)),
        figures("2024-03-11", "2024-03-17", (2, 2), (1, 1), (1, 1), (2, 1)),
    ]
    assert found["total"] == figures("2024-03-04", "2024-03-17", (4, 3), (3, 2), (3, 2), (3, 1))


def test_months_a_window_cut_by_since_and_another_threat(client: KeyedClient) -> None:
    months = client.get(
        "/v1/profiles/P1/performance",
        params={"period": "month", "since": "2024-02-15", "until": "2024-03-31"},
    ).json()
    # February from the 15th: D8 matched, inspected by a model pick, a hit.
    assert [p["start"] for p in months["periods"]] == ["2024-02-15", "2024-03-01"]
    assert months["periods"][0] == figures(
        "2024-02-15", "2024-02-29", (1, 1), (1, 1), (1, 1), (0, 0)
    )
    assert months["total"]["matches"] == 5 and months["total"]["hits"] == 3

    # P2 (threat tobacco, limited to office X) matched nothing; an irregular result is a hit
    # of its threat, so the model's picks at X hit D1 and D6, random picks D2 and D4.
    other = client.get("/v1/profiles/P2/performance", params=WINDOW).json()
    assert other["offices"] == [X]
    assert other["total"] == figures("2024-03-04", "2024-03-17", (0, 0), (0, 0), (3, 2), (3, 2))


def test_an_officer_sees_only_what_was_lodged_in_her_remit(client: KeyedClient) -> None:
    store = client.app.state.service.store  # type: ignore[attr-defined]
    pepper = client.app.state.service.settings.pepper()  # type: ignore[attr-defined]
    key, _ = make_key(store, Role.OFFICER, pepper=pepper, offices=[Y])
    answer = client.get(
        "/v1/profiles/P1/performance", params=WINDOW, headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["offices"] == [Y]
    # Only D7 (office Y) is in her remit: a match, never inspected; no picks at Y.
    assert found["total"] == figures("2024-03-04", "2024-03-17", (1, 1), (0, 0), (0, 0), (0, 0))


def test_unknown_profiles_and_bad_windows_are_refused(client: KeyedClient) -> None:
    assert client.get("/v1/profiles/NOPE/performance").status_code == 404
    bad_period = client.get("/v1/profiles/P1/performance", params={"period": "day"})
    assert bad_period.status_code == 422
    assert bad_period.json()["detail"][0]["loc"] == ["query", "period"]
    backwards = client.get(
        "/v1/profiles/P1/performance", params={"since": "2024-03-10", "until": "2024-03-01"}
    )
    assert backwards.status_code == 422
    assert backwards.json()["detail"][0]["loc"] == ["query", "since"]
    too_long = client.get(
        "/v1/profiles/P1/performance", params={"since": "1990-01-01", "until": "2024-03-01"}
    )
    assert too_long.status_code == 422
    for far in ({"until": "9999-12-31"}, {"since": "0001-01-01"}, {"until": "0001-01-03"}):
        answer = client.get("/v1/profiles/P1/performance", params=far)
        assert answer.status_code == 422, (far, answer.text)


def test_default_windows_and_periods() -> None:
    assert window("week", None, date(2024, 3, 13)) == (date(2023, 12, 18), date(2024, 3, 13))
    assert window("month", None, date(2024, 3, 13)) == (date(2023, 3, 1), date(2024, 3, 13))
    assert len(period_starts(date(2023, 12, 18), date(2024, 3, 13), "week")) == 13
    assert next_period(date(2024, 12, 1), "month") == date(2025, 1, 1)
    assert period_count(date(2023, 12, 31), date(2024, 1, 1), "month") == 2
    assert period_count(date(2024, 1, 7), date(2024, 1, 8), "week") == 2  # Sunday, Monday
    assert period_starts(date(2024, 1, 31), date(2024, 3, 1), "month") == [
        date(2024, 1, 1),
        date(2024, 2, 1),
        date(2024, 3, 1),
    ]
