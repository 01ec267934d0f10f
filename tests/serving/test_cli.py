"""`shiprisk score` and `shiprisk serve`: batch results equal the API's, threads never oversubscribe."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from serving import cli as serving_cli
from serving.app import create_app
from serving.settings import ServiceSettings
from tests.serving.access_keys import KeyedClient as TestClient  # one key per role
from tests.serving.access_keys import key_in_store
from tests.serving.conftest import MODEL_NAME, TrainedModel, json_payload

runner = CliRunner()


def shiprisk_app() -> typer.Typer:
    """A local stand-in for the top-level command, with only the serving commands."""
    app = typer.Typer()
    serving_cli.register(app)
    return app


@pytest.mark.parametrize(
    ("workers", "threads", "cores", "expected"),
    [(1, None, 2, 2), (2, None, 2, 1), (4, None, 2, 1), (1, 1, 2, 1), (2, 1, 4, 1)],
)
def test_threads_per_worker_fill_but_never_exceed_the_cores(
    workers: int, threads: int | None, cores: int, expected: int
) -> None:
    assert serving_cli.worker_threads(workers, threads, cores) == expected


def test_explicit_threads_that_oversubscribe_are_refused() -> None:
    with pytest.raises(ValueError) as error:
        serving_cli.worker_threads(2, 2, 2)
    assert str(error.value) == (
        "2 workers x 2 threads = 4 > 2 cores: lower --threads to at most 1 or use fewer workers"
    )


def test_serve_refuses_oversubscription_before_starting() -> None:
    result = runner.invoke(shiprisk_app(), ["serve", "--workers", "2", "--threads", "64"])
    assert result.exit_code == 2
    assert "lower --threads to at most" in result.output


@pytest.fixture
def api_results(store: TrainedModel, tmp_path: Path) -> dict[str, dict]:
    """The API's results for every test declaration, by declaration id: one batch read from
    an empty store, as the batch command reads its own empty store (`batch_store`)."""
    declarations = pd.read_parquet(store.declarations_path)
    settings = ServiceSettings(
        model_uri=store.model_uri, num_threads=1, database_url=f"sqlite:///{tmp_path / 'api.db'}"
    )
    with TestClient(create_app(settings)) as client:
        response = client.post(
            "/v1/scores", json={"declarations": json_payload(declarations), "top_k": 3}
        )
    assert response.status_code == 200
    return {r["declaration_id"]: r for r in response.json()["results"]}


def assert_same_as_api(output: pd.DataFrame, api: dict[str, dict], version: str) -> None:
    assert len(output) == len(api)
    assert set(output["model_version"]) == {version}
    assert set(output["model_name"]) == {MODEL_NAME}
    for row in output.to_dict(orient="records"):
        online = api[row["declaration_id"]]
        for threat, risk in online["risk"].items():
            assert row[f"risk_{threat}"] == pytest.approx(risk, abs=1e-9)
        assert row["overall"] == pytest.approx(online["overall"], abs=1e-9)
        assert row["lane"] == online["lane"]
        offline_reasons = json.loads(row["reasons"])
        # Every field of every reason, as the API answers it; contributions to 1e-9.
        assert [{**r, "contribution": None} for r in offline_reasons] == [
            {**r, "contribution": None} for r in online["reasons"]
        ]
        assert [r["contribution"] for r in offline_reasons] == pytest.approx(
            [r["contribution"] for r in online["reasons"]], abs=1e-9
        )


def test_batch_scoring_of_parquet_in_chunks_equals_the_api(
    store: TrainedModel, api_results: dict[str, dict], tmp_path: Path
) -> None:
    output = tmp_path / "scores.parquet"
    result = runner.invoke(
        shiprisk_app(),
        [
            "score",
            "--input",
            str(store.declarations_path),
            "--output",
            str(output),
            "--model",
            store.model_uri,
            "--top-k",
            "3",
            "--chunk-rows",
            "50",
        ],
        env={"SHIPRISK_DATABASE_URL": f"sqlite:///{tmp_path / 'batch.db'}"},
    )
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # rich wraps long lines
    assert f"wrote {len(api_results)} scored declarations to {output}" in said
    schema = pq.read_schema(output)
    assert schema.names[:3] == ["declaration_id", "model_name", "model_version"]
    assert schema.names[-3:] == ["overall", "lane", "reasons"]
    assert_same_as_api(pd.read_parquet(output), api_results, store.version)
    assert not list(tmp_path.glob(".*.partial"))


def test_batch_scoring_of_csv_equals_the_api(
    store: TrainedModel, api_results: dict[str, dict], tmp_path: Path
) -> None:
    source = tmp_path / "declarations.csv"
    pd.read_parquet(store.declarations_path).to_csv(source, index=False)
    output = tmp_path / "scores.csv"
    result = runner.invoke(
        shiprisk_app(),
        ["score", "-i", str(source), "-o", str(output), "--top-k", "3", "--chunk-rows", "40"],
        env={
            "SHIPRISK_MODEL_URI": store.model_uri,
            "SHIPRISK_DATABASE_URL": f"sqlite:///{tmp_path / 'batch.db'}",
        },
    )
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(output, dtype={"declaration_id": str, "model_version": str})
    assert_same_as_api(scores, api_results, store.version)


def test_a_bad_row_is_reported_with_its_row_number_in_the_file(
    store: TrainedModel, tmp_path: Path
) -> None:
    frame = pd.read_parquet(store.declarations_path).head(6)
    frame.loc[4, "hs_code"] = "12"
    source = tmp_path / "declarations.csv"
    frame.to_csv(source, index=False)
    output = tmp_path / "scores.csv"
    result = runner.invoke(
        shiprisk_app(),
        ["score", "-i", str(source), "-o", str(output), "--model", store.model_uri],
        env={"COLUMNS": "400"},
    )
    assert result.exit_code == 2
    assert f"{source}, column 'hs_code'" in result.output
    assert "first rows 5 with values '12'" in result.output
    assert not output.exists()


def test_chunk_row_numbers_count_from_the_start_of_the_file(
    store: TrainedModel, tmp_path: Path
) -> None:
    frame = pd.read_parquet(store.declarations_path)
    frame = frame[frame["itinerary"].notna()].head(6).reset_index(drop=True)
    frame.loc[4, "hs_code"] = "12"
    source = tmp_path / "declarations.csv"
    frame.to_csv(source, index=False)
    result = runner.invoke(
        shiprisk_app(),
        ["score", "-i", str(source), "-o", str(tmp_path / "s.csv"), "--chunk-rows", "2"],
        env={"SHIPRISK_MODEL_URI": store.model_uri, "COLUMNS": "400"},
    )
    assert result.exit_code == 2
    assert "first rows 5 with values '12'" in result.output


def test_unknown_file_types_are_refused(tmp_path: Path) -> None:
    result = runner.invoke(
        shiprisk_app(), ["score", "-i", str(tmp_path / "d.xlsx"), "-o", str(tmp_path / "s.csv")]
    )
    assert result.exit_code == 2
    assert "unknown file type '.xlsx'; use .csv, .parquet or .pq" in result.output


@pytest.mark.slow
def test_serve_starts_a_real_server_that_scores(store: TrainedModel) -> None:
    """`serve` in its own process: uvicorn factory mode, settings passed through the environment."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "MLFLOW_TRACKING_URI": store.tracking_uri}
    officer = {"Authorization": f"Bearer {key_in_store(ServiceSettings().resolved_database_url())}"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "shiprisk.cli",
            "serve",
            "--port",
            str(port),
            "--model",
            store.model_uri,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        ready = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                ready = httpx.get(f"{base}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        assert ready is not None and ready.status_code == 200
        declaration = json_payload(pd.read_parquet(store.declarations_path).head(1))
        scored = httpx.post(
            f"{base}/v1/scores", json={"declarations": declaration}, headers=officer, timeout=30
        )
        assert scored.status_code == 200
        assert scored.headers["X-Model-Version"] == f"{MODEL_NAME}/{store.version}"
        metrics = httpx.get(f"{base}/metrics", timeout=10).text
        assert 'route="/v1/scores"' in metrics
    finally:
        process.terminate()
        process.wait(timeout=20)
