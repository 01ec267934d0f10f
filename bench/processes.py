"""Child processes of the benchmarks: a measurement run apart, a server stopped."""

from __future__ import annotations

import json
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
