"""An outcome acknowledged with 2xx survives the server being killed right after (SIGKILL)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from serving.store import outcomes as stored_outcomes
from serving.store.database import Store
from tests.serving.access_keys import key_in_store
from tests.serving.conftest import TrainedModel, json_payload
from tests.serving.store_backends import store_url  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_an_acknowledged_outcome_survives_sigkill(
    store: TrainedModel,
    store_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    port = free_port()
    environment = {
        **os.environ,
        "MLFLOW_TRACKING_URI": store.tracking_uri,
        "SHIPRISK_MODEL_URI": store.model_uri,
        "SHIPRISK_DATABASE_URL": store_url,
        "SHIPRISK_DATA_DIR": str(tmp_path / "data"),
    }
    officer = {"Authorization": f"Bearer {key_in_store(store_url)}"}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "shiprisk.cli",
            "serve",
            "--port",
            str(port),
            "--threads",
            "1",
            "--no-access-log",
        ],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, "the server exited before it was ready"
            assert time.monotonic() < deadline, "the server was not ready within 120 s"
            time.sleep(0.3)
        declaration = pd.read_parquet(store.declarations_path).head(1)
        scored = httpx.post(
            f"{base}/v1/scores",
            json={"declarations": json_payload(declaration), "top_k": 0},
            headers=officer,
            timeout=30,
        )
        assert scored.status_code == 200
        declaration_id = str(declaration.iloc[0]["declaration_id"])
        acknowledged = httpx.post(
            f"{base}/v1/outcomes",
            json={
                "outcomes": [
                    {
                        "declaration_id": declaration_id,
                        "inspected_at": "2024-02-20T10:00:00Z",
                        "result": "irregular",
                        "revenue_irregularity": True,
                        "additional_duty_eur": 812.5,
                    }
                ]
            },
            headers=officer,
            timeout=30,
        )
        server.send_signal(signal.SIGKILL)  # no shutdown, no flush: only the commit counts
        assert acknowledged.status_code == 200
    finally:
        if server.poll() is None:
            server.kill()
        server.wait(timeout=30)
    assert server.returncode == -signal.SIGKILL

    reopened = Store.open(store_url)
    with reopened.transaction() as session:
        outcomes = stored_outcomes.outcomes_of(session, declaration_id)
    reopened.close()
    assert [(o.result, o.additional_duty_eur) for o in outcomes] == [("irregular", 812.5)]
