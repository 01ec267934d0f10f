"""An open-loop load generator: requests sent on a fixed schedule, whatever the answers' speed.

Request ``i`` is due at ``start + i / rate``; its latency counts from when it was due, not
from when it went out, so a stalled server cannot hide the queue behind a slow answer (the
"coordinated omission" of closed-loop clients such as wrk). Each request goes out on an idle
keep-alive connection (one the server has not closed), or on a new one when all are busy, up
to ``max_connections``.

It runs as its own process, on one asyncio loop (uvloop when installed) with requests
formatted once as bytes, so that its cost on the shared cores is small and shows in its own
CPU time, which it reports: the first open-loop client of the serving benchmark, 16 Python
threads with httpx, cost the server part of its latency.

Run ``python -m bench.open_loop SPEC.json``: the spec names ``url``, ``bodies`` (a file of one
JSON body per line), ``headers``, ``rate``, ``seconds`` and ``max_connections``; the last line
of output is one JSON object (latencies in ms of the 2xx answers, failures and the first
failure's words, connections opened, the client's CPU seconds).
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# A request still unanswered after this long counts as failed.
REQUEST_TIMEOUT_SECONDS = 30.0
# An idle keep-alive connection is not reused after this long: servers close theirs (uvicorn
# after 5 s), and a request sent on a connection the server just closed fails unanswered.
IDLE_REUSE_SECONDS = 4.0


@dataclass(frozen=True)
class Endpoint:
    """Where the requests go: host, port and path of an ``http://`` URL."""

    host: str
    port: int
    path: str

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"open loop needs an http:// URL with a host, not {url!r}")
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return cls(parts.hostname, parts.port or 80, path)


def format_requests(
    endpoint: Endpoint, bodies: Sequence[bytes], headers: Mapping[str, str]
) -> list[bytes]:
    """Each body as a complete HTTP/1.1 POST, formatted once before the run."""
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return [
        (
            f"POST {endpoint.path} HTTP/1.1\r\nHost: {endpoint.host}:{endpoint.port}\r\n"
            f"{head}Content-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1")
        + body
        for body in bodies
    ]


class ResponseError(Exception):
    """An answer this client cannot read as HTTP/1.1 with a length."""


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """The status of one response, read to its end, and whether the connection stays open."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split(" ", 2)[1])
    except (IndexError, ValueError) as error:
        raise ResponseError(f"not an HTTP status line: {lines[0][:80]!r}") from error
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    if fields.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif "content-length" in fields:
        await reader.readexactly(int(fields["content-length"]))
    else:
        raise ResponseError("a response with neither Content-Length nor chunked encoding")
    return status, fields.get("connection", "").lower() != "close"


@dataclass
class Outcome:
    """What the run saw, filled as answers arrive."""

    latencies_ms: list[float]
    failures: int = 0
    first_failure: str | None = None
    connections: int = 0

    def failed(self, why: str) -> None:
        self.failures += 1
        if self.first_failure is None:
            self.first_failure = why


async def run(
    url: str,
    bodies: Sequence[bytes],
    headers: Mapping[str, str],
    *,
    rate: float,
    seconds: float,
    max_connections: int,
) -> Outcome:
    """Send ``rate x seconds`` requests on schedule, cycling over ``bodies``."""
    endpoint = Endpoint.parse(url)
    requests = format_requests(endpoint, bodies, headers)
    loop = asyncio.get_running_loop()
    # (reader, writer, idle since): the last returned is reused first
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
    slots = asyncio.Semaphore(max_connections)
    outcome = Outcome(latencies_ms=[])

    def reusable() -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        while idle:
            reader, writer, since = idle.pop()
            if not reader.at_eof() and loop.time() - since < IDLE_REUSE_SECONDS:
                return reader, writer
            writer.close()  # closed by the server, or about to be
        return None

    async def one(i: int, due: float) -> None:
        async with slots:
            if (connection := reusable()) is not None:
                reader, writer = connection
            else:
                try:
                    reader, writer = await asyncio.open_connection(endpoint.host, endpoint.port)
                except OSError as error:
                    outcome.failed(f"connect: {error}")
                    return
                outcome.connections += 1
            keep = False
            try:
                writer.write(requests[i % len(requests)])
                status, keep = await asyncio.wait_for(
                    read_response(reader), REQUEST_TIMEOUT_SECONDS
                )
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ResponseError) as error:
                outcome.failed(f"{type(error).__name__}: {error}")
            else:
                if 200 <= status < 300:
                    outcome.latencies_ms.append((loop.time() - due) * 1000.0)
                else:
                    outcome.failed(f"HTTP {status}")
            if keep:
                idle.append((reader, writer, loop.time()))
            else:
                writer.close()

    count = round(rate * seconds)
    start = loop.time() + 0.1
    tasks = []
    for i in range(count):
        due = start + i / rate
        wait = due - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    for _, writer, _ in idle:
        writer.close()
    return outcome


def main(argv: Sequence[str] | None = None) -> None:
    """Run the spec file given as the only argument and print the result as one JSON line."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        raise SystemExit("usage: python -m bench.open_loop SPEC.json")
    spec: dict[str, Any] = json.loads(Path(args[0]).read_text())
    bodies = [line.encode() for line in Path(spec["bodies"]).read_text().splitlines() if line]
    if not bodies:
        raise SystemExit(f"{spec['bodies']} holds no request body")
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # the plain asyncio loop is slower, not wrong
        pass
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    outcome = asyncio.run(
        run(
            spec["url"],
            bodies,
            spec.get("headers", {}),
            rate=float(spec["rate"]),
            seconds=float(spec["seconds"]),
            max_connections=int(spec.get("max_connections", 64)),
        )
    )
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    client_cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (
        cpu_after.ru_stime - cpu_before.ru_stime
    )
    print(
        json.dumps(
            {
                "latencies_ms": [round(value, 3) for value in outcome.latencies_ms],
                "failures": outcome.failures,
                "first_failure": outcome.first_failure,
                "connections": outcome.connections,
                "client_cpu_seconds": round(client_cpu, 3),
                "wall_seconds": round(time.perf_counter() - started, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
