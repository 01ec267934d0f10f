"""Two `shiprisk serve` processes (two hosts, in production) share one PostgreSQL store.

Each process sees the other's writes, the consultation log they append to concurrently stays
one unbroken chain, a worklist drawn on either is the same, and no request fails.
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
