"""Batch scoring of 1,000,000 declarations x 3 threats with top-5 reasons (issue 18's target:
at most 3 minutes on the 2-core machine), in one process and on a 2-worker local Dask cluster.

The data is 500 days x 2,000 synthetic declarations. The model is trained and registered on
its first 150 days (train, validation and test windows, so every threat gets a booster as in
production; training is not timed here, `bench_training` times it on the full million). Then
`shiprisk score` runs in a child process over the whole file, twice, side by side in one run:
once in one process, once with ``--dask local:2``; each wall time counts loading the bundle,
reading the Parquet input, validation, features, the three boosters, exact SHAP for the
reasons and writing the scores. Live intelligence is read from an empty operational store.
Results are appended to bench/RESULTS.md with the machine and load average.

Run with ``python -m bench batch``.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import yaml

from bench.machine import describe_machine
from bench.results import record_results

ROWS_PER_DAY = 2000
DAYS = 500  # 1,000,000 declarations from 2023-01-01
START = dt.date(2023, 1, 1)
TRAIN_DAYS, VALID_DAYS, TEST_DAYS = 90, 30, 30
TARGET_SECONDS = 180.0
MODEL_NAME = "shiprisk"


def _window(first: int, days: int) -> list[str]:
    return [
        (START + dt.timedelta(days=first)).isoformat(),
        (START + dt.timedelta(days=first + days - 1)).isoformat(),
    ]


def _score(
    env: dict[str, str], version: str, declarations: Path, output: Path, *dask: str
) -> float:
    """Wall seconds of one `shiprisk score` run in a child process."""
    command = [
        sys.executable, "-m", "shiprisk.cli", "score",
        "--input", str(declarations),
        "--output", str(output),
        "--model", f"models:/{MODEL_NAME}/{version}",
        "--top-k", "5",
        *dask,
    ]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def _rows(output: Path) -> int:
    """Rows written: one Parquet file, or a directory of Parquet parts (Dask)."""
    files = sorted(output.glob("*.parquet")) if output.is_dir() else [output]
    return sum(pq.ParquetFile(path).metadata.num_rows for path in files)


def main() -> None:
    from training.config import load_config
    from training.pipeline import train
    from training.synthetic import generate, training_config

    machine = describe_machine()  # with the load average at the start
    with tempfile.TemporaryDirectory(prefix="shiprisk-bench-batch-") as tmp:
        root = Path(tmp)
        print("generating 1,000,000 declarations ...", flush=True)
        paths = generate(root / "data", start=START, days=DAYS, seed=1, rows_per_day=ROWS_PER_DAY)
        split = {
            "train": _window(0, TRAIN_DAYS),
            "valid": _window(TRAIN_DAYS, VALID_DAYS),
            "test": _window(TRAIN_DAYS + VALID_DAYS, TEST_DAYS),
        }
        config = root / "config.yaml"
        config.write_text(yaml.safe_dump(training_config(paths, split)))
        tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
        print("training on the first 150 days ...", flush=True)
        trained = train(load_config(config), tracking_uri=tracking_uri, register=True)
        if trained.version is None:
            raise SystemExit("training registered no version")
        version = trained.version
        env = {
            **os.environ,
            "SHIPRISK_TRACKING_URI": tracking_uri,
            "MLFLOW_TRACKING_URI": tracking_uri,
            "SHIPRISK_DATABASE_URL": f"sqlite:///{root / 'store.db'}",
            "OMP_WAIT_POLICY": "PASSIVE",
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        }
        declarations = Path(paths["declarations"])
        print("scoring in one process ...", flush=True)
        one = _score(env, version, declarations, root / "scores.parquet")
        one_rows = _rows(root / "scores.parquet")
        print(f"  {one_rows} rows in {one:.1f} s", flush=True)
        print("scoring on Dask, 2 local workers ...", flush=True)
        on_dask = _score(env, version, declarations, root / "scores_dask", "--dask", "local:2")
        dask_rows = _rows(root / "scores_dask")
        print(f"  {dask_rows} rows in {on_dask:.1f} s", flush=True)
        threats = ", ".join(trained.bundle.threats)

    load_at_end = os.getloadavg()[0]
    lines = [
        f"\n## Batch scoring: {DAYS * ROWS_PER_DAY:,} declarations, top-5 reasons "
        f"({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC)\n",
        f"Machine: {machine}; load average {load_at_end:.2f} at the end.\n",
        f"`shiprisk score --top-k 5` over {DAYS} days x {ROWS_PER_DAY} synthetic declarations "
        f"(Parquet), with a model trained on the first {TRAIN_DAYS + VALID_DAYS + TEST_DAYS} "
        f"days ({threats}); live intelligence from an empty store. Wall time of the child "
        "process, bundle loading and writing included.\n",
        "| run | rows | wall time | rows/s | target |",
        "|---|---|---|---|---|",
        f"| one process | {one_rows:,} | {one:.0f} s | {one_rows / one:,.0f} | "
        f"<= {TARGET_SECONDS:.0f} s: {'met' if one <= TARGET_SECONDS else 'not met'} |",
        f"| Dask, `--dask local:2` | {dask_rows:,} | {on_dask:.0f} s | "
        f"{dask_rows / on_dask:,.0f} | no slower than one process: "
        f"{'met' if on_dask <= one else 'not met'} (ratio {on_dask / one:.2f}) |",
    ]
    section = "\n".join(lines) + "\n"
    record_results(section)


if __name__ == "__main__":
    main()
