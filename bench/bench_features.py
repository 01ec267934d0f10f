"""Feature builder benchmark: serving `transform` on 1, 1,000 and 100,000 rows, and
`transform_point_in_time`, for the current code and for the code before the serving lookups.

The serving API scores one declaration per request with a p99 budget of 20 ms, of which
LightGBM and exact SHAP take 3-5 ms, so `FeatureBuilder.transform` on one row must stay
within a few milliseconds; batches and training must not get slower for it.

Steps: synthetic declarations (400 days x 300 a day) are generated and validated through a
training configuration, as training reads them; a builder is fitted on the first 36,000
rows; each measurement then runs in a child process per implementation. The baseline is
`features/` as of commit ``BASELINE_COMMIT`` (the last one before the lookups), extracted
from git into a temporary directory and imported instead of the working tree's; it is
skipped, and said so, when git cannot provide it. Both children also write the features of
the same 1,000 rows, which must be identical bit for bit. Results are printed and appended
to bench/RESULTS.md.

Run with ``python -m bench features`` or ``python -m bench.bench_features``.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

from bench.machine import cpu_model
from bench.processes import measure_in_child
from bench.results import record_results

ROOT = Path(__file__).resolve().parent.parent
BASELINE_COMMIT = "17993f2"  # features/ before the indexed serving lookups
DAYS, ROWS_PER_DAY, SEED, START = 460, 300, 7, "2024-01-01"
FIT_ROWS = 36_000
BATCH_ROWS = 100_000
SINGLE_ROWS = {
    "current": 300,
    "baseline": 30,
}  # one-row calls timed (the baseline takes ~0.2 s each)
THREATS = ("weapons", "migrants", "revenue")


def prepare(directory: Path) -> int:
    """Generate, load and validate the synthetic tables; write them as Parquet frames."""
    from features.dataset import load_dataset
    from training.config import load_config
    from training.synthetic import TABLES, generate, training_config

    generate(directory / "raw", start=START, days=DAYS, seed=SEED, rows_per_day=ROWS_PER_DAY)
    raw = directory / "raw"
    config = directory / "config.yaml"
    tables = {table: raw / f"{table}.parquet" for table in TABLES}
    split = {
        "train": ["2024-01-01", "2024-04-29"],
        "valid": ["2024-04-30", "2024-06-30"],
        "test": ["2024-07-01", "2025-02-03"],
    }
    config.write_text(
        json.dumps(training_config(tables, split, evaluation={"inspection_rates": [0.01, 0.05]}))
    )
    dataset = load_dataset(load_config(config).source)
    dataset.declarations.to_parquet(directory / "declarations.parquet")
    dataset.labels.to_parquet(directory / "labels.parquet")
    dataset.watchlist.to_parquet(directory / "watchlist.parquet")
    return len(dataset.declarations)


def _timed(call: Any, repeats: int) -> list[float]:
    """Wall-clock seconds of each of ``repeats`` calls."""
    return [_wall_and_cpu(call)[0] for _ in range(repeats)]


def _wall_and_cpu(call: Any) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one call (CPU time suffers less from a busy machine)."""
    started, cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - started, time.process_time() - cpu


def measure(data: Path, implementation: str, output: Path) -> dict[str, Any]:
    """Fit, then time both transforms with whichever ``features`` package is importable."""
    import numpy as np
    import pandas as pd

    from features.builder import FeatureBuilder

    declarations = pd.read_parquet(data / "declarations.parquet")
    labels = pd.read_parquet(data / "labels.parquet")
    watchlist = pd.read_parquet(data / "watchlist.parquet")
    numbers: dict[str, Any] = {"load_average_start": os.getloadavg()[0]}
    started = time.perf_counter()
    builder = FeatureBuilder(THREATS).fit(
        declarations.iloc[:FIT_ROWS], labels.iloc[:FIT_ROWS], watchlist
    )
    numbers["fit_seconds"] = time.perf_counter() - started
    later = declarations.iloc[FIT_ROWS : FIT_ROWS + BATCH_ROWS]

    numbers["first_transform_ms"] = _timed(lambda: builder.transform(later.iloc[[0]]), 1)[0] * 1e3
    count = SINGLE_ROWS[implementation]
    step = len(later) // count
    singles = [later.iloc[[i * step]] for i in range(count)]
    one_row = [_timed(lambda frame=frame: builder.transform(frame), 1)[0] for frame in singles]
    numbers["one_row_ms"] = {
        "median": float(np.median(one_row)) * 1e3,
        "p99": float(np.percentile(one_row, 99)) * 1e3,
        "min": min(one_row) * 1e3,
        "calls": count,
    }
    thousand = later.iloc[:1000]
    numbers["thousand_rows_ms"] = float(np.median(_timed(lambda: builder.transform(thousand), 5)))
    numbers["thousand_rows_ms"] *= 1e3
    numbers["batch_rows"] = len(later)
    numbers["batch_seconds"] = min(
        _wall_and_cpu(lambda: builder.transform(later)) for _ in range(2)
    )
    fit_rows, fit_labels = declarations.iloc[:FIT_ROWS], labels.iloc[:FIT_ROWS]
    numbers["point_in_time_fit_rows_seconds"] = _wall_and_cpu(
        lambda: builder.transform_point_in_time(fit_rows, fit_labels)
    )
    numbers["point_in_time_rows"] = len(declarations)
    numbers["point_in_time_all_seconds"] = _wall_and_cpu(
        lambda: builder.transform_point_in_time(declarations, labels)
    )
    builder.transform(thousand).to_parquet(output / f"{implementation}_serving.parquet")
    builder.transform_point_in_time(fit_rows, fit_labels).iloc[::36].to_parquet(
        output / f"{implementation}_point_in_time.parquet"
    )
    numbers["load_average_end"] = os.getloadavg()[0]
    return numbers


