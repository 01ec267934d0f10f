"""Serving benchmark: `mlflow models serve` and `shiprisk serve` side by side on one bundle.

Trains a model of every threat on synthetic data into a temporary MLflow store, registers it,
then serves the same registered version with both servers at once on 127.0.0.1, once per
worker count in ``WORKER_COUNTS`` (the same count for both servers):

* ``mlflow models serve -m models:/shiprisk/<v> --env-manager local -w <n>`` (risk and lane,
  no reasons), requests as ``{"dataframe_records": [declaration]}``;
* ``shiprisk serve --workers <n>`` (risk, lane and 5 reasons per declaration), requests as
  ``{"declarations": [declaration]}``; it divides the cores among its workers' LightGBM
  threads itself.

The load comes from ``wrk`` in its own process (``-t4 -c4``: 4 connections, one per thread),
not from threads of this process, so the client's Python does not compete with the servers
for the interpreter. A Lua script, written to the benchmark's temporary directory, cycles each
connection over the prepared single-declaration bodies from its own offset, and its ``done()``
prints one JSON line (requests, non-2xx responses, socket errors, duration, latency
percentiles from wrk's histogram) that this module parses. A short warm-up run is discarded;
then ``ROUNDS`` short rounds alternate between the servers, so that a shared machine whose
speed drifts slows both alike, and the report gives each round's ratio besides the total.
The report gives throughput (2xx responses per second), p50 and p99 latency and the ratio
shiprisk / mlflow per worker count, and each server's CPU time per request (all its
processes, read from /proc around its rounds). Then each server in turn gets the open loop of
issue 18's service level (`bench.open_loop`, its own process): ``OPEN_LOOP_RATE`` requests/s
on a fixed schedule, each latency counted from when its request was due; then shiprisk alone
at the lower ``SWEEP_RATES``, to show up to which rate the p99 holds. Batch scoring
(`serving.scoring.batch.score_file`, reasons on) is timed on the synthetic declarations. Results are appended to bench/RESULTS.md with a
description of the machine. ``scripts/wrk.sh`` installs wrk (``make bench`` runs it first).

Run with ``python -m bench`` (all benchmarks) or ``python -m bench.bench_serving``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from bench.machine import describe_machine
from bench.processes import measure_in_child, process_tree_cpu_seconds, stop
from bench.results import RESULTS_FILE, record_results
from serving.access.keys import KEY_PREFIX

CLIENTS = 4
# Measured in rounds that alternate between the two servers (both running, the idle one
# costs nothing): on a shared machine whose speed drifts, each server sees the same drift.
ROUNDS = 4
ROUND_SECONDS = 5
DURATION_SECONDS = ROUNDS * ROUND_SECONDS
WARMUP_SECONDS = 3
# wrk gives up on a request after this long and counts a timeout (its default is 2 s).
REQUEST_TIMEOUT_SECONDS = 30
WORKER_COUNTS = (1, 2)
# Enough labelled history for a model of every threat (fewer rows leave weapons and revenue
# out of the bundle, which would make each score three times cheaper than in production).
DAYS, ROWS_PER_DAY = 90, 400
SPLIT = {
    "train": ["2024-01-01", "2024-02-15"],
    "valid": ["2024-02-16", "2024-03-10"],
    "test": ["2024-03-11", "2024-03-30"],
}
MODEL_NAME = "shiprisk"
TARGET_RATIO = 5.0
TARGET_P99_MS = 20.0
# The latency service level (issue 18): p99 at most TARGET_P99_MS at this many requests per
# second, sent on a fixed schedule (open loop) whatever the answers' speed.
OPEN_LOOP_RATE = 100.0
OPEN_LOOP_SECONDS = 20.0
# Lower rates, shiprisk only and shorter, after the service level: the highest of them whose
# p99 stays within TARGET_P99_MS is what the service holds today (mlflow fails at 100/s).
SWEEP_RATES = (25.0, 50.0, 75.0)
SWEEP_SECONDS = 10.0
# Connections the open-loop client may open when every one is waiting on an answer.
OPEN_LOOP_MAX_CONNECTIONS = 64

# The line the Lua script's done() prints, followed by one JSON object.
WRK_RESULT_MARKER = "SHIPRISK_WRK_RESULT "

# Run by every wrk thread (one connection each). Arguments after "--": the bodies file (one
# JSON body per line), the headers file ("Name: value" per line) and the connection count.
# Requests are formatted once in init(): building one per request would load the client.
WRK_SCRIPT = r"""
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local function nonempty_lines(path)
  local found = {}
  for line in io.lines(path) do
    if line ~= "" then table.insert(found, line) end
  end
  return found
