"""Where the benchmarks record their numbers: bench/RESULTS.md, one section per run."""

from __future__ import annotations

from pathlib import Path

RESULTS_FILE = Path(__file__).with_name("RESULTS.md")


def record_results(section: str) -> None:
    """Print one run's Markdown section and append it to bench/RESULTS.md (begun with its
    title when it is not there yet), one blank line before it."""
    print(section)
    previous = (
        RESULTS_FILE.read_text(encoding="utf-8")
        if RESULTS_FILE.exists()
        else "# Benchmark results\n"
    )
    RESULTS_FILE.write_text(previous.rstrip("\n") + "\n\n" + section.lstrip("\n"), encoding="utf-8")