def baseline_features(directory: Path) -> Path | None:
    """``features/`` as of BASELINE_COMMIT in ``directory``; None when git cannot give it."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", BASELINE_COMMIT, "features"],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        return None
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(directory, filter="data")
    return directory


def run_child(implementation: str, import_root: Path, data: Path) -> dict[str, Any]:
    """One measurement in a fresh process whose ``features`` package is ``import_root``'s."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(import_root), str(ROOT)])}
    environment.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return measure_in_child(
        [sys.executable, str(Path(__file__).resolve()), "--measure", str(data), implementation],
        cwd=data,
        env=environment,
        what=f"feature benchmark ({implementation})",
    )


def identical(data: Path, name: str) -> bool:
    """Whether the current and baseline features of the same rows are equal bit for bit."""
    import pandas as pd

    current = pd.read_parquet(data / f"current_{name}.parquet")
    baseline = pd.read_parquet(data / f"baseline_{name}.parquet")
    try:
        pd.testing.assert_frame_equal(current, baseline, check_exact=True)
    except AssertionError:
        return False
    return True


def section(results: dict[str, dict[str, Any]], rows: int, parity: str) -> str:
    """The Markdown section appended to RESULTS.md."""
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    cpu = cpu_model()
    names = [name for name in ("baseline", "current") if name in results]

    def row(label: str, value: Any) -> str:
        cells = " | ".join(value(results[name]) for name in names)
        return f"| {label} | {cells} |"

    current = results["current"]
    lines = [
        f"## Feature builder: serving transform and point-in-time ({date})",
        "",
        f"Machine: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        "shared with other work while it ran (1-minute load average at start/end of each "
        "measurement in the table). Each implementation runs in its own process.",
        "",
        f"Data: `training.synthetic.generate(days={DAYS}, rows_per_day={ROWS_PER_DAY}, "
        f"seed={SEED})` read through `features.dataset.load_dataset` ({rows:,} validated declarations); "
        f"builder fitted on the first {FIT_ROWS:,}; serving rows are the next ones.",
        f"Baseline: `features/` at commit {BASELINE_COMMIT} (before the indexed lookups).",
        "",
        f"| measurement | {' | '.join(names)} |",
        f"|---|{'---|' * len(names)}",
        row("fit", lambda r: f"{r['fit_seconds']:.1f} s"),
        row("first transform (builds the lookups)", lambda r: f"{r['first_transform_ms']:.0f} ms"),
        row(
            "transform, 1 row: median / p99 / min",
            lambda r: (
                f"{r['one_row_ms']['median']:.2f} / {r['one_row_ms']['p99']:.2f} / "
                f"{r['one_row_ms']['min']:.2f} ms ({r['one_row_ms']['calls']} calls)"
            ),
        ),
        row("transform, 1,000 rows (median of 5)", lambda r: f"{r['thousand_rows_ms']:.1f} ms"),
        row(
            f"transform, {current['batch_rows']:,} rows (best of 2): wall / CPU",
            lambda r: f"{r['batch_seconds'][0]:.2f} / {r['batch_seconds'][1]:.2f} s",
        ),
        row(
            f"point in time, {FIT_ROWS:,} fit rows: wall / CPU",
            lambda r: (
                f"{r['point_in_time_fit_rows_seconds'][0]:.2f} / "
                f"{r['point_in_time_fit_rows_seconds'][1]:.2f} s"
            ),
        ),
        row(
            f"point in time, all {current['point_in_time_rows']:,} rows: wall / CPU",
            lambda r: (
                f"{r['point_in_time_all_seconds'][0]:.2f} / "
                f"{r['point_in_time_all_seconds'][1]:.2f} s"
            ),
        ),
        row(
            "load average start / end",
            lambda r: f"{r['load_average_start']:.1f} / {r['load_average_end']:.1f}",
        ),
        "",
        parity,
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    """Prepare the data, measure current and baseline, print and append to RESULTS.md."""
    with tempfile.TemporaryDirectory(prefix="bench-features-") as temporary:
        data = Path(temporary)
        rows = prepare(data)
        results: dict[str, dict[str, Any]] = {}
        baseline = baseline_features(data / "baseline")
        if baseline is not None:
            results["baseline"] = run_child("baseline", baseline, data)
        results["current"] = run_child("current", ROOT, data)
        if baseline is None:
            parity = f"Baseline skipped: git could not provide commit {BASELINE_COMMIT}."
        else:
            same = {name: identical(data, name) for name in ("serving", "point_in_time")}
            parity = (
                "Features of the same 1,000 serving rows and of every 36th fit row in point in "
                "time: "
                + ("bit-identical to the baseline." if all(same.values()) else f"DIFFER: {same}")
            )
        text = section(results, rows, parity)
    record_results(text)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--measure"]:
        data_dir, implementation = Path(sys.argv[2]), sys.argv[3]
        print(json.dumps(measure(data_dir, implementation, data_dir)))
    else:
        main()
