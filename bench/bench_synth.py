"""Synthetic data benchmark: 1,000,000 declarations generated, written and validated.

The measurement runs in a child process so that its peak resident memory
(`resource.getrusage`) is the generator's own, not that of benchmarks run before it in the
same `python -m bench`. Steps timed: simulation (frames in memory), writing the four tables
as Parquet, and validation of declarations, outcomes and watchlist through
`features.validation`. Peak memory is read after simulation and again at the end; a
second, smaller run under `tracemalloc` shows the Python/numpy allocation peak per
declaration. Results are appended to bench/RESULTS.md with a description of the machine.

Run with ``python -m bench synth`` or ``python -m bench.bench_synth``.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.machine import cpu_model, memory_gib
from bench.processes import measure_in_child
from bench.results import record_results

DAYS, ROWS_PER_DAY, SEED = 2000, 500, 0
TRACED_DAYS = 200  # the tracemalloc run: a tenth of the rows (tracing slows allocation down)
START = "2019-01-01"


def _peak_rss_mib() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure() -> dict[str, Any]:
    """Generate, write and validate; return timings, sizes and memory peaks."""
    from features.validation import validate_declarations, validate_outcomes, validate_watchlist
    from training.synthetic import simulate, write_tables

    numbers: dict[str, Any] = {"declarations_requested": DAYS * ROWS_PER_DAY}
    started = time.perf_counter()
    data = simulate(start=START, days=DAYS, seed=SEED, rows_per_day=ROWS_PER_DAY)
    numbers["simulate_seconds"] = time.perf_counter() - started
    numbers["peak_rss_after_simulate_mib"] = _peak_rss_mib()
    numbers["declarations"] = len(data.declarations)
    numbers["outcomes"] = len(data.outcomes)
    numbers["watchlist"] = len(data.watchlist)
    numbers["positives"] = {t: int(data.truth[t].sum()) for t in ("weapons", "migrants", "revenue")}

    with tempfile.TemporaryDirectory(prefix="bench-synth-") as directory:
        started = time.perf_counter()
        paths = write_tables(data, directory, "parquet")
        numbers["write_parquet_seconds"] = time.perf_counter() - started
        numbers["parquet_mib"] = {name: path.stat().st_size / 2**20 for name, path in paths.items()}

    started = time.perf_counter()
    declarations = validate_declarations(data.declarations)
    validate_outcomes(data.outcomes, known_declaration_ids=declarations["declaration_id"])
    validate_watchlist(data.watchlist)
    numbers["validate_seconds"] = time.perf_counter() - started
    numbers["validation"] = "passed"
    numbers["peak_rss_mib"] = _peak_rss_mib()
    del data

    tracemalloc.start()
    simulate(start=START, days=TRACED_DAYS, seed=SEED, rows_per_day=ROWS_PER_DAY)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    numbers["tracemalloc_rows"] = TRACED_DAYS * ROWS_PER_DAY
    numbers["tracemalloc_peak_mib"] = traced_peak / 2**20
    return numbers


def machine() -> dict[str, str]:
    """CPU model, cores, memory, Python and OS of this machine."""
    memory = memory_gib()
    return {
        "cpu": cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": f"{memory:.1f} GiB" if memory else "unknown",
        "python": platform.python_version(),
        "os": platform.platform(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def section(numbers: dict[str, Any], host: dict[str, str]) -> str:
    """The Markdown section appended to RESULTS.md."""
    total = (
        numbers["simulate_seconds"] + numbers["write_parquet_seconds"] + numbers["validate_seconds"]
    )
    sizes = ", ".join(f"{name} {size:.1f}" for name, size in numbers["parquet_mib"].items())
    positives = ", ".join(f"{name} {count}" for name, count in numbers["positives"].items())
    validate = f"{numbers['validate_seconds']:.1f} s ({numbers['validation']})"
    lines = [
        f"## Synthetic data: {numbers['declarations']:,} declarations ({host['date']})",
        "",
        f"Machine: {host['cpu']}, {host['cores']} cores, {host['memory']} memory, Python "
        f"{host['python']}, {host['os']}. The machine was shared with other work while it ran.",
        "",
        f"`training.synthetic.simulate(days={DAYS}, rows_per_day={ROWS_PER_DAY}, seed={SEED})`, "
        "then the four tables written as Parquet, then validated by `features.validation`.",
        "",
        "| step | result |",
        "|---|---|",
        f"| simulate (frames in memory) | {numbers['simulate_seconds']:.1f} s |",
        f"| write Parquet | {numbers['write_parquet_seconds']:.1f} s ({sizes} MiB) |",
        f"| validate declarations, outcomes, watchlist | {validate} |",
        f"| total | {total:.1f} s |",
        f"| peak RSS after simulate | {numbers['peak_rss_after_simulate_mib']:,.0f} MiB |",
        f"| peak RSS at the end (getrusage) | {numbers['peak_rss_mib']:,.0f} MiB |",
        f"| tracemalloc peak, {numbers['tracemalloc_rows']:,} rows | "
        f"{numbers['tracemalloc_peak_mib']:,.0f} MiB |",
        f"| tables | {numbers['outcomes']:,} inspected, {numbers['watchlist']:,} watchlist entries |",
        f"| hidden positives | {positives} |",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    """Measure in a child process and append the results to bench/RESULTS.md."""
    root = Path(__file__).resolve().parent.parent
    numbers = measure_in_child(
        [sys.executable, "-m", "bench.bench_synth", "--measure"],
        cwd=root,
        what="synthetic benchmark",
    )
    text = section(numbers, machine())
    record_results(text)


if __name__ == "__main__":
    if sys.argv[1:] == ["--measure"]:
        print(json.dumps(measure()))
    else:
        main()
