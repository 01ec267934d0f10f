"""Retraining inside a simulation: the real training pipeline on what is known so far.

The closed-loop benches (`bench_loop`, `bench_tactic`) retrain every few weeks on the history
plus their own inspections' outcomes. `fit_bundle` writes those tables and a training
configuration, reads them back through `features.dataset.load_dataset` and fits with
`training.pipeline.fit_run` (no MLflow: a simulation only scores), so a bench trains exactly
as `shiprisk train` does, on a small, fast model configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

# One size, no feature-group selection, inverse-propensity weights: a retrain in seconds.
FAST_MODEL: dict[str, Any] = {
    "num_threads": 1,
    "sizes": ["small"],
    "num_boost_round": 300,
    "select_groups": False,
    "propensity_weights": True,
}


def _window(first: date, last: date) -> list[str]:
    return [first.isoformat(), last.isoformat()]


def fit_bundle(
    work: Path,
    declarations: pd.DataFrame,
    outcomes: pd.DataFrame,
    watchlist_path: Path,
    *,
    start: date,
    today: date,
    model: Mapping[str, Any] = FAST_MODEL,
) -> Any:
    """A bundle fitted on everything known before ``today`` (declarations from ``start``).

    The last three weeks before ``today`` are the validation (two weeks) and test (one week)
    windows, the rest trains.
    """
    from features.dataset import load_dataset
    from training.config import load_config
    from training.fit import FitSettings
    from training.pipeline import fit_run

    folder = work / f"train-{today.isoformat()}"
    folder.mkdir(parents=True)
    declarations.to_parquet(folder / "declarations.parquet", index=False)
    outcomes.to_parquet(folder / "outcomes.parquet", index=False)
    config = {
        "source": {
            "declarations": str(folder / "declarations.parquet"),
            "outcomes": str(folder / "outcomes.parquet"),
            "watchlist": str(watchlist_path),
            "columns": {},
        },
        "split": {
            "train": _window(start, today - timedelta(days=22)),
            "valid": _window(today - timedelta(days=21), today - timedelta(days=8)),
            "test": _window(today - timedelta(days=7), today - timedelta(days=1)),
        },
        "evaluation": {"inspection_rates": [0.05]},
        "model": dict(model),
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    training_config = load_config(folder / "config.yaml")
    dataset = load_dataset(training_config.source)
    run = fit_run(training_config, dataset, FitSettings.from_config(training_config.model))
    return run.bundle
