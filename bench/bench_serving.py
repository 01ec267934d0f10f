"""Serving benchmark: `mlflow models serve` and `shiprisk serve` side by side on one bundle.

Trains a small model on synthetic data into a temporary MLflow store, registers it, then
serves the same registered version twice on 127.0.0.1:

* ``mlflow models serve -m models:/shiprisk/<v> --env-manager local`` (risk and lane, no
  reasons), requests as ``{"dataframe_records": [declaration]}``;
* ``shiprisk serve`` (risk, lane and 5 reasons per declaration), requests as
  ``{"declarations": [declaration]}``.

Four client threads send single-declaration requests for a fixed time to each server in
turn; the report gives throughput, p50 and p99 latency and their ratio. Batch scoring
(`serving.batch.score_file`, reasons on) is timed on the synthetic declarations. Results are
appended to bench/RESULTS.md with a description of the machine.

Run with ``python -m bench`` (all benchmarks) or ``python -m bench.bench_serving``.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from bench.machine import describe_machine
from serving.security.keys import KEY_PREFIX

RESULTS_FILE = Path(__file__).with_name("RESULTS.md")
CLIENTS = 4
DURATION_SECONDS = 20.0
WARMUP_REQUESTS = 5
DAYS, ROWS_PER_DAY = 60, 150
MODEL_NAME = "shiprisk"


@dataclass(frozen=True)
class LoadResult:
    """What the clients saw from one server."""

    server: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    first_error: str | None

    @property
    def throughput(self) -> float:
        """Successful requests per second."""
        return (self.requests - self.errors) / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """Latency percentile in milliseconds over successful requests (nearest rank)."""
        if not self.latencies_ms:
            return math.nan
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def train_model(root: Path) -> tuple[str, str, Path]:
    """Synthetic data, trained and registered in a store under ``root``.

    Returns the tracking URI, the registered version and the declarations file.
    """
    import yaml

    from features.sources import load_config
    from training.pipeline import train
    from training.synthetic import generate, training_config

    tables = generate(root / "data", start="2024-01-01", days=DAYS, rows_per_day=ROWS_PER_DAY)
    config = root / "config.yaml"
    split = {
        "train": ["2024-01-01", "2024-01-31"],
        "valid": ["2024-02-01", "2024-02-14"],
        "test": ["2024-02-15", "2024-02-29"],
    }
    config.write_text(yaml.safe_dump(training_config(tables, split)))
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    result = train(load_config(config), tracking_uri=tracking_uri, register=True)
    assert result.version is not None
    return tracking_uri, result.version, tables["declarations"]


def request_declarations(path: Path, n: int) -> list[dict[str, Any]]:
    """``n`` declarations as JSON objects (missing values left out, times in ISO 8601)."""
    frame = pd.read_parquet(path).tail(n)
    records = []
    for row in frame.to_dict(orient="records"):
        record: dict[str, Any] = {}
        for name, value in row.items():
            key = str(name)
            if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
                continue
            record[key] = value.isoformat() if isinstance(value, pd.Timestamp) else value
        records.append(record)
    return records


@contextmanager
def running(command: Sequence[str], env: dict[str, str], health_url: str) -> Iterator[None]:
    """Start a server process, wait until ``health_url`` answers 200, stop it afterwards."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 180
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"{command[0]} exited: {log.read().decode()[-2000:]}")
                try:
                    if httpx.get(health_url, timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{health_url} not ready after 180 s")
                time.sleep(0.5)
            yield
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def why(response: httpx.Response) -> str:
    """The telling part of an error response: the last line of a stack trace, else the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    trace = body.get("stack_trace") if isinstance(body, dict) else None
    if trace:
        return [line for line in str(trace).splitlines() if line.strip()][-1][:300]
    return json.dumps(body)[:300]


def officer_key(env: dict[str, str]) -> str:
    """An officer key made with `shiprisk keys create` in the benchmark's own store.

    Every /v1 route needs a key since access control landed; the command prints the key's
    text once, on the line that starts with the key prefix.
    """
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "shiprisk.cli",
            "keys",
            "create",
            "--role",
            "officer",
            "--name",
            "serving benchmark",
        ],
        env={**env, "COLUMNS": "400"},
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        raise RuntimeError(f"shiprisk keys create failed: {made.stderr.strip()[-500:]}")
    for line in made.stdout.splitlines():
        if line.strip().startswith(KEY_PREFIX):
            return line.strip()
    raise RuntimeError("shiprisk keys create printed no key")


def load_test(
    server: str,
    url: str,
    bodies: Sequence[dict[str, Any]],
    duration: float = DURATION_SECONDS,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """``CLIENTS`` threads post single-declaration bodies in turn for ``duration`` seconds."""
    with httpx.Client(headers=headers) as warm:
        for body in bodies[:WARMUP_REQUESTS]:
            warm.post(url, json=body, timeout=60)
    latencies: list[float] = []
    counts = {"requests": 0, "errors": 0}
    first_error: list[str] = []
    lock = threading.Lock()
    stop = time.perf_counter() + duration

    def client(offset: int) -> None:
        with httpx.Client(headers=headers) as session:
            i = offset
            while time.perf_counter() < stop:
                body = bodies[i % len(bodies)]
                i += CLIENTS
                started = time.perf_counter()
                try:
                    response = session.post(url, json=body, timeout=60)
                    ok = response.status_code == 200
                    problem = None if ok else f"HTTP {response.status_code}: {why(response)}"
                except httpx.HTTPError as error:
                    ok, problem = False, f"{type(error).__name__}: {error}"
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    counts["requests"] += 1
                    if ok:
                        latencies.append(elapsed)
                    else:
                        counts["errors"] += 1
                        if not first_error and problem:
                            first_error.append(problem)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LoadResult(
        server,
        counts["requests"],
        counts["errors"],
        time.perf_counter() - started,
        latencies,
        first_error[0] if first_error else None,
    )


def batch_rows_per_second(
    tracking_uri: str, version: str, declarations: Path, work: Path
) -> tuple[int, float]:
    """Rows and rows per second of batch scoring with 5 reasons each (load time excluded)."""
    import mlflow

    from models.registry import load_bundle
    from serving.batch import score_file
    from serving.settings import available_cores

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    bundle, name, _ = load_bundle(f"models:/{MODEL_NAME}/{version}")
    started = time.perf_counter()
    summary = score_file(
        declarations,
        work / "scores.parquet",
        bundle,
        name,
        version,
        top_k=5,
        num_threads=available_cores(),
    )
    return summary.rows, summary.rows / (time.perf_counter() - started)


def describe(result: LoadResult) -> str:
    return (
        f"| {result.server} | {result.throughput:.1f} | {result.percentile(50):.1f} | "
        f"{result.percentile(99):.1f} | {result.requests} | {result.errors} |"
    )


def report(mlflow_result: LoadResult, shiprisk_result: LoadResult, batch: tuple[int, float]) -> str:
    """The Markdown section appended to RESULTS.md."""
    ratio = (
        shiprisk_result.throughput / mlflow_result.throughput
        if mlflow_result.throughput
        else math.inf
    )
    lines = [
        f"## Serving — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {describe_machine()}.",
        f"Model: synthetic data, {DAYS} days x {ROWS_PER_DAY} declarations; one registered "
        f"version served by both. {CLIENTS} concurrent clients, single-declaration requests, "
        f"{DURATION_SECONDS:.0f} s each, 1 worker each, 127.0.0.1.",
        "",
        "| server | requests/s | p50 ms | p99 ms | requests | errors |",
        "|---|---|---|---|---|---|",
        describe(mlflow_result),
        describe(shiprisk_result),
        "",
        f"Throughput ratio shiprisk / mlflow: {ratio:.2f} (target >= 5); shiprisk p99 "
        f"{shiprisk_result.percentile(99):.1f} ms (target <= 20 ms).",
        f"Batch scoring with 5 reasons: {batch[0]} rows at {batch[1]:.0f} rows/s.",
    ]
    for result in (mlflow_result, shiprisk_result):
        if result.first_error:
            lines.append(f"First error from {result.server}: `{result.first_error[:300]}`")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run the serving benchmark and append its results to bench/RESULTS.md."""
    with tempfile.TemporaryDirectory(prefix="shiprisk-bench-serving-") as tmp:
        root = Path(tmp)
        print("training a model on synthetic data ...", flush=True)
        tracking_uri, version, declarations_path = train_model(root)
        bodies_raw = request_declarations(declarations_path, 200)
        bin_dir = Path(sys.executable).parent
        env = {
            **os.environ,
            # mlflow starts `uvicorn` by name: the virtual environment's must come first.
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "MLFLOW_TRACKING_URI": tracking_uri,
            "SHIPRISK_MODEL_URI": f"models:/{MODEL_NAME}/{version}",
            # The operational store that keeps every score, in the benchmark's own directory.
            "SHIPRISK_DATABASE_URL": f"sqlite:///{root / 'shiprisk.db'}",
            "SHIPRISK_DATA_DIR": str(root / "data"),
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
            # Both servers alike: idle OpenMP threads sleep instead of spinning on shared cores.
            "OMP_WAIT_POLICY": "PASSIVE",
        }

        mlflow_port = free_port()
        print(f"mlflow models serve on port {mlflow_port} ...", flush=True)
        with running(
            [
                str(bin_dir / "mlflow"),
                "models",
                "serve",
                "-m",
                f"models:/{MODEL_NAME}/{version}",
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
                "-p",
                str(mlflow_port),
                "-w",
                "1",
            ],
            env,
            f"http://127.0.0.1:{mlflow_port}/ping",
        ):
            mlflow_result = load_test(
                "mlflow models serve",
                f"http://127.0.0.1:{mlflow_port}/invocations",
                [{"dataframe_records": [body]} for body in bodies_raw],
            )

        print("officer key for shiprisk ...", flush=True)
        key = officer_key(env)
        shiprisk_port = free_port()
        print(f"shiprisk serve on port {shiprisk_port} ...", flush=True)
        with running(
            [
                sys.executable,
                "-m",
                "shiprisk.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(shiprisk_port),
                "--workers",
                "1",
                "--no-access-log",
            ],
            env,
            f"http://127.0.0.1:{shiprisk_port}/readyz",
        ):
            shiprisk_result = load_test(
                "shiprisk serve (5 reasons)",
                f"http://127.0.0.1:{shiprisk_port}/v1/scores",
                [{"declarations": [body], "top_k": 5} for body in bodies_raw],
                headers={"Authorization": f"Bearer {key}"},
            )

        print("batch scoring ...", flush=True)
        batch = batch_rows_per_second(tracking_uri, version, declarations_path, root)

    section = report(mlflow_result, shiprisk_result, batch)
    print(section)
    previous = RESULTS_FILE.read_text() if RESULTS_FILE.exists() else "# Benchmark results\n"
    RESULTS_FILE.write_text(previous.rstrip("\n") + "\n\n" + section)
    print(json.dumps({"results": str(RESULTS_FILE)}))


if __name__ == "__main__":
    main()