end

function init(args)
  local headers = {}
  for _, line in ipairs(nonempty_lines(args[2])) do
    local name, value = line:match("^([^:]+):%s*(.*)$")
    headers[name] = value
  end
  prepared = {}
  for i, body in ipairs(nonempty_lines(args[1])) do
    prepared[i] = wrk.format("POST", nil, headers, body)
  end
  -- Each connection starts at its own place in the cycle of bodies.
  position = math.floor(id * #prepared / tonumber(args[3])) % #prepared
  non_2xx = 0
  first_non_2xx_status = 0
end

function request()
  position = position % #prepared + 1
  return prepared[position]
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non_2xx = non_2xx + 1
    if first_non_2xx_status == 0 then first_non_2xx_status = status end
  end
end

function done(summary, latency, requests)
  local total_non_2xx, first_status = 0, 0
  for _, thread in ipairs(threads) do
    total_non_2xx = total_non_2xx + (thread:get("non_2xx") or 0)
    if first_status == 0 then first_status = thread:get("first_non_2xx_status") or 0 end
  end
  local errors = summary.errors
  io.write(string.format(
    'SHIPRISK_WRK_RESULT {"requests": %d, "non_2xx": %d, "first_non_2xx_status": %d, '
      .. '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, '
      .. '"duration_s": %.6f, "latency_ms": {"p50": %.3f, "p90": %.3f, "p99": %.3f, '
      .. '"max": %.3f}}\n',
    summary.requests, total_non_2xx, first_status,
    errors.connect, errors.read, errors.write, errors.timeout,
    summary.duration / 1e6,
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3))
end
"""


@dataclass(frozen=True)
class WrkRun:
    """What one wrk run measured, parsed from the JSON line the Lua script's done() prints.

    Latencies come from wrk's histogram over every completed response (2xx or not).
    """

    requests: int
    non_2xx: int
    first_non_2xx_status: int | None
    socket_errors: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def successful(self) -> int:
        """Completed requests answered with a 2xx status."""
        return self.requests - self.non_2xx

    @property
    def throughput(self) -> float:
        """Successful (2xx) requests per second."""
        return self.successful / self.seconds if self.seconds else 0.0


def combined(runs: Sequence[WrkRun]) -> WrkRun:
    """Several runs against one server as one: counts and seconds add up, p50 and p90 are the
    median of the runs', p99 and max the worst run's (wrk gives percentiles, not samples)."""
    if not runs:
        raise ValueError("no runs to combine")

    def median(values: list[float]) -> float:
        ordered = sorted(values)
        middle = len(ordered) // 2
        return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2

    statuses = [run.first_non_2xx_status for run in runs if run.first_non_2xx_status]
    return WrkRun(
        requests=sum(run.requests for run in runs),
        non_2xx=sum(run.non_2xx for run in runs),
        first_non_2xx_status=statuses[0] if statuses else None,
        socket_errors=sum(run.socket_errors for run in runs),
        seconds=sum(run.seconds for run in runs),
        p50_ms=median([run.p50_ms for run in runs]),
        p90_ms=median([run.p90_ms for run in runs]),
        p99_ms=max(run.p99_ms for run in runs),
        max_ms=max(run.max_ms for run in runs),
    )


@dataclass(frozen=True)
class LoadResult:
    """What wrk saw from one server run with a given number of workers."""

    server: str
    workers: int
    run: WrkRun
    first_error: str | None
    server_cpu_seconds: float = math.nan  # all the server's processes, over the rounds

    @property
    def cpu_ms_per_request(self) -> float:
        """The server's CPU time per successful request, over the measured rounds."""
        answered = self.run.successful
        return self.server_cpu_seconds * 1000.0 / answered if answered else math.nan


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

    from training.config import load_config
    from training.pipeline import train
    from training.synthetic import generate, training_config

    tables = generate(root / "data", start="2024-01-01", days=DAYS, rows_per_day=ROWS_PER_DAY)
    config = root / "config.yaml"
    config.write_text(yaml.safe_dump(training_config(tables, SPLIT)))
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    result = train(load_config(config), tracking_uri=tracking_uri, register=True)
    assert result.version is not None
    return tracking_uri, result.version, tables["declarations"]


def served_threats(tracking_uri: str, version: str) -> list[str]:
    """The threats the registered bundle scores (one booster each)."""
    from models.registry import load_bundle

    bundle, _, _ = load_bundle(f"models:/{MODEL_NAME}/{version}", tracking_uri=tracking_uri)
    return list(bundle.threats)


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
def running(
    command: Sequence[str], env: dict[str, str], health_url: str
) -> Iterator[subprocess.Popen[bytes]]:
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
            yield process
        finally:
            stop(process, timeout=20)


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


def parse_wrk_output(output: str) -> WrkRun:
    """The run described by the Lua script's result line in wrk's standard output."""
    for line in output.splitlines():
        if line.startswith(WRK_RESULT_MARKER):
            data = json.loads(line[len(WRK_RESULT_MARKER) :])
            break
    else:
        raise RuntimeError(f"wrk printed no {WRK_RESULT_MARKER.strip()} line: {output[-500:]!r}")
    latency = data["latency_ms"]
    return WrkRun(
        requests=int(data["requests"]),
        non_2xx=int(data["non_2xx"]),
        first_non_2xx_status=int(data["first_non_2xx_status"]) or None,
        socket_errors=sum(int(count) for count in data["socket_errors"].values()),
        seconds=float(data["duration_s"]),
        p50_ms=float(latency["p50"]),
        p90_ms=float(latency["p90"]),
        p99_ms=float(latency["p99"]),
        max_ms=float(latency["max"]),
    )


def wrk_executable() -> str:
    """The path of wrk, or a clear error saying how to install it."""
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed: run `bash scripts/wrk.sh` (make bench does)")
    return found


def run_wrk(
    url: str,
    bodies: Sequence[dict[str, Any]],
    headers: dict[str, str],
    work: Path,
    seconds: int,
    connections: int = CLIENTS,
) -> WrkRun:
    """POST ``bodies`` in a cycle to ``url`` with wrk for ``seconds``, one thread per connection.

    The Lua script, the bodies (one JSON document per line) and the headers are written to
    ``work`` for wrk to read; nothing of them is committed.
    """
    script = work / "cycle_bodies.lua"
    script.write_text(WRK_SCRIPT)
    bodies_file = work / "bodies.jsonl"
    bodies_file.write_text("".join(json.dumps(body) + "\n" for body in bodies))
    # In a file rather than on wrk's command line, where the key would show in `ps`.
    headers_file = work / "headers.txt"
    headers_file.write_text("".join(f"{name}: {value}\n" for name, value in headers.items()))
    command = [
        wrk_executable(),
        f"-t{connections}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        f"{REQUEST_TIMEOUT_SECONDS}s",
        "-s",
        str(script),
        url,
        "--",
        str(bodies_file),
        str(headers_file),
        str(connections),
    ]
    finished = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
        timeout=seconds + REQUEST_TIMEOUT_SECONDS + 30,
    )
    if finished.returncode != 0:
        raise RuntimeError(
            f"wrk exited with {finished.returncode}: {(finished.stderr or finished.stdout)[-500:]}"
        )
    return parse_wrk_output(finished.stdout)


