"""Child processes of the benchmarks: a measurement run apart, a server stopped."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def measure_in_child(
    command: Sequence[str], *, cwd: Path, what: str, env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Runs a measurement in a fresh process and returns the JSON of its last output line.

    A fresh process keeps one benchmark's imports and caches out of another's numbers.
    """
    child = subprocess.run(
        list(command), cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if child.returncode != 0:
        raise SystemExit(f"{what} failed:\n{child.stderr}")
    return dict(json.loads(child.stdout.strip().splitlines()[-1]))


def stop(process: subprocess.Popen[Any], timeout: float) -> None:
    """Asks a server to stop, and kills it when it has not within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def process_tree_cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of process ``pid`` and its descendants (Linux).

    Read from /proc: a server's workers are its children, so the tree is the whole server.
    Each process counts its own time and that of its children that ended and were waited for
    (a worker that was replaced), so nothing is counted twice.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    cpu: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # the process ended while being read
            continue
        # The command name, in parentheses, may hold spaces: the fields follow the last ")".
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
        cpu[int(entry.name)] = sum(int(field) for field in fields[11:15])
    if pid not in cpu:
        raise ProcessLookupError(f"no process {pid}")
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, of in parents.items() if of == parent]
        tree.update(children)
        frontier.extend(children)
    return sum(cpu[member] for member in tree) / ticks
