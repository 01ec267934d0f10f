"""`shiprisk serve` in processes of its own, for the tests of real servers.

`serving(...)` starts one or more `shiprisk serve` processes at once (their startups overlap,
which matters on a shared 2-core machine), waits until each answers /readyz, and stops them
afterwards. A process that exits or never gets ready fails the test with the end of its log.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.processes import stop

READY_SECONDS = 120


def free_port() -> int:
    """A TCP port nobody listens on now, on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def shiprisk_command(*arguments: str) -> list[str]:
    """The `shiprisk` command line, run by this interpreter (so PYTHONPATH's code is used)."""
    return [sys.executable, "-m", "shiprisk.cli", *arguments]


def log_tail(path: Path, lines: int = 40) -> str:
    """The last lines of a process's log, for a failure message."""
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass(frozen=True)
class ServeProcess:
    """One running `shiprisk serve`: its process, base URL and log file."""

    process: subprocess.Popen[bytes]
    base_url: str
    log: Path


def _wait_ready(server: ServeProcess, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(
                f"shiprisk serve exited with {server.process.returncode}:\n{log_tail(server.log)}"
            )
        try:
            if httpx.get(f"{server.base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(
        f"shiprisk serve not ready after {READY_SECONDS} s:\n{log_tail(server.log)}"
    )


@contextmanager
def serving(
    count: int, *, env: Mapping[str, str], log_dir: Path, arguments: Sequence[str] = ()
) -> Iterator[list[ServeProcess]]:
    """``count`` `shiprisk serve` processes on free ports, each ready; stopped on exit.

    ``env`` is the processes' whole environment; ``arguments`` go after ``serve --port N``.
    """
    with ExitStack() as stack:
        servers = []
        for index in range(count):
            port = free_port()
            log = log_dir / f"serve-{index}.log"
            output = stack.enter_context(log.open("wb"))
            process = subprocess.Popen(
                shiprisk_command("serve", "--port", str(port), *arguments),
                env=dict(env),
                stdout=output,
                stderr=subprocess.STDOUT,
            )
            stack.callback(stop, process, 20)
            servers.append(ServeProcess(process, f"http://127.0.0.1:{port}", log))
        deadline = time.monotonic() + READY_SECONDS
        for server in servers:
            _wait_ready(server, deadline)
        yield servers


def environment(**overrides: str | None) -> dict[str, str]:
    """This process's environment with ``overrides`` set (None removes a variable)."""
    env = dict(os.environ)
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env