def example_error(
    url: str, body: dict[str, Any], headers: dict[str, str], run: WrkRun
) -> str | None:
    """One error to show when wrk saw any: a single request sent again with httpx afterwards."""
    if not run.non_2xx and not run.socket_errors:
        return None
    seen = (
        f"wrk saw {run.non_2xx} non-2xx (first HTTP {run.first_non_2xx_status}) and "
        f"{run.socket_errors} socket errors"
    )
    try:
        response = httpx.post(url, json=body, headers=headers, timeout=REQUEST_TIMEOUT_SECONDS)
    except httpx.HTTPError as error:
        return f"{seen}; one request afterwards: {type(error).__name__}: {error}"
    if response.is_success:
        return f"{seen}; one request afterwards answered HTTP {response.status_code}"
    return f"{seen}; one request afterwards: HTTP {response.status_code}: {why(response)}"


@dataclass(frozen=True)
class OpenLoopRun:
    """Requests sent on a fixed schedule: each latency runs from when the request was due,
    so a slow answer delays nothing else's schedule and late sends count (no coordinated
    omission)."""

    server: str
    rate: float
    latencies_ms: tuple[float, ...]
    failures: int
    first_failure: str | None = None
    server_cpu_seconds: float = math.nan
    client_cpu_seconds: float = math.nan

    @property
    def requests(self) -> int:
        return len(self.latencies_ms) + self.failures

    @property
    def server_cpu_ms_per_request(self) -> float:
        """The server's CPU time (all its processes) per answered request."""
        answered = len(self.latencies_ms)
        return self.server_cpu_seconds * 1000.0 / answered if answered else math.nan

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return math.nan
        return ordered[min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1)]


