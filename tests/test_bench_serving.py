"""The serving benchmark's load generator: wrk's Lua result line, and one short real wrk run."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from bench import open_loop
from bench.bench_serving import (
    LoadResult,
    OpenLoopRun,
    Target,
    WrkRun,
    combined,
    example_error,
    open_loop_on,
    parse_wrk_output,
    report,
    run_wrk,
    verdict,
)
from bench.processes import process_tree_cpu_seconds

SAMPLE_OUTPUT = """Running 20s test @ http://127.0.0.1:8123/v1/scores
  4 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.04ms    3.11ms  80.20ms   91.00%
  1204 requests in 20.01s, 1.10MB read
  Non-2xx or 3xx responses: 4
Requests/sec:     60.17
Transfer/sec:     56.20KB
SHIPRISK_WRK_RESULT {"requests": 1204, "non_2xx": 4, "first_non_2xx_status": 503, \
"socket_errors": {"connect": 0, "read": 1, "write": 0, "timeout": 2}, "duration_s": 20.000000, \
"latency_ms": {"p50": 11.250, "p90": 15.500, "p99": 19.875, "max": 80.200}}
"""


def test_parse_wrk_output_reads_the_lua_result_line() -> None:
    run = parse_wrk_output(SAMPLE_OUTPUT)

    assert run == WrkRun(
        requests=1204,
        non_2xx=4,
        first_non_2xx_status=503,
        socket_errors=3,
        seconds=20.0,
        p50_ms=11.25,
        p90_ms=15.5,
        p99_ms=19.875,
        max_ms=80.2,
    )
    assert run.successful == 1200
    assert run.throughput == 60.0  # 1200 successful requests / 20 s


def test_rounds_combine_into_one_run_per_server() -> None:
    rounds = [
        WrkRun(100, 1, 503, 0, 5.0, 10.0, 20.0, 40.0, 50.0),
        WrkRun(120, 0, None, 2, 5.0, 12.0, 22.0, 30.0, 35.0),
        WrkRun(90, 2, 500, 0, 5.0, 14.0, 18.0, 60.0, 70.0),
    ]
    run = combined(rounds)
    assert run == WrkRun(310, 3, 503, 2, 15.0, 12.0, 20.0, 60.0, 70.0)
    assert run.throughput == pytest.approx(307 / 15.0)
    with pytest.raises(ValueError, match="no runs"):
        combined([])


def test_parse_wrk_output_without_a_result_line_says_so() -> None:
    with pytest.raises(RuntimeError, match=r"^wrk printed no SHIPRISK_WRK_RESULT line: "):
        parse_wrk_output("unable to connect to 127.0.0.1:1 Connection refused\n")


def _result(server: str, workers: int, requests: int, p99_ms: float) -> LoadResult:
    run = WrkRun(requests, 0, None, 0, 10.0, p99_ms / 2, p99_ms / 2, p99_ms, p99_ms)
    return LoadResult(server, workers, run, None, server_cpu_seconds=requests * 0.004)


def test_report_says_which_worker_count_meets_the_targets() -> None:
    one = (_result("mlflow", 1, 400, 90.0), _result("shiprisk", 1, 1600, 15.0))  # ratio 4
    two = (_result("mlflow", 2, 400, 90.0), _result("shiprisk", 2, 2000, 20.0))  # ratio 5

    assert verdict(*one) == (4.0, False)
    assert verdict(*two) == (5.0, True)
    text = report(
        [one, two],
        (9000, 3000.0),
        "test machine, load average 0.50 at the start",
        0.75,
        [[3.5, 4.5], [5.25, 4.75]],
        ["weapons", "revenue"],
    )
    assert (
        "Machine: test machine, load average 0.50 at the start; load average 0.75 at the end."
        in text
    )
    assert "| shiprisk | 2 | 200.0 | 10.0 | 20.0 | 4.00 | 2000 | 0 | 0 |" in text
    assert "| 1 | 4.00 | 3.50, 4.50 | 15.0 | no |" in text
    assert "| 2 | 5.00 | 5.25, 4.75 | 20.0 | yes |" in text
    assert "It scores weapons, revenue." in text
    assert "Met with 2 worker(s)." in text
    assert "wrk in its own process" in text


def test_report_gives_each_open_loop_rate_and_whether_its_p99_holds() -> None:
    one = (_result("mlflow", 1, 400, 90.0), _result("shiprisk", 1, 1600, 15.0))
    fast = OpenLoopRun("shiprisk", 50.0, tuple(float(i % 20) for i in range(500)), 0, None, 2.0)
    slow = OpenLoopRun("shiprisk", 100.0, tuple(float(i % 40) for i in range(1000)), 0, None, 7.0)
    text = report([one], (9000, 3000.0), "test machine", None, open_loops=[(1, slow), (1, fast)])
    # latencies 0..39 ms: p99 39 ms; 0..19 ms: p99 19 ms; CPU per request 7 and 4 ms
    assert "| shiprisk | 1 | 100 | 1000 | 0 | 19.0 | 39.0 | 39.0 | 7.00 |" in text
    assert "| shiprisk | 1 | 50 | 500 | 0 | 9.0 | 19.0 | 19.0 | 4.00 |" in text
    rows = [line for line in text.splitlines() if line.startswith("| shiprisk | 1 | ")]
    assert [row.rsplit("|", 2)[-2].strip() for row in rows[-2:]] == ["no", "yes"]


class _Recorder(BaseHTTPRequestHandler):
    """Answers 503 to bodies marked "fail" and 200 otherwise; records what each request sent."""

    protocol_version = "HTTP/1.1"  # keep-alive, as wrk expects
    seen: ClassVar[list[tuple[int, int, str | None, str | None]]] = []  # port, n, auth, type
    lock: ClassVar[threading.Lock] = threading.Lock()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        time.sleep(body.get("sleep", 0.0))
        with self.lock:
            self.seen.append(
                (
                    self.client_address[1],
                    body["n"],
                    self.headers.get("Authorization"),
                    self.headers.get("Content-Type"),
                )
            )
        status = 503 if body.get("fail") else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        pass


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # wrk closes its connections mid-request when it stops


@pytest.fixture
def recording_server() -> Iterator[str]:
    _Recorder.seen = []
    server = _QuietServer(("127.0.0.1", 0), _Recorder)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/scores"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (scripts/wrk.sh)")
def test_wrk_cycles_bodies_from_one_offset_per_connection_and_counts_non_2xx(
    recording_server: str, tmp_path: Path
) -> None:
    bodies = [{"n": n, "fail": n == 5} for n in range(8)]

    run = run_wrk(
        recording_server,
        bodies,
        {"Content-Type": "application/json", "Authorization": "Bearer test-key"},
        tmp_path,
        seconds=1,
    )

    seen = list(_Recorder.seen)
    # Requests still in flight when wrk stops reach the server but not wrk's count.
    assert run.requests <= len(seen) <= run.requests + 4
    failed = sum(1 for _, n, _, _ in seen if n == 5)
    assert failed - 4 <= run.non_2xx <= failed
    assert run.non_2xx > 0
    assert run.first_non_2xx_status == 503
    assert run.socket_errors == 0
    assert 0.9 < run.seconds < 1.5
    assert 0 < run.p50_ms <= run.p99_ms <= run.max_ms
    assert {(auth, kind) for _, _, auth, kind in seen} == {("Bearer test-key", "application/json")}
    by_connection: dict[int, list[int]] = {}
    for port, n, _, _ in seen:
        by_connection.setdefault(port, []).append(n)
    assert len(by_connection) == 4
    # 8 bodies over 4 connections: each starts in its own quarter of the cycle (wrk calls the
    # first thread's request() once to check it, so that one may start a body later).
    assert sorted(ns[0] // 2 for ns in by_connection.values()) == [0, 1, 2, 3]
    for ns in by_connection.values():
        assert ns[:9] == [(ns[0] + k) % 8 for k in range(9)]


def test_example_error_sends_one_body_again_when_wrk_saw_errors(recording_server: str) -> None:
    clean = WrkRun(10, 0, None, 0, 1.0, 1.0, 1.0, 1.0, 1.0)
    failing = WrkRun(10, 4, 503, 1, 1.0, 1.0, 1.0, 1.0, 1.0)
    headers = {"Authorization": "Bearer test-key"}

    assert example_error(recording_server, {"n": 5, "fail": True}, headers, clean) is None
    assert example_error(recording_server, {"n": 5, "fail": True}, headers, failing) == (
        "wrk saw 4 non-2xx (first HTTP 503) and 1 socket errors; "
        "one request afterwards: HTTP 503: {}"
    )
    assert example_error(recording_server, {"n": 1}, headers, failing) == (
        "wrk saw 4 non-2xx (first HTTP 503) and 1 socket errors; "
        "one request afterwards answered HTTP 200"
    )
    assert [(n, auth) for _, n, auth, _ in _Recorder.seen] == [
        (5, "Bearer test-key"),
        (1, "Bearer test-key"),
    ]


def test_open_loop_keeps_its_schedule_and_counts_a_slow_answer_from_when_it_was_due(
    recording_server: str, tmp_path: Path
) -> None:
    """One request in ten takes 0.2 s: the others still go out on time on other connections
    (their latency stays small), and the slow ones count in full from when they were due."""
    bodies = [{"n": n, "sleep": 0.2 if n == 0 else 0.0, "fail": n == 5} for n in range(10)]
    target = Target("recorder", recording_server, bodies, {"Authorization": "Bearer k"})

    run = open_loop_on(target, tmp_path, rate=50.0, seconds=1.0)

    assert run.requests == 50 and run.failures == 5  # body 5 answers 503, five times
    assert run.first_failure == "HTTP 503"
    assert run.percentile(50) < 100.0  # the fast ones were not held up by the slow ones
    assert 200.0 <= run.percentile(100) < 1000.0
    assert run.client_cpu_seconds < 1.0
    received = [n for _, n, _, _ in _Recorder.seen]
    assert sorted(received) == sorted(n % 10 for n in range(50))
    assert {auth for _, _, auth, _ in _Recorder.seen} == {"Bearer k"}
    assert (
        len({port for port, _, _, _ in _Recorder.seen}) >= 2
    )  # a busy connection is not waited on


def test_open_loop_does_not_send_on_a_connection_the_server_closed_while_idle() -> None:
    """The server closes a keep-alive connection 0.1 s after its answer (uvicorn: 5 s);
    requests 0.3 s apart must go out on fresh connections, not fail unanswered on dead ones."""

    async def scenario() -> tuple[open_loop.Outcome, int]:
        accepted = 0

        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal accepted
            accepted += 1
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
            await writer.drain()
            await asyncio.sleep(0.1)  # the keep-alive timeout
            writer.close()

        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            outcome = await open_loop.run(
                f"http://127.0.0.1:{port}/v1/scores",
                [b"{}"],
                {},
                rate=1 / 0.3,
                seconds=1.5,
                max_connections=4,
            )
        return outcome, accepted

    outcome, accepted = asyncio.run(scenario())
    assert outcome.failures == 0, outcome.first_failure
    assert len(outcome.latencies_ms) == 5
    assert accepted == 5  # each request on a connection of its own


def test_open_loop_sends_on_schedule(recording_server: str, tmp_path: Path) -> None:
    """40 requests at 20/s take about two seconds, whatever the answers' speed."""
    target = Target("recorder", recording_server, [{"n": 1}], {})
    started = time.perf_counter()
    run = open_loop_on(target, tmp_path, rate=20.0, seconds=2.0)
    elapsed = time.perf_counter() - started
    assert run.requests == 40 and run.failures == 0
    assert 1.9 <= elapsed < 10.0  # the child's start-up comes on top of the schedule


def test_process_tree_cpu_seconds_counts_the_children(tmp_path: Path) -> None:
    """A parent that sleeps and two children that spin: one ends and is waited for, the other
    stays alive; the tree's CPU time holds both."""
    script = tmp_path / "spin.py"
    script.write_text(
        "import sys, time\n"
        "end = time.process_time() + 0.4\n"
        "while time.process_time() < end: pass\n"
        "time.sleep(float(sys.argv[1]))\n"
    )
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import subprocess, sys, time; script = {str(script)!r};"
            " subprocess.run([sys.executable, script, '0']);"
            " subprocess.Popen([sys.executable, script, '60']); time.sleep(60)",
        ],
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while process_tree_cpu_seconds(parent.pid) < 0.7 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process_tree_cpu_seconds(parent.pid) >= 0.7
    finally:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait()
    with pytest.raises(ProcessLookupError):
        process_tree_cpu_seconds(parent.pid)
