"""Cores this process may use: the one count that sizes LightGBM threads and Dask workers.

Imports nothing heavy, so settings modules can read it.
"""

from __future__ import annotations

import os


def available_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
