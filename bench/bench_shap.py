"""Exact SHAP: ``models.treeshap`` against LightGBM's ``pred_contrib``, side by side.

For each tree shape (max depth 4, 6, 7, 8 and one deep case), three boosters (one per
threat, each on its own label) are trained on random data with numeric, categorical and
missing values. Then, in one process and alternating call by call so both see the same
machine load:

- batch: ``ROWS`` rows x 3 threats on 2 threads, ``ROUNDS`` rounds; wall and CPU time;
- single row (the API's case, one thread): ``SINGLE_CALLS`` calls of each, median and p99.

The ratio is pred_contrib's time over the kernel's, per round, then the median. Every batch is
also checked for equality (max absolute difference). The one-time cost (tables and loading
or compiling the kernel) is measured in child processes with an empty and a filled numba
cache. Results are printed and appended to bench/RESULTS.md with the machine and its load.

Run with ``python -m bench shap`` or ``python -m bench.bench_shap``; ``SHAP_BENCH_ROWS``,
``SHAP_BENCH_ROUNDS`` and ``SHAP_BENCH_DEPTHS`` (e.g. ``4,7``: the shapes of those max depths)
shrink it on a busy machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.machine import describe_machine
from bench.results import record_results

# As `shiprisk` runs (shiprisk/cli.py): idle OpenMP threads of LightGBM's 2-thread batch
# must sleep, not spin on the cores the next measurement runs on. Set before lightgbm loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parent.parent
ROWS = int(os.environ.get("SHAP_BENCH_ROWS", "1000"))
ROUNDS = int(os.environ.get("SHAP_BENCH_ROUNDS", "5"))
SINGLE_CALLS = 200
THREADS = 2
TREES = 100
THREATS = ("weapons", "migrants", "revenue")
# name: (max_depth, num_leaves, min_data_in_leaf); 4/6/7 are training's small/medium/large.
SHAPES: dict[str, tuple[int, int, int]] = {
    "depth 4, 15 leaves": (4, 15, 40),
    "depth 6, 31 leaves": (6, 31, 25),
    "depth 7, 63 leaves": (7, 63, 15),
    "depth 8, 127 leaves": (8, 127, 10),
    "deep: depth <= 24, 63 leaves": (24, 63, 2),
}


def chosen_shapes() -> dict[str, tuple[int, int, int]]:
    """The shapes whose max depth ``SHAP_BENCH_DEPTHS`` lists (all when it is not set)."""
    depths = os.environ.get("SHAP_BENCH_DEPTHS", "")
    if not depths:
        return SHAPES
    wanted = {int(d) for d in depths.split(",")}
    return {name: shape for name, shape in SHAPES.items() if shape[0] in wanted}


def data(rows: int, seed: int) -> tuple[Any, dict[str, Any]]:
    """20 features: two categorical, NaN in three, zeros in one; one label per threat."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 20))
    X[:, 0] = rng.integers(0, 60, rows)
    X[:, 1] = rng.integers(0, 8, rows)
    for column, share in ((2, 0.15), (3, 0.05), (9, 0.3)):
        X[rng.random(rows) < share, column] = np.nan
    X[rng.random(rows) < 0.3, 4] = 0.0
    base = np.nan_to_num(X, nan=-1.0)
    signals = {
        "weapons": (X[:, 0] % 7 == 0) * 2.0 + base[:, 2] * base[:, 5] + base[:, 6],
        "migrants": (X[:, 1] == 3) * 1.5 + np.sin(3 * base[:, 7]) + base[:, 8] * base[:, 9],
        "revenue": base[:, 10] - base[:, 11] ** 2 + (X[:, 4] == 0) + base[:, 12] * base[:, 3],
    }
    labels = {
        t: (s + rng.normal(size=rows) > np.median(s)).astype(float) for t, s in signals.items()
    }
    return X, labels


def boosters(shape: tuple[int, int, int]) -> dict[str, Any]:
    import lightgbm as lgb

    depth, leaves, min_leaf = shape
    X, labels = data(30_000, seed=1)
    params = {
        "objective": "binary",
        "max_depth": depth,
        "num_leaves": leaves,
        "min_data_in_leaf": min_leaf,
        "learning_rate": 0.05,
        "verbose": -1,
        "num_threads": THREADS,
        "seed": 1,
    }
    return {
        threat: lgb.train(params, lgb.Dataset(X, labels[threat], categorical_feature=[0, 1]), TREES)
        for threat in THREATS
    }


