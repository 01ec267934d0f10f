"""Two `shiprisk serve` processes (two hosts, in production) share one PostgreSQL store.

Each process sees the other's writes, the consultation log they append to concurrently stays
one unbroken chain, a worklist drawn on either is the same, and no request fails. The live
state too: a watchlist entry added through one process changes the very next score on the
other, and a positive outcome recorded on the other changes the entity history the first one
scores with. Each process scores the declaration first, so anything it kept in memory from the
store would show up as a stale second score: the live inputs are read from the store for every
batch (serving.scoring.live.read_batch), no process holds them between requests.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pandas as pd
import pytest

from serving.access.keys import Role
from serving.base import JUSTIFICATION_HEADER
from tests.serving.access_keys import key_in_store
from tests.serving.conftest import TrainedModel, json_payload
from tests.serving.operations_data import outcome_record
from tests.serving.serve_process import environment, serving, shiprisk_command
from tests.serving.store_backends import POSTGRES_URL_VARIABLE, store_url_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    # Before the session's model is trained for nothing; store_url_for says the same.
    pytest.mark.skipif(
        not os.environ.get(POSTGRES_URL_VARIABLE),
        reason=f"{POSTGRES_URL_VARIABLE} is not set (scripts/postgres.sh prints one)",
    ),
]

T = TypeVar("T")
ROWS_PER_REQUEST = 3
CLIENTS = 4  # concurrent requests in flight, spread over both processes


def concurrently(calls: list[Callable[[], T]]) -> list[T]:
    """Run ``calls`` CLIENTS at a time; results in order."""
    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(lambda call: call(), calls))


def test_two_serve_processes_share_one_postgresql_store(
    store: TrainedModel, tmp_path: Path
) -> None:
    url = store_url_for("postgres", tmp_path)
    headers = {
        "Authorization": f"Bearer {key_in_store(url)}",
        JUSTIFICATION_HEADER: "test: two hosts, one store",
    }
    declarations = pd.read_parquet(store.declarations_path)
    payload = json_payload(declarations)
    batches = [
        payload[start : start + ROWS_PER_REQUEST]
        for start in range(0, len(payload), ROWS_PER_REQUEST)
    ]
    env = environment(SHIPRISK_DATABASE_URL=url, MLFLOW_TRACKING_URI=store.tracking_uri)
    arguments = ["--model", store.model_uri, "--threads", "1"]
    with serving(2, env=env, log_dir=tmp_path, arguments=arguments) as servers:
        hosts = [
            httpx.Client(base_url=server.base_url, headers=headers, timeout=60)
            for server in servers
        ]
        statuses: Counter[int] = Counter()

        def on(host: int, method: str, path: str, **kwargs: Any) -> httpx.Response:
            response = hosts[host].request(method, path, **kwargs)
            statuses[response.status_code] += 1
            return response

        # Scores: request i on process i % 2, several in flight at once.
        scored = concurrently(
            [
                lambda i=i, batch=batch: on(
                    i % 2, "POST", "/v1/scores", json={"declarations": batch}
                )
                for i, batch in enumerate(batches)
            ]
        )
        assert [r.status_code for r in scored] == [200] * len(batches)
        scored_on = {
            result["declaration_id"]: (i % 2, result)
            for i, response in enumerate(scored)
            for result in response.json()["results"]
        }
        assert len(scored_on) == len(declarations)

        # Each process sees what the other stored.
        details = concurrently(
            [
                lambda i=i, side=side: on(1 - side, "GET", f"/v1/declarations/{i}")
                for i, (side, _) in scored_on.items()
            ]
        )
        for detail, (_, result) in zip(details, scored_on.values(), strict=True):
            assert detail.status_code == 200
            latest = detail.json()["latest"]
            assert latest["overall"] == pytest.approx(result["overall"], abs=1e-12)
            assert latest["lane"] == result["lane"]

        # Outcomes recorded on the process that did not score the declaration, read on the
        # one that did.
        inspected = list(scored_on)[::4]
        recorded = concurrently(
            [
                lambda i=i: on(
                    1 - scored_on[i][0],
                    "POST",
                    "/v1/outcomes",
                    json={"outcomes": [outcome_record(i, inspected_at="2024-06-03T10:00:00Z")]},
                )
                for i in inspected
            ]
        )
        assert [r.json() for r in recorded] == [{"recorded": 1, "already_recorded": 0}] * len(
            inspected
        )
        for i in inspected:
            outcomes = on(scored_on[i][0], "GET", f"/v1/declarations/{i}").json()["outcomes"]
            assert [o["inspection_type"] for o in outcomes] == ["physical"]

        # The same worklist, drawn on both processes at the same moment.
        lodged = pd.to_datetime(declarations["lodged_at"], utc=True)
        (office, day), size = (
            declarations.assign(day=lodged.dt.date).groupby(["office_id", "day"]).size()
        ).pipe(lambda sizes: (sizes.idxmax(), int(sizes.max())))
        query = {"office_id": office, "date": day.isoformat(), "capacity": max(1, size // 2)}
        worklists = concurrently(
            [lambda host=host: on(host, "GET", "/v1/worklist", params=query) for host in (0, 1)]
        )
        assert [w.status_code for w in worklists] == [200, 200]
        first, second = (w.json() for w in worklists)
        assert first["candidates"] == size
        assert len(first["picks"]) == query["capacity"]
        # The same draw (same candidates, same seed), stored once; each process answers
        # with the moment it drew it.
        first.pop("created_at"), second.pop("created_at")
        assert first == second

        for host in hosts:
            host.close()

    assert set(statuses) == {200}, statuses
    verified = subprocess.run(
        shiprisk_command("audit", "verify"),
        env={**env, "COLUMNS": "400"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    found = re.search(r"consultation log intact: (\d+) records", verified.stdout)
    assert found is not None, verified.stdout
    # Every request above is in the one chain, whichever process answered it.
    assert int(found[1]) == sum(statuses.values())


def fresh(frame: pd.DataFrame, identifier: str, day: int) -> pd.DataFrame:
    """A copy of the first declaration with a new id, lodged on 2024-03-<day> at noon."""
    row = frame.head(1).copy().reset_index(drop=True)
    row["declaration_id"] = identifier
    row["lodged_at"] = pd.Timestamp(f"2024-03-{day:02d}T12:00:00Z")
    return row


def score(host: httpx.Client, frame: pd.DataFrame) -> dict[str, Any]:
    response = host.post("/v1/scores", json={"declarations": json_payload(frame), "top_k": 3})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["results"][0]
    return result


def watchlist_reasons(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (reason["threat"], reason["source_agency"], reason["handling_code"])
        for reason in result["reasons"]
        if reason["kind"] == "watchlist"
    ]


def test_a_write_on_one_process_changes_the_next_score_on_the_other(
    store: TrainedModel, tmp_path: Path
) -> None:
    url = store_url_for("postgres", tmp_path)
    justification = {JUSTIFICATION_HEADER: "test: two hosts, one live state"}
    officer = {"Authorization": f"Bearer {key_in_store(url)}", **justification}
    manager = {"Authorization": f"Bearer {key_in_store(url, Role.RISK_MANAGER)}", **justification}
    declarations = pd.read_parquet(store.declarations_path)
    env = environment(SHIPRISK_DATABASE_URL=url, MLFLOW_TRACKING_URI=store.tracking_uri)
    arguments = ["--model", store.model_uri, "--threads", "1"]
    with serving(2, env=env, log_dir=tmp_path, arguments=arguments) as servers:
        a, b = (
            httpx.Client(base_url=server.base_url, headers=officer, timeout=60)
            for server in servers
        )

        # A watchlist entry added on A: B's very next score of a matching declaration hits it.
        listed = fresh(declarations, "TW-LIST", 10)
        score(b, listed)
        before = score(b, listed)  # re-scored: its own history no longer changes
        assert watchlist_reasons(before) == []
        added = a.post(
            "/v1/watchlist",
            headers=manager,
            json={
                "entries": [
                    {
                        "entity_type": "importer_id",
                        "entity_id": str(listed.loc[0, "importer_id"]),
                        "threat": "revenue",
                        "valid_from": "2024-03-01T00:00:00Z",
                        "source_agency": "PARTNER-W",
                    }
                ]
            },
        )
        assert added.status_code == 201, added.text
        after = score(b, listed)
        assert watchlist_reasons(after) == [("revenue", "PARTNER-W", "H0")]
        assert after["risk"]["revenue"] >= before["risk"]["revenue"]  # a hit never lowers risk

        # A positive outcome recorded on B: A's next score of the importer's later
        # declaration counts it (one more labelled outcome and hit in the importer's history).
        first = fresh(declarations, "TW-FIRST", 5)
        later = fresh(declarations, "TW-LATER", 20)
        first["importer_id"] = later["importer_id"] = "TW-IMPORTER"
        score(a, first)
        score(a, later)
        unchanged = score(a, later)  # sees TW-FIRST and itself: only the outcome changes next
        outcome = b.post(
            "/v1/outcomes",
            json={
                "outcomes": [
                    {
                        "declaration_id": "TW-FIRST",
                        "inspected_at": "2024-03-06T09:00:00Z",
                        "result": "irregular",
                        "weapons_found": True,
                        "revenue_irregularity": True,
                    }
                ]
            },
        )
        assert outcome.json() == {"recorded": 1, "already_recorded": 0}
        counted = score(a, later)
        assert counted["risk"] != unchanged["risk"]
        assert counted["risk"]["revenue"] > unchanged["risk"]["revenue"]
        a.close()
        b.close()