def open_loop_on(
    target: Target,
    work: Path,
    rate: float = OPEN_LOOP_RATE,
    seconds: float = OPEN_LOOP_SECONDS,
) -> OpenLoopRun:
    """`bench.open_loop` against one server at ``rate`` for ``seconds``, in its own process,
    with the CPU time the server's processes spent meanwhile."""
    bodies_file = work / "open_loop_bodies.jsonl"
    bodies_file.write_text("".join(json.dumps(body) + "\n" for body in target.bodies))
    spec_file = work / "open_loop.json"
    # In a file rather than on the command line, where the key would show in `ps`.
    spec_file.write_text(
        json.dumps(
            {
                "url": target.url,
                "bodies": str(bodies_file),
                "headers": {"Content-Type": "application/json", **target.headers},
                "rate": rate,
                "seconds": seconds,
                "max_connections": OPEN_LOOP_MAX_CONNECTIONS,
            }
        )
    )
    before = process_tree_cpu_seconds(target.pid) if target.pid else math.nan
    measured = measure_in_child(
        [sys.executable, "-m", "bench.open_loop", str(spec_file)],
        cwd=Path(__file__).resolve().parent.parent,
        what=f"the open loop against {target.server}",
    )
    after = process_tree_cpu_seconds(target.pid) if target.pid else math.nan
    return OpenLoopRun(
        server=target.server,
        rate=rate,
        latencies_ms=tuple(measured["latencies_ms"]),
        failures=int(measured["failures"]),
        first_failure=measured["first_failure"],
        server_cpu_seconds=after - before,
        client_cpu_seconds=float(measured["client_cpu_seconds"]),
    )


@dataclass(frozen=True)
class Target:
    """One server under load: its name, URL, request bodies and headers."""

    server: str
    url: str
    bodies: Sequence[dict[str, Any]]
    headers: dict[str, str]
    pid: int | None = None  # the server's first process, whose tree's CPU time is measured


def side_by_side(
    targets: Sequence[Target], workers: int, work: Path
) -> tuple[list[LoadResult], list[list[float]]]:
    """Warm every target up, then measure them in ``ROUNDS`` alternating rounds.

    Returns a result per target (its rounds combined) and each round's requests/s per target.
    """
    headers = [{"Content-Type": "application/json", **target.headers} for target in targets]
    for target, sent in zip(targets, headers, strict=True):
        run_wrk(target.url, target.bodies, sent, work, WARMUP_SECONDS)
    runs: list[list[WrkRun]] = [[] for _ in targets]
    cpu = [0.0 for _ in targets]
    for _ in range(ROUNDS):
        for k, (target, sent) in enumerate(zip(targets, headers, strict=True)):
            before = process_tree_cpu_seconds(target.pid) if target.pid else math.nan
            runs[k].append(run_wrk(target.url, target.bodies, sent, work, ROUND_SECONDS))
            after = process_tree_cpu_seconds(target.pid) if target.pid else math.nan
            cpu[k] += after - before
    results = []
    for target, sent, own, seconds in zip(targets, headers, runs, cpu, strict=True):
        run = combined(own)
        error = example_error(target.url, target.bodies[0], sent, run)
        results.append(LoadResult(target.server, workers, run, error, seconds))
    rounds = [[own[r].throughput for own in runs] for r in range(ROUNDS)]
    return results, rounds


def batch_rows_per_second(
    tracking_uri: str, version: str, declarations: Path, work: Path
) -> tuple[int, float]:
    """Rows and rows per second of batch scoring with 5 reasons each (load time excluded)."""
    import mlflow

    from models.registry import load_bundle
    from serving.scoring.batch import score_file
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
    """One row of the results table."""
    run = result.run
    return (
        f"| {result.server} | {result.workers} | {run.throughput:.1f} | {run.p50_ms:.1f} | "
        f"{run.p99_ms:.1f} | {result.cpu_ms_per_request:.2f} | {run.requests} | "
        f"{run.non_2xx} | {run.socket_errors} |"
    )


