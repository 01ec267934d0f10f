"""The model against logistic regression and rules on each threat, as the data grows.

Issue 14 asks for a model that beats both baselines on each threat by more than the bootstrap
interval of the difference. At the test suite's size (100 days x 300 declarations) the
training window holds 14 weapons and 11 migrants labelled positives, and the intervals of the
differences are wider than the differences. This benchmark trains the same configuration as
the test (`tests/training/test_domain_behaviour.py`: sizes small and medium, 300 rounds, one
thread) on the same 100 days and split with 1x, 2x, 4x and 8x the declarations per day, and
compares, per threat, the model's mean precision at 1/2/5/10% of every test declaration
(against the hidden truth) with each baseline's: the difference and its paired-bootstrap 95%
interval (`training.intervals.paired_precision_difference`, 300 resamples, seed 0). Nothing
is tuned here: the generator, the model and the baselines are the project's own, and the data
seed is the suite's.

What it showed (bench/RESULTS.md, 2026-12-02): more data separates the model from the rules
on every threat and from the regression on revenue and migrants; against the regression on
weapons the model is level. At 8x (70-87 weapons and migrants training positives) migrants
and revenue are beyond both baselines on both seeds; weapons is beyond the rules, and against
the regression narrowly beyond on seed 11 and level on seed 12. The regression is a strong
baseline on this data: the generator plants each scheme as a bundle of individually telling
indicators (disguise codes, parcels to first-time consignees, light loads, night crossings,
the network's repeat vehicles), which a linear model over the same features ranks nearly as
well as trees. Choices of the model checked on the way (2x, seed 11): without group selection
weapons 0.040 (0.043 with), migrants 0.064 (0.061), revenue 0.303 (0.337); with the large size
allowed weapons 0.044, the others unchanged; early stopping keeps 50-290 trees. None of them
is a gain beyond noise, so none was changed.

Run with ``python -m bench baselines`` (every run of ``RUNS``; 22 minutes at a load average
of 10-15 on 2 cores, most of it the 4x and 8x runs) or ``python -m bench.bench_baselines 1 8:12``
(the multiples named, each with its seed when not the suite's).
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.machine import describe_machine
from bench.results import record_results

START = "2024-01-01"
DAYS = 100
ROWS_PER_DAY = 300  # the test suite's size (tests/conftest.py)
SEED = 11  # the test suite's data seed
# (multiple of ROWS_PER_DAY, data seed): the suite's seed at each size, and a second seed at
# the largest, so a claim made there does not rest on one draw.
RUNS: tuple[tuple[int, int], ...] = ((1, SEED), (2, SEED), (4, SEED), (8, SEED), (8, 12))
SPLIT = {
    "train": ["2024-01-01", "2024-02-29"],
    "valid": ["2024-03-01", "2024-03-25"],
    "test": ["2024-03-26", "2024-04-09"],
}
# The test suite's model (tests/conftest.py FAST_MODEL); its own intervals are not needed.
MODEL: dict[str, Any] = {
    "num_threads": 1,
    "sizes": ["small", "medium"],
    "num_boost_round": 300,
    "bootstrap_resamples": 0,
}
RATES = (0.01, 0.02, 0.05, 0.1)
BASELINES = ("logistic_regression", "rules")


@dataclass
class Comparison:
    """One data size: positives per window, the model's choices and the paired differences."""

    rows_per_day: int
    seed: int
    seconds: float
    positives: dict[str, dict[str, int]]  # threat -> train/valid labelled, test true cases
    chosen: dict[str, str]  # threat -> size, trees, selection note
    # threat -> baseline -> paired_precision_difference's result
    compared: dict[str, dict[str, dict[str, Any]]]


def compare(
    tables: Mapping[str, Path],
    truth: pd.DataFrame,
    *,
    split: Mapping[str, list[str]] = SPLIT,
    model: Mapping[str, Any] = MODEL,
    rates: Sequence[float] = RATES,
) -> tuple[dict[str, dict[str, dict[str, Any]]], Any, Any, dict[str, np.ndarray]]:
    """Train once on ``tables``; per threat and baseline, the paired difference on the truth.

    Returns the comparisons, the fitted run, the dataset and the windows' positions.
    """
    from features.dataset import load_dataset
    from training.config import TrainingConfig
    from training.fit import FitSettings
    from training.intervals import Bootstrap, paired_precision_difference
    from training.pipeline import fit_run
    from training.splits import split_positions, windows_from_config
    from training.synthetic import training_config

    config = TrainingConfig.model_validate(
        training_config(
            dict(tables),
            split,
            evaluation={"inspection_rates": list(rates)},
            model=dict(model),
        )
    )
    dataset = load_dataset(config.source)
    run = fit_run(config, dataset, FitSettings.from_config(config.model))
    positions = split_positions(
        dataset.declarations, dataset.labels, windows_from_config(config.split)
    )
    test = positions["test"]
    hidden = truth.set_index("declaration_id").loc[
        dataset.declarations["declaration_id"].iloc[test]
    ]
    rankings = run.test_rankings
    compared: dict[str, dict[str, dict[str, Any]]] = {}
    for threat in rankings["shiprisk"]:
        y = hidden[threat].to_numpy(dtype=float)
        compared[threat] = {
            baseline: paired_precision_difference(
                y, rankings["shiprisk"][threat], rankings[baseline][threat], rates, Bootstrap()
            )
            for baseline in BASELINES
        }
    return compared, run, dataset, positions


