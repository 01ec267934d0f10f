"""A shared MLflow tracking server: train, register, promote, serve and monitor through it.

The server is the one `make mlflow-server` starts (scripts/mlflow_server.sh): PostgreSQL backend
store, artifacts served by the server. Every step is a real `shiprisk` command in a process of
its own that knows only SHIPRISK_TRACKING_URI=http://127.0.0.1:PORT, as on a team's machines.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import write_config
from tests.serving.access_keys import key_in_store
from tests.serving.conftest import json_payload
from tests.serving.serve_process import environment, serving, shiprisk_command
from tests.serving.store_backends import POSTGRES_URL_VARIABLE

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "mlflow_server.sh"
SPLIT = {
    "train": ["2024-01-01", "2024-01-31"],
    "valid": ["2024-02-01", "2024-02-14"],
    "test": ["2024-02-15", "2024-02-29"],
}
SMALL_MODEL = {"num_threads": 1, "sizes": ["small"], "num_boost_round": 100}


@pytest.fixture(scope="module")
def mlflow_server() -> Iterator[str]:
    """The shared server's URL: the running one, or one started here (and stopped after)."""
    postgres = os.environ.get(POSTGRES_URL_VARIABLE)
    if not postgres:
        pytest.skip(f"{POSTGRES_URL_VARIABLE} is not set (scripts/postgres.sh prints one)")
    # The server's database lives on the same PostgreSQL server as the tests' store.
    port = make_url(postgres).port or 5432
    env = environment(
        MLFLOW_TRACKING_URI=None,
        MLFLOW=str(Path(sys.executable).with_name("mlflow")),
        SHIPRISK_PG_PORT=str(port),
    )
    started = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=300
    )
    assert started.returncode == 0, started.stderr
    url = started.stdout.strip()
    assert url.startswith("http://127.0.0.1:"), started.stdout
    yield url
    if "starting mlflow server" in started.stderr:
        subprocess.run(["bash", str(SCRIPT), "stop"], env=env, check=True, timeout=60)


def shiprisk(*arguments: str, env: dict[str, str]) -> str:
    """Run a `shiprisk` command to success; its output."""
    done = subprocess.run(
        shiprisk_command(*arguments),
        env={**env, "COLUMNS": "400"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_train_register_promote_serve_and_monitor_through_the_server(
    mlflow_server: str, tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    from models.registry import MANIFEST_SHA256_TAG, MONITORING_EXPERIMENT
    from training.synthetic import generate

    name = f"shiprisk-e2e-{uuid.uuid4().hex[:8]}"  # the server outlives this test run
    tables = generate(tmp_path / "data", start="2024-01-01", days=60, rows_per_day=150, seed=3)
    config = write_config(
        tmp_path / "config.yaml", tmp_path / "data", split=SPLIT, model=SMALL_MODEL
    )
    database = f"sqlite:///{tmp_path / 'store' / 'shiprisk.db'}"
    env = environment(
        MLFLOW_TRACKING_URI=None,  # MLflow's own variable would win over ours
        SHIPRISK_TRACKING_URI=mlflow_server,
        SHIPRISK_MODEL_URI=f"models:/{name}@champion",
        SHIPRISK_DATABASE_URL=database,
        SHIPRISK_DATA_DIR=str(tmp_path / "local"),
    )

    metrics_path = tmp_path / "metrics.json"
    shiprisk(
        "train", "-c", str(config), "--model-name", name, "--experiment", name,
        "--metrics-out", str(metrics_path), env=env,
    )  # fmt: skip
    assert json.loads(metrics_path.read_text())["model"]["version"] == "1"
    said = shiprisk("promote", "--version", "1", "--model-name", name, env=env)
    assert f"{name} champion is now version 1" in said

    client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
    champion = client.get_model_version_by_alias(name, "champion")
    assert champion.version == "1"
    assert len(champion.tags[MANIFEST_SHA256_TAG]) == 64
    # The artifacts went to the server, not to a path on this machine.
    run = client.get_run(str(champion.run_id))
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/"), run.info.artifact_uri

    declaration = json_payload(pd.read_parquet(tables["declarations"]).tail(1))
    officer = {"Authorization": f"Bearer {key_in_store(database)}"}
    with serving(1, env=env, log_dir=tmp_path, arguments=["--threads", "1"]) as [server]:
        scored = httpx.post(
            f"{server.base_url}/v1/scores",
            json={"declarations": declaration},
            headers=officer,
            timeout=60,
        )
    assert scored.status_code == 200, scored.text
    assert scored.headers["X-Model-Version"] == f"{name}/1"
    [result] = scored.json()["results"]
    assert result["declaration_id"] == declaration[0]["declaration_id"]
    assert 0 <= result["overall"] <= 1

    report = tmp_path / "drift"
    said = shiprisk("monitor", "--days", "100000", "--out", str(report), env=env)
    assert (report / "drift.json").is_file()
    experiment = client.get_experiment_by_name(MONITORING_EXPERIMENT)
    assert experiment is not None
    monitored = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`shiprisk.monitored_model` = '{name}'",
    )
    assert [r.data.tags["shiprisk.monitored_version"] for r in monitored] == ["1"]
    assert monitored[0].info.run_id in said
