"""Performance in production: model picks against random picks, per threat and week.

By hand on small tables (rates, the Wilson interval, the Horvitz-Thompson estimate with the
draw's probability, the alert states), then through the service: outcomes recorded with
POST /v1/outcomes show up in GET /v1/model, /metrics, the model page and `shiprisk monitor`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from models.estimates import wilson_interval
from serving.access.keys import Role
from serving.app import create_app
from serving.model.performance import (
    ALERT,
    INSUFFICIENT,
    OK,
    PerformanceSettings,
    performance_summary,
    week_of,
)
from serving.settings import ServiceSettings
from tests.serving.access_keys import KeyedClient as TestClient
from tests.serving.conftest import TrainedModel, json_payload

MONDAY = date(2024, 2, 19)
LOOSE = PerformanceSettings(weeks=8, min_random_picks=5, min_model_picks=5, hit_rate_drop=0.5)


def outcomes(
    day: date, reason: str, probability: float, hits: int, n: int, *, office: str = "A"
) -> list[dict[str, Any]]:
    """``n`` inspected declarations of one selection, the first ``hits`` of them irregular."""
    return [
        {
            "declaration_id": f"{day}-{reason}-{office}-{i}",
            "office_id": office,
            "day": day,
            "selection_reason": reason,
            "selection_probability": probability,
            "weapons_found": False,
            "migrants_found": 0.0,
            "revenue_irregularity": i < hits,
        }
        for i in range(n)
    ]


def frame(*parts: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame.from_records([row for part in parts for row in part])


def test_the_figures_of_one_week_by_hand() -> None:
    # 100 declarations at one office-day: 10 model picks (p = 1) with 6 hits, 5 random picks
    # (p = 0.1) with 1 hit. Horvitz-Thompson: (6 / 1 + 1 / 0.1) / 100 = 0.16.
    table = frame(outcomes(MONDAY, "model", 1.0, 6, 10), outcomes(MONDAY, "random", 0.1, 1, 5))
    summary = performance_summary(table, {("A", MONDAY): 100}, settings=LOOSE)
    revenue = summary["threats"]["revenue"]
    (week,) = revenue["weeks"]
    assert week["week"] == "2024-02-19"
    assert week["model"] == {"n": 10, "hits": 6, "rate": 0.6}
    assert week["random"]["rate"] == pytest.approx(0.2)
    assert week["random"]["interval"] == pytest.approx(list(wilson_interval(1, 5) or ()))
    assert week["estimated_rate"] == pytest.approx(0.16)
    assert week["declarations"] == 100
    assert summary["threats"]["weapons"]["window"]["model"]["rate"] == 0.0
    assert summary["window"] == {"start": "2024-02-19", "end": "2024-02-25", "weeks": 1}


def test_the_wilson_interval_by_hand() -> None:
    # 0 hits in 40: the interval still reaches z^2 / (n + z^2) = 8.8%.
    low, high = wilson_interval(0, 40) or (math.nan, math.nan)
    assert (low, high) == (0.0, pytest.approx(1.959964**2 / (40 + 1.959964**2)))
    low, high = wilson_interval(10, 20) or (math.nan, math.nan)
    assert (low + high) / 2 == pytest.approx(0.5)
    # z sqrt(p q / n + z^2 / 4n^2) / (1 + z^2 / n) = 1.96 x 0.12207 / 1.19207
    assert high - 0.5 == pytest.approx(0.20070, abs=1e-5)
    assert wilson_interval(0, 0) is None


def test_model_picks_that_do_not_beat_random_beyond_its_interval_raise_an_alert() -> None:
    # Random 4 of 40 (interval up to 23.1%); model 8 of 40 = 20%: inside it -> alert.
    weak = frame(outcomes(MONDAY, "model", 1.0, 8, 40), outcomes(MONDAY, "random", 0.2, 4, 40))
    summary = performance_summary(weak, {("A", MONDAY): 400}, settings=LOOSE)
    revenue = summary["threats"]["revenue"]
    assert revenue["state"] == ALERT
    assert revenue["alerts"] == [
        "revenue: model picks hit 20.0% of 40, not above random picks (10.0% of 40, 95% "
        "interval up to 23.1%)"
    ]
    assert summary["alerts"] == revenue["alerts"]
    # No weapons hit on either side: nothing to judge yet, not an alert.
    assert summary["threats"]["weapons"]["state"] == INSUFFICIENT
    # Model 20 of 40 = 50%: beyond the interval -> ok.
    strong = frame(outcomes(MONDAY, "model", 1.0, 20, 40), outcomes(MONDAY, "random", 0.2, 4, 40))
    assert performance_summary(strong, {}, settings=LOOSE)["threats"]["revenue"]["state"] == OK
    # Too few random picks to judge.
    few = frame(outcomes(MONDAY, "model", 1.0, 20, 40), outcomes(MONDAY, "random", 0.2, 1, 3))
    assert performance_summary(few, {}, settings=LOOSE)["threats"]["revenue"]["state"] == (
        INSUFFICIENT
    )


def test_a_hit_rate_that_falls_by_more_than_the_configured_share_raises_an_alert() -> None:
    later = date(2024, 2, 28)  # a Wednesday of the next week
    table = frame(
        outcomes(MONDAY, "model", 1.0, 20, 40),  # 50%
        outcomes(later, "model", 1.0, 8, 40),  # 20%: down by 60%
    )
    summary = performance_summary(table, {}, settings=LOOSE)
    revenue = summary["threats"]["revenue"]
    assert [w["week"] for w in revenue["weeks"]] == ["2024-02-19", "2024-02-26"]
    assert revenue["state"] == ALERT
    assert revenue["alerts"] == [
        "revenue: model-pick hit rate fell from 50.0% to 20.0% in the week of 2024-02-26 "
        "(more than 50%)"
    ]
    tolerant = PerformanceSettings(min_random_picks=5, min_model_picks=5, hit_rate_drop=0.7)
    assert performance_summary(table, {}, settings=tolerant)["threats"]["revenue"]["alerts"] == []


def test_only_the_last_weeks_are_read() -> None:
    weeks = [date(2024, 1, 1 + 7 * i) for i in range(4)]
    table = frame(*(outcomes(day, "model", 1.0, 1, 2) for day in weeks))
    settings = PerformanceSettings(weeks=2)
    summary = performance_summary(table, {}, settings=settings)
    assert [w["week"] for w in summary["threats"]["revenue"]["weeks"]] == [
        week_of(day).isoformat() for day in weeks[-2:]
    ]
    assert summary["inspections"] == 4


# -- through the service -----------------------------------------------------------------------

OFFICE = "RS-HORGOS"
DAYS = ("2024-02-20", "2024-02-27")  # two lodging weeks
CAPACITY = 20


@pytest.fixture
def client(store: TrainedModel, tmp_path: Path) -> Iterator[TestClient]:
    settings = ServiceSettings(
        model_uri=store.model_uri,
        num_threads=1,
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        exploration_share=0.3,
        monitor_min_random_picks=5,
        monitor_min_model_picks=5,
        monitor_refresh_seconds=0,
    )
    with TestClient(create_app(settings), base_url="https://testserver") as test_client:
        yield test_client


def test_recorded_outcomes_show_in_the_model_route_metrics_and_page(
    client: TestClient, store: TrainedModel
) -> None:
    declarations = pd.read_parquet(store.declarations_path)
    expected_hits, estimate = {"model": [0, 0], "random": [0, 0]}, 0.0
    records = []
    for number, day in enumerate(DAYS):
        moved = declarations.iloc[number * 50 : number * 50 + 50].copy().reset_index(drop=True)
        moved["declaration_id"] = [f"P{number}-{i:03d}" for i in range(50)]
        moved["office_id"] = OFFICE
        moved["lodged_at"] = [f"{day}T{6 + i % 12:02d}:{i % 60:02d}:00Z" for i in range(50)]
        scored = client.post("/v1/scores", json={"declarations": json_payload(moved), "top_k": 0})
        assert scored.status_code == 200
        assert scored.json()["risk_basis"] in ("all_declarations", "inspected_only")
        worklist = client.get(
            "/v1/worklist", params={"office_id": OFFICE, "date": day, "capacity": CAPACITY}
        ).json()
        for rank, pick in enumerate(worklist["picks"]):
            found = rank % 2 == 0  # every other pick irregular
            records.append(
                {
                    "declaration_id": pick["declaration_id"],
                    "inspected_at": f"{day}T20:00:00Z",
                    "result": "irregular" if found else "clear",
                    "revenue_irregularity": found,
                    "draw_version": worklist["version"],
                }
            )
            expected_hits[pick["reason"]][0] += 1
            expected_hits[pick["reason"]][1] += found
            estimate += found / pick["selection_probability"]
    written = client.post("/v1/outcomes", json={"outcomes": records})
    assert written.status_code == 200
    client.app.state.service.performance.flush()  # type: ignore[attr-defined]

    info = client.get("/v1/model").json()
    revenue = info["performance"]["threats"]["revenue"]
    model_n, model_hits = expected_hits["model"]
    assert revenue["window"]["model"] == {
        "n": model_n,
        "hits": model_hits,
        "rate": pytest.approx(model_hits / model_n),
    }
    assert revenue["window"]["random"]["n"] == expected_hits["random"][0] == 12
    assert revenue["window"]["estimated_rate"] == pytest.approx(estimate / 100)
    assert [w["week"] for w in revenue["weeks"]] == ["2024-02-19", "2024-02-26"]
    assert revenue["state"] in (OK, ALERT)
    assert info["risk_basis"] in ("all_declarations", "inspected_only")

    exposition = client.get("/metrics").text
    rate = re.search(
        r'shiprisk_hit_rate\{period="window",selection="model",threat="revenue"\} (\S+)',
        exposition,
    )
    assert rate is not None and float(rate.group(1)) == pytest.approx(model_hits / model_n)
    assert f'shiprisk_performance_state{{state="{revenue["state"]}",threat="revenue"}} 1.0' in (
        exposition
    )

    signed_in = client.post(
        "/web/sign-in",
        data={"api_key": client.keys[Role.RISK_MANAGER]},
        follow_redirects=False,
    )
    assert signed_in.status_code == 200 and "Signed in" in signed_in.text
    page = client.get("/web/model")
    assert page.status_code == 200
    assert page.text.count('class="chart hit-rates"') == len(info["performance"]["threats"])
    assert "Inspections in production" in page.text and "Risk basis" in page.text


def test_officers_additions_stay_out_of_the_horvitz_thompson_estimate() -> None:
    # The week of the hand-computed test (HT 0.16), plus 4 officer additions with 3 hits: no
    # declaration had a known chance of being added, so even with a stated probability they
    # leave the estimate and its population as they were, and are counted on their own.
    design = [*outcomes(MONDAY, "model", 1.0, 6, 10), *outcomes(MONDAY, "random", 0.1, 1, 5)]
    added = outcomes(MONDAY, "officer", 1.0, 3, 4, office="B")
    summary = performance_summary(
        frame(design, added), {("A", MONDAY): 100, ("B", MONDAY): 50}, settings=LOOSE
    )
    (week,) = summary["threats"]["revenue"]["weeks"]
    assert week["estimated_rate"] == pytest.approx(0.16)
    assert week["declarations"] == 100  # office B's day is no population of the design
    assert week["officer"] == {"n": 4, "hits": 3, "rate": 0.75}
    assert week["model"] == {"n": 10, "hits": 6, "rate": 0.6}
    unknown = [{**row, "selection_probability": math.nan} for row in added]
    again = performance_summary(
        frame(design, unknown), {("A", MONDAY): 100, ("B", MONDAY): 50}, settings=LOOSE
    )
    assert again["threats"]["revenue"]["weeks"][0]["estimated_rate"] == pytest.approx(0.16)