def _timed(call: Callable[[], Any]) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def measure(name: str, shape: tuple[int, int, int]) -> dict[str, Any]:
    from models.explain import prepare, shap_values, tree_shap

    models = boosters(shape)
    started = time.perf_counter()
    prepare(models.values())
    prepared = time.perf_counter() - started
    X, _ = data(ROWS, seed=2)
    kernels = [tree_shap(b) for b in models.values()]
    depth = max(k.max_depth for k in kernels if k is not None)
    leaves = sum(len(k.leaf_depth) for k in kernels if k is not None)
    table_mib = (
        sum(
            k.e_table.nbytes + k.vz_table.nbytes + k.full_table.nbytes
            for k in kernels
            if k is not None
        )
        / 2**20
    )

    def reference(rows: Any, threads: int) -> list[Any]:
        return [b.predict(rows, pred_contrib=True, num_threads=threads) for b in models.values()]

    def kernel(rows: Any, threads: int) -> list[Any]:
        return [np.column_stack(shap_values(b, rows, num_threads=threads)) for b in models.values()]

    ratios, cpu_ratios, walls, worst = [], [], [], 0.0
    for _ in range(ROUNDS):  # alternate: the same load for both
        ref_wall, ref_cpu, expected = _timed(lambda: reference(X, THREADS))
        own_wall, own_cpu, got = _timed(lambda: kernel(X, THREADS))
        worst = max(
            worst, *(float(np.abs(a - b).max()) for a, b in zip(got, expected, strict=True))
        )
        ratios.append(ref_wall / own_wall)
        cpu_ratios.append(ref_cpu / own_cpu)
        walls.append((ref_wall, own_wall))
    single_ref, single_own = [], []
    for i in range(SINGLE_CALLS):
        row = X[i : i + 1]
        single_ref.append(_timed(lambda row=row: reference(row, 1))[0])
        single_own.append(_timed(lambda row=row: kernel(row, 1))[0])
    ref_ms, own_ms = np.array(single_ref) * 1e3, np.array(single_own) * 1e3
    return {
        "name": name,
        "max_path_features": depth,
        "leaves": leaves,
        "table_mib": table_mib,
        "prepare_s": prepared,
        "batch_ref_s": float(np.median([w[0] for w in walls])),
        "batch_own_s": float(np.median([w[1] for w in walls])),
        "batch_ratio": float(np.median(ratios)),
        "batch_ratio_range": (min(ratios), max(ratios)),
        "cpu_ratio": float(np.median(cpu_ratios)),
        "single_ref_ms": (float(np.median(ref_ms)), float(np.percentile(ref_ms, 99))),
        "single_own_ms": (float(np.median(own_ms)), float(np.percentile(own_ms, 99))),
        "single_ratio": float(np.median(ref_ms / own_ms)),
        "max_abs_diff": worst,
        "load": os.getloadavg()[0],
    }


ONE_TIME = textwrap.dedent(
    """
    import time
    started = time.perf_counter()
    import numpy as np
    from models.treeshap import TreeShap
    from bench.bench_shap import boosters, SHAPES
    models = boosters(SHAPES["depth 7, 63 leaves"])
    ready = time.perf_counter()
    kernels = [TreeShap.from_booster(b) for b in models.values()]
    tables = time.perf_counter()
    for k in kernels:
        k.contributions(np.zeros((1, k.num_features)))
    print(tables - ready, time.perf_counter() - tables)
    """
)


def one_time_cost() -> dict[str, tuple[float, float]]:
    """Seconds for the tables and for the first run, with an empty then a filled numba cache."""
    out: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": str(ROOT)}
        for label in ("empty cache (compiles)", "filled cache (loads)"):
            result = subprocess.run(
                [sys.executable, "-c", ONE_TIME],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            tables, first = (float(v) for v in result.stdout.split())
            out[label] = (tables, first)
    return out


def report(results: list[dict[str, Any]], once: dict[str, tuple[float, float]], start: str) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## Exact SHAP: numba TreeSHAP kernel vs LightGBM pred_contrib ({now})",
        "",
        f"Machine: {start}; load average {os.getloadavg()[0]:.2f} at the end.",
        "",
        f"`python -m bench shap`: per shape, 3 boosters (one per threat) of {TREES} trees on "
        "random data (20 features, 2 categorical, NaN in 3, zeros in 1). Batch: "
        f"{ROWS:,} rows x 3 threats on {THREADS} threads, {ROUNDS} rounds alternating "
        "pred_contrib and the kernel (ratio per round, median and range). Single row: "
        f"{SINGLE_CALLS} one-row calls x 3 threats on 1 thread, alternating (the API's case). "
        "Ratio = pred_contrib time / kernel time (through `models.explain.shap_values`).",
        "",
        "| trees | leaves (3 threats) | max unique path features | tables MiB | batch pred_contrib s | "
        "batch kernel s | batch ratio (range) | CPU ratio | 1 row pred_contrib ms (p50/p99) | "
        "1 row kernel ms (p50/p99) | 1 row ratio | max abs diff | load |",
        "|---|---:|---:|---:|---:|---:|---|---:|---|---|---:|---:|---:|",
    ]
    for r in results:
        low, high = r["batch_ratio_range"]
        lines.append(
            f"| {r['name']} | {r['leaves']:,} | {r['max_path_features']} | {r['table_mib']:.1f} | "
            f"{r['batch_ref_s']:.2f} | {r['batch_own_s']:.2f} | "
            f"{r['batch_ratio']:.1f}x ({low:.1f}-{high:.1f}) | {r['cpu_ratio']:.1f}x | "
            f"{r['single_ref_ms'][0]:.2f} / {r['single_ref_ms'][1]:.2f} | "
            f"{r['single_own_ms'][0]:.2f} / {r['single_own_ms'][1]:.2f} | "
            f"{r['single_ratio']:.1f}x | {r['max_abs_diff']:.1e} | {r['load']:.1f} |"
        )
    lines += [
        "",
        "One-time cost per process, 3 boosters of depth 7 (63 leaves, 100 trees each):",
        "",
    ]
    lines += ["| numba cache | tables s | first run s (load or compile) |", "|---|---:|---:|"]
    lines += [f"| {label} | {t:.2f} | {f:.2f} |" for label, (t, f) in once.items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    start = describe_machine()
    print(start, flush=True)
    once = one_time_cost()
    print(once, flush=True)
    results = []
    for name, shape in chosen_shapes().items():
        results.append(measure(name, shape))
        print(results[-1], flush=True)
    text = report(results, once, start)
    record_results(text)


if __name__ == "__main__":
    main()
