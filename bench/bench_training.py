"""Training end to end on 1,000,000 synthetic declarations (target: <= 5 min, issue 18; < 8 GiB).

The data is generated first (not timed), then `shiprisk train` runs in a child process so
that its wall time and peak memory are its own: validation, features, model selection on
validation, calibration, evaluation with baselines, MLflow tracking and registration.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench.machine import describe_machine
from bench.results import record_results

ROWS_PER_DAY = 2000
DAYS = 500  # 1,000,000 declarations from 2023-01-01
START = dt.date(2023, 1, 1)


def main() -> None:
    from training.synthetic import generate, training_config

    with tempfile.TemporaryDirectory(prefix="shiprisk-bench-train-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        paths = generate(root / "data", start=START, days=DAYS, seed=1, rows_per_day=ROWS_PER_DAY)
        generated = time.perf_counter() - started
        end = START + dt.timedelta(days=DAYS - 1)
        test_start = end - dt.timedelta(days=59)
        valid_start = test_start - dt.timedelta(days=60)
        config = training_config(
            paths,
            {
                "train": [START, valid_start - dt.timedelta(days=1)],
                "valid": [valid_start, test_start - dt.timedelta(days=1)],
                "test": [test_start, end],
            },
        )
        (root / "config.yaml").write_text(yaml.safe_dump(config))
        env = {
            **os.environ,
            "SHIPRISK_TRACKING_URI": f"sqlite:///{root / 'mlruns' / 'mlflow.db'}",
            "OMP_WAIT_POLICY": "PASSIVE",
        }
        env.pop("MLFLOW_TRACKING_URI", None)
        command = [
            sys.executable, "-m", "shiprisk.cli", "train",
            "--config", str(root / "config.yaml"),
            "--metrics-out", str(root / "metrics.json"),
        ]  # fmt: skip
        load_start = os.getloadavg()[0]
        started = time.perf_counter()
        subprocess.run(command, check=True, env=env, cwd=root)
        elapsed = time.perf_counter() - started
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        metrics = json.loads((root / "metrics.json").read_text())

    rows = [
        f"\n## Training end to end: 1,000,000 declarations "
        f"({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC)\n",
        f"Machine: {describe_machine()}; 1-minute load average {load_start:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end.\n",
        f"`shiprisk train` on {DAYS} days x {ROWS_PER_DAY} synthetic declarations "
        f"(generated in {generated:.0f} s, not counted), train/valid/test by date, "
        "registered in a fresh SQLite MLflow store.\n",
        "| measure | result | target |",
        "|---|---|---|",
        f"| wall time | {elapsed:.0f} s | <= 300 s |",
        f"| peak memory (max RSS of the process) | {peak_mib:,.0f} MiB | < 8,192 MiB |",
        f"| labelled test declarations | {metrics['n_test']:,} | |",
    ]
    for threat, values in metrics["threats"].items():
        rows.append(
            f"| {threat}: ROC-AUC / precision at 5% | "
            f"{values['roc_auc']:.3f} / {values['precision_at'].get('0.05', float('nan')):.3f} | |"
        )
        for baseline, per_threat in metrics.get("baselines", {}).items():
            other = per_threat.get(threat)
            if other:
                rows.append(
                    f"| {threat}, {baseline.replace('_', ' ')}: ROC-AUC / precision at 5% | "
                    f"{other['roc_auc']:.3f} / {other['precision_at'].get('0.05', float('nan')):.3f} | |"
                )
    text = "\n".join(rows) + "\n"
    record_results(text)


if __name__ == "__main__":
    main()