def verdict(mlflow_result: LoadResult, shiprisk_result: LoadResult) -> tuple[float, bool]:
    """Throughput ratio shiprisk / mlflow and whether this configuration meets both targets."""
    mlflow_throughput = mlflow_result.run.throughput
    ratio = shiprisk_result.run.throughput / mlflow_throughput if mlflow_throughput else math.inf
    meets = (
        ratio >= TARGET_RATIO
        and shiprisk_result.run.p99_ms <= TARGET_P99_MS
        and shiprisk_result.run.successful > 0
    )
    return ratio, meets


def report(
    pairs: Sequence[tuple[LoadResult, LoadResult]],
    batch: tuple[int, float],
    machine: str,
    load_at_end: float | None,
    round_ratios: Sequence[Sequence[float]] = (),
    threats: Sequence[str] = (),
    open_loops: Sequence[tuple[int, OpenLoopRun]] = (),
) -> str:
    """The Markdown section appended to RESULTS.md; ``pairs`` are (mlflow, shiprisk) results,
    ``round_ratios`` the shiprisk / mlflow ratio of each round, per pair."""
    at_end = f"; load average {load_at_end:.2f} at the end" if load_at_end is not None else ""
    scored = f" It scores {', '.join(threats)}." if threats else ""
    lines = [
        f"## Serving — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {machine}{at_end}.",
        f"Model: synthetic data, {DAYS} days x {ROWS_PER_DAY} declarations; one registered "
        f"version served by both, with the same number of workers, on 127.0.0.1.{scored}",
        f"Load generator: wrk in its own process, {CLIENTS} connections on {CLIENTS} threads "
        f"(`-t{CLIENTS} -c{CLIENTS}`), single-declaration requests cycling over the prepared "
        f"declarations; {WARMUP_SECONDS} s warm-up discarded, then {ROUNDS} rounds of "
        f"{ROUND_SECONDS} s that alternate between the two servers (both running), so that "
        "both see the same drift of a shared machine. Requests/s counts 2xx responses; p50 is "
        "the median of the rounds' p50, p99 the worst round's (wrk's histogram percentiles).",
        "",
        "| server | workers | requests/s | p50 ms | p99 ms | server CPU ms/request | requests "
        "| non-2xx | socket errors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for mlflow_result, shiprisk_result in pairs:
        lines += [describe(mlflow_result), describe(shiprisk_result)]
    lines += [
        "",
        "| workers | throughput shiprisk / mlflow | ratio per round | shiprisk p99 ms "
        "| meets targets |",
        "|---|---|---|---|---|",
    ]
    meeting = []
    for k, (mlflow_result, shiprisk_result) in enumerate(pairs):
        ratio, meets = verdict(mlflow_result, shiprisk_result)
        if meets:
            meeting.append(str(shiprisk_result.workers))
        per_round = ", ".join(f"{r:.2f}" for r in round_ratios[k]) if round_ratios else "-"
        lines.append(
            f"| {shiprisk_result.workers} | {ratio:.2f} | {per_round} | "
            f"{shiprisk_result.run.p99_ms:.1f} | {'yes' if meets else 'no'} |"
        )
    lines += [
        "",
        f"Targets: ratio >= {TARGET_RATIO:g} and shiprisk p99 <= {TARGET_P99_MS:g} ms. "
        + (f"Met with {', '.join(meeting)} worker(s)." if meeting else "Met by no configuration."),
        f"Batch scoring with 5 reasons: {batch[0]} rows at {batch[1]:.0f} rows/s.",
    ]
    if open_loops:
        lines += [
            "",
            f"Open loop (the latency service level): {OPEN_LOOP_RATE:g} requests/s on a fixed "
            f"schedule for {OPEN_LOOP_SECONDS:g} s to one server at a time, each latency "
            "measured from when its request was due (`bench.open_loop`: one asyncio process, "
            "keep-alive connections opened as needed); then shiprisk alone at "
            f"{', '.join(f'{r:g}' for r in SWEEP_RATES)} requests/s for {SWEEP_SECONDS:g} s "
            "each, to show up to which rate the p99 holds. Server CPU counts all the server's "
            "processes; the client's own CPU is given so its share of the cores shows.",
            "",
            "| server | workers | requests/s | requests | failed | p50 ms | p99 ms | max ms "
            f"| server CPU ms/request | client CPU s | p99 <= {TARGET_P99_MS:g} ms |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for workers, run in open_loops:
            p99 = run.percentile(99)
            lines.append(
                f"| {run.server} | {workers} | {run.rate:g} | {run.requests} | {run.failures} | "
                f"{run.percentile(50):.1f} | {p99:.1f} | {run.percentile(100):.1f} | "
                f"{run.server_cpu_ms_per_request:.2f} | {run.client_cpu_seconds:.2f} | "
                f"{'yes' if p99 <= TARGET_P99_MS and not run.failures else 'no'} |"
            )
            if run.first_failure:
                lines.append(f"First failure from {run.server}: `{run.first_failure[:300]}`")
    for pair in pairs:
        for result in pair:
            if result.first_error:
                lines.append(
                    f"Errors from {result.server} with {result.workers} worker(s): "
                    f"`{result.first_error[:400]}`"
                )
    return "\n".join(lines) + "\n"


def mlflow_command(bin_dir: Path, version: str, port: int, workers: int) -> list[str]:
    """`mlflow models serve` of the registered version, in this environment."""
    return [
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
        str(port),
        "-w",
        str(workers),
    ]


def shiprisk_command(port: int, workers: int) -> list[str]:
    """`shiprisk serve` of the model named by SHIPRISK_MODEL_URI, without the access log."""
    return [
        sys.executable,
        "-m",
        "shiprisk.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
    ]


def main() -> None:
    """Run the serving benchmark and append its results to bench/RESULTS.md."""
    wrk_executable()  # fail before training when the load generator is missing
    machine = describe_machine()
    with tempfile.TemporaryDirectory(prefix="shiprisk-bench-serving-") as tmp:
        root = Path(tmp)
        print("training a model on synthetic data ...", flush=True)
        tracking_uri, version, declarations_path = train_model(root)
        threats = served_threats(tracking_uri, version)
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
        print("officer key for shiprisk ...", flush=True)
        key = officer_key(env)

        targets = [
            Target(
                "mlflow models serve",
                "",
                [{"dataframe_records": [body]} for body in bodies_raw],
                {},
            ),
            Target(
                "shiprisk serve (5 reasons)",
                "",
                [{"declarations": [body], "top_k": 5} for body in bodies_raw],
                {"Authorization": f"Bearer {key}"},
            ),
        ]
        pairs: list[tuple[LoadResult, LoadResult]] = []
        round_ratios: list[list[float]] = []
        open_loops: list[tuple[int, OpenLoopRun]] = []
        for workers in WORKER_COUNTS:
            mlflow_port, shiprisk_port = free_port(), free_port()
            print(
                f"mlflow -w {workers} on {mlflow_port}, shiprisk --workers {workers} on "
                f"{shiprisk_port}, {ROUNDS} alternating rounds ...",
                flush=True,
            )
            with (
                running(
                    mlflow_command(bin_dir, version, mlflow_port, workers),
                    env,
                    f"http://127.0.0.1:{mlflow_port}/ping",
                ) as mlflow_process,
                running(
                    shiprisk_command(shiprisk_port, workers),
                    env,
                    f"http://127.0.0.1:{shiprisk_port}/readyz",
                ) as shiprisk_process,
            ):
                served = [
                    replace(
                        targets[0],
                        url=f"http://127.0.0.1:{mlflow_port}/invocations",
                        pid=mlflow_process.pid,
                    ),
                    replace(
                        targets[1],
                        url=f"http://127.0.0.1:{shiprisk_port}/v1/scores",
                        pid=shiprisk_process.pid,
                    ),
                ]
                results, rounds = side_by_side(served, workers, root)
                for target in served:
                    print(f"  open loop on {target.server} at {OPEN_LOOP_RATE:g}/s ...", flush=True)
                    open_loops.append((workers, open_loop_on(target, root)))
                for rate in SWEEP_RATES:
                    print(f"  open loop on {served[1].server} at {rate:g}/s ...", flush=True)
                    open_loops.append(
                        (workers, open_loop_on(served[1], root, rate=rate, seconds=SWEEP_SECONDS))
                    )
            for result in results:
                print(f"  {describe(result)}", flush=True)
            pairs.append((results[0], results[1]))
            round_ratios.append([ship / mlf if mlf else math.inf for mlf, ship in rounds])

        print("batch scoring ...", flush=True)
        batch = batch_rows_per_second(tracking_uri, version, declarations_path, root)

    load_at_end = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    section = report(pairs, batch, machine, load_at_end, round_ratios, threats, open_loops)
    record_results(section)
    print(json.dumps({"results": str(RESULTS_FILE)}))


if __name__ == "__main__":
    main()