def measure(rows_per_day: int, seed: int = SEED) -> Comparison:
    """Generate ``DAYS`` x ``rows_per_day`` declarations, train, compare on the test window."""
    from features.schema import label_column
    from training.synthetic import generate

    with tempfile.TemporaryDirectory(prefix="shiprisk-bench-baselines-") as tmp:
        paths = generate(Path(tmp), start=START, days=DAYS, seed=seed, rows_per_day=rows_per_day)
        truth = pd.read_parquet(paths["truth"])
        started = time.perf_counter()
        compared, run, dataset, positions = compare(paths, truth)
        seconds = time.perf_counter() - started
    positives, chosen = {}, {}
    for threat, by_baseline in compared.items():
        labels = dataset.labels[label_column(threat)].to_numpy(dtype=float)
        positives[threat] = {
            "train": int(np.nansum(labels[positions["train"]])),
            "valid": int(np.nansum(labels[positions["valid"]])),
            "test": next(iter(by_baseline.values()))["positives"],
        }
        selection = run.selection[threat]
        trees = [trial["best_iteration"] for trial in selection["trials"]]
        dropped = ", ".join(selection["dropped_groups"]) or "none"
        chosen[threat] = (
            f"{selection['size']}, no selection (few validation positives)"
            if selection["note"]
            else f"{selection['size']}, {min(trees)}-{max(trees)} trees in "
            f"{len(selection['trials'])} trials, dropped: {dropped}"
        )
    return Comparison(rows_per_day, seed, seconds, positives, chosen, compared)


def _cell(result: Mapping[str, Any]) -> str:
    lo, hi = result["interval"]
    beyond = " **beyond**" if lo is not None and lo > 0 else ""
    return f"{result['difference']:+.3f} [{lo:.3f}, {hi:.3f}]{beyond}"


def table(comparisons: Sequence[Comparison]) -> list[str]:
    """One Markdown row per data size and threat."""
    rows = [
        "| declarations per day | seed | threat | positives: train / valid labelled, test true "
        "| model chosen | model | regression | rules | model - regression [95%] "
        "| model - rules [95%] |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in comparisons:
        for threat, by_baseline in c.compared.items():
            n = c.positives[threat]
            logistic, rules = by_baseline["logistic_regression"], by_baseline["rules"]
            rows.append(
                f"| {c.rows_per_day} | {c.seed} | {threat} | {n['train']} / {n['valid']} / {n['test']} "
                f"| {c.chosen[threat]} | {logistic['candidate']:.3f} "
                f"| {logistic['champion']:.3f} | {rules['champion']:.3f} "
                f"| {_cell(logistic)} | {_cell(rules)} |"
            )
    return rows


def main(runs: Sequence[tuple[int, int]] = RUNS) -> None:
    comparisons = []
    started = time.perf_counter()
    machine = describe_machine()
    for multiple, seed in runs:
        comparisons.append(measure(ROWS_PER_DAY * multiple, seed))
        print(
            f"{ROWS_PER_DAY * multiple} per day, seed {seed}: {comparisons[-1].seconds:.0f} s",
            flush=True,
        )
    elapsed = time.perf_counter() - started
    lines = [
        f"\n## The model against logistic regression and rules, per threat and data size "
        f"({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC)\n",
        f"Machine: {machine}.\n",
        f"`python -m bench baselines`: synthetic data, {DAYS} days from {START} at "
        f"{', '.join(f'{ROWS_PER_DAY * m} (seed {seed})' for m, seed in runs)} declarations "
        f"per day; split "
        f"{SPLIT['train'][0]}..{SPLIT['train'][1]} / {SPLIT['valid'][0]}..{SPLIT['valid'][1]} / "
        f"{SPLIT['test'][0]}..{SPLIT['test'][1]}; the test suite's model configuration. "
        f"Mean precision at {'/'.join(f'{r:.0%}' for r in RATES)} of every test declaration "
        f"against the hidden truth; difference with paired-bootstrap 95% interval (300 "
        f"resamples, seed 0), **beyond** where the interval excludes 0. "
        f"{elapsed:.0f} s in all ({', '.join(f'{c.seconds:.0f}' for c in comparisons)} s "
        f"of training and evaluation per size).\n",
        *table(comparisons),
    ]
    record_results("\n".join(lines) + "\n")


if __name__ == "__main__":
    # Arguments: multiples of ROWS_PER_DAY, each optionally with its seed ("8:12").
    asked = [arg.split(":") for arg in sys.argv[1:]]
    main([(int(a[0]), int(a[1]) if len(a) > 1 else SEED) for a in asked] or RUNS)
