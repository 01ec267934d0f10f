"""Two `shiprisk serve` processes on one PostgreSQL store see the same live state.

A watchlist entry added through one process changes the very next score on the other, and a
positive outcome recorded on the other changes the entity history the first one scores with.
Each process scores the declaration first, so anything it kept in memory from the store would
show up as a stale second score: the live inputs are read from the store for every batch
(serving.scoring.live.read_batch), no process holds them between requests.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from serving.access.keys import Role
from serving.base import JUSTIFICATION_HEADER
from tests.serving.access_keys import key_in_store
from tests.serving.conftest import TrainedModel, json_payload
from tests.serving.serve_process import environment, serving
from tests.serving.store_backends import POSTGRES_URL_VARIABLE, store_url_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(
        not os.environ.get(POSTGRES_URL_VARIABLE),
        reason=f"{POSTGRES_URL_VARIABLE} is not set (scripts/postgres.sh prints one)",
    ),
]


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
