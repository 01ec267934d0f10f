"""What a benchmark's numbers depend on: the machine they were measured on."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def _proc_field(path: str, key: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def cpu_model() -> str:
    """The CPU's model name, or the architecture when /proc/cpuinfo is not there."""
    return _proc_field("/proc/cpuinfo", "model name") or platform.processor() or platform.machine()


def memory_gib() -> float | None:
    """Total memory in GiB, from /proc/meminfo."""
    total = _proc_field("/proc/meminfo", "MemTotal")
    return int(total.split()[0]) / 2**20 if total else None


def describe_machine() -> str:
    """CPU, cores, memory, Python, OS and current load, in one line for RESULTS.md."""
    memory = memory_gib()
    parts = [
        cpu_model(),
        f"{os.cpu_count()} cores",
        f"{memory:.1f} GiB memory" if memory else "memory unknown",
        f"Python {platform.python_version()}",
        platform.platform(),
    ]
    if hasattr(os, "getloadavg"):
        parts.append(f"load average {os.getloadavg()[0]:.2f} at the start")
    return ", ".join(parts)
