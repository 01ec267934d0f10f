"""Calibration against the hidden truth, before and after the selection-bias correction.

The synthetic generator writes every declaration's true threat state (`truth`), which no
training run reads. A bundle's risk is compared with it on *all* declarations of the test
window, inspected or not: the expected calibration error per threat (equal-count bins of the
risk) and the ratio of the mean risk to the true rate. "Before" is the calibration fitted on
the inspected declarations as they are (the code before issue 14); "after" is the same fit
weighted by inverse selection probability (`training.weighting`). The boosters are the same.

Two ways past selection can choose the inspections:

- ``rules``: the generator's own selection, rules over what a declaration shows plus a random
  share. The model sees every variable the rules used, so the chance of a finding given what
  it sees hardly depends on whether a rule picked it.
- ``intelligence``: the same declarations, re-inspected as intelligence-led selection would:
  tips make a declaration that really carries a threat far likelier to be inspected, for
  reasons no feature shows, besides a small random share; every probability is recorded and
  inspections find what is there. This is the bias of issue 14: without the correction the
  risk is a rate among the inspected, inflated for ordinary traffic.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.machine import describe_machine
from bench.results import record_results

DAYS = 150
ROWS_PER_DAY = 400
START = dt.date(2024, 1, 1)
SEED = 5
# Intelligence-led selection: a small random share, and tips on what is really there.
RANDOM_SHARE = 0.02
TIPPED = 0.4
THREATS = ("weapons", "migrants", "revenue")


def intelligence_outcomes(
    declarations: pd.DataFrame, truth: pd.DataFrame, *, seed: int = 0
) -> pd.DataFrame:
    """Outcomes of intelligence-led selection over the synthetic declarations (see above).

    Each declaration is inspected with probability ``RANDOM_SHARE``, or ``TIPPED`` when it
    truly carries a threat; the inspection finds exactly what the truth holds.
    """
    rng = np.random.default_rng(seed)
    aligned = truth.set_index("declaration_id").loc[declarations["declaration_id"]]
    carries = aligned[list(THREATS)].to_numpy(dtype=bool).any(axis=1)
    probability = np.where(carries, TIPPED, RANDOM_SHARE)
    rows = np.flatnonzero(rng.random(len(declarations)) < probability)
    found = aligned.iloc[rows]
    revenue = found["revenue"].to_numpy(dtype=bool)
    return pd.DataFrame(
        {
            "declaration_id": declarations["declaration_id"].to_numpy()[rows],
            "inspected_at": declarations["lodged_at"].iloc[rows].to_numpy() + pd.Timedelta(hours=2),
            "inspection_type": "physical",
            "selection_reason": np.where(carries[rows], "intelligence", "random"),
            "selection_probability": probability[rows],
            "result": np.where(found[list(THREATS)].any(axis=1), "irregular", "clear"),
            "weapons_found": found["weapons"].to_numpy(dtype=bool),
            "migrants_found": found["migrants_count"].to_numpy(dtype=float),
            "revenue_irregularity": revenue,
            "additional_duty_eur": np.where(revenue, found["additional_duty_eur"], 0.0),
            "concealment": pd.Series([None] * len(rows), dtype="str"),
            "notes": pd.Series([None] * len(rows), dtype="str"),
        }
    )


def against_truth(
    risk: Mapping[str, np.ndarray], truth: np.ndarray | Mapping[str, np.ndarray]
) -> dict[str, dict[str, float]]:
    """Per threat: expected calibration error, mean risk, true rate and their ratio."""
    from training.metrics import expected_calibration_error

    out = {}
    for threat, predicted in risk.items():
        y = np.asarray(truth[threat], dtype=float)
        rate = float(y.mean())
        mean = float(np.mean(predicted))
        out[threat] = {
            "ece": expected_calibration_error(y, predicted),
            "mean_risk": mean,
            "true_rate": rate,
            "ratio": mean / rate if rate > 0 else float("nan"),
        }
    return out


@dataclass
class ScoredTestWindow:
    """A run trained on synthetic tables, its test window's margins and hidden truth."""

    run: Any  # training.pipeline.FittedRun
    margins: dict[str, np.ndarray]
    truth: pd.DataFrame
    # Per threat, the window's true cases of schemes the training window already held.
    known: dict[str, np.ndarray]


def scored_test_window(
    tables: Mapping[str, Path],
    truth: pd.DataFrame,
    split: Mapping[str, list[str]],
    model: Mapping[str, Any],
) -> ScoredTestWindow:
    """Train once on these tables and score every declaration of the test window.

    Each declaration is scored with the entity history and watchlist hits it had at lodging
    (`features.live`), as the service reads them from its store and as the boosters and the
    calibration saw them in training. Scoring against an empty store instead feeds the
    boosters inputs they never saw (every importer, vehicle and carrier new), which moved
    migrants' corrected mean risk to 2-3 times the true rate: a defect of the measurement,
    not of the correction.
    """
    from features.dataset import load_dataset
    from training.config import TrainingConfig
    from training.fit import FitSettings
    from training.pipeline import fit_run
    from training.splits import split_positions, windows_from_config
    from training.synthetic import training_config

    config = TrainingConfig.model_validate(training_config(dict(tables), split, model=dict(model)))
    dataset = load_dataset(config.source)
    run = fit_run(config, dataset, FitSettings.from_config(config.model))
    test = split_positions(dataset.declarations, dataset.labels, windows_from_config(config.split))[
        "test"
    ]
    window = dataset.declarations.iloc[test]
    live = run.bundle.builder.live_point_in_time(
        dataset.declarations, dataset.labels, dataset.watchlist
    )
    by_id = truth.set_index("declaration_id")
    hidden = by_id.loc[window["declaration_id"]]
    train = split_positions(
        dataset.declarations, dataset.labels, windows_from_config(config.split)
    )["train"]
    learned = by_id.loc[dataset.declarations["declaration_id"].iloc[train]]
    return ScoredTestWindow(
        run,
        run.bundle.margins(window, live=live.take(test)),
        hidden,
        known_scheme_truth(hidden, learned),
    )


def known_scheme_truth(truth: pd.DataFrame, learned: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per threat, 1 where ``truth`` holds a case of a scheme ``learned`` already held.

    The generator's last fifth brings new schemes (migrants on a new route); a model trained
    and calibrated before they appear cannot carry their rate, whatever the weighting. Read
    against these cases, the ratio measures the selection correction; read against every
    case, it also holds that drift.
    """
    known = {}
    for threat in THREATS:
        seen = set(learned.loc[learned[threat] > 0, f"{threat}_scheme"].dropna())
        cases = (truth[threat] > 0) & truth[f"{threat}_scheme"].isin(seen)
        known[threat] = cases.to_numpy(dtype=float)
    return known


def before_and_after(scored: ScoredTestWindow) -> dict[str, dict[str, dict[str, float]]]:
    """The unweighted (before) and the weighted (after) calibration of one run, against truth."""
    from models.calibration import Calibrator

    run, margins = scored.run, scored.margins
    unweighted = {
        t: Calibrator().fit(rows.margin, rows.labels) for t, rows in run.calibration_rows.items()
    }
    before = {t: unweighted[t].predict(m) for t, m in margins.items()}
    after = {t: run.bundle.calibrators[t].predict(m) for t, m in margins.items()}
    return {
        "before": against_truth(before, scored.truth),
        "after": against_truth(after, scored.truth),
        "after_known": against_truth(after, scored.known),
    }


def main() -> None:
    from shiprisk.demo import demo_split
    from training.synthetic import generate

    model = {"num_threads": 1, "sizes": ["small", "medium"], "bootstrap_resamples": 0}
    split = demo_split(START, DAYS)  # train ~70%, valid ~15%, test the newest ~15%
    results = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="shiprisk-bench-calibration-") as tmp:
        root = Path(tmp)
        paths = generate(root, start=START, days=DAYS, seed=SEED, rows_per_day=ROWS_PER_DAY)
        declarations = pd.read_parquet(paths["declarations"])
        truth = pd.read_parquet(paths["truth"])
        intelligence = root / "intelligence_outcomes.parquet"
        intelligence_outcomes(declarations, truth, seed=SEED).to_parquet(intelligence)
        for scenario, outcomes in (("rules", paths["outcomes"]), ("intelligence", intelligence)):
            tables = {**paths, "outcomes": outcomes}
            results[scenario] = before_and_after(scored_test_window(tables, truth, split, model))
    elapsed = time.perf_counter() - started

    rows = [
        f"\n## Calibration against the hidden truth, before and after the selection-bias "
        f"correction ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC)\n",
        f"Machine: {describe_machine()}.\n",
        f"{DAYS} days x {ROWS_PER_DAY} synthetic declarations (seed {SEED}), split "
        f"{split['train'][0]}..{split['train'][1]} / {split['valid'][0]}..{split['valid'][1]} / "
        f"{split['test'][0]}..{split['test'][1]}; every declaration of the test window is "
        f"compared with its true state, scored with the history it had at lodging. Before: "
        f"calibration on the inspected declarations as they are; after: weighted by inverse "
        f"selection probability, its mean anchored on every declaration of the valid window; "
        f"known schemes: against the cases of schemes the training window held. "
        f"{elapsed:.0f} s in all.\n",
        "| selection | threat | true rate | mean risk before | ratio before | ECE before "
        "| mean risk after | ratio after | ECE after | ratio after, known schemes |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for scenario, result in results.items():
        for threat in result["before"]:
            before, after = result["before"][threat], result["after"][threat]
            known = result["after_known"][threat]
            rows.append(
                f"| {scenario} | {threat} | {before['true_rate']:.5f} | "
                f"{before['mean_risk']:.5f} | {before['ratio']:.2f} | {before['ece']:.5f} | "
                f"{after['mean_risk']:.5f} | {after['ratio']:.2f} | {after['ece']:.5f} | "
                f"{known['ratio']:.2f} |"
            )
    text = "\n".join(rows) + "\n"
    record_results(text)


if __name__ == "__main__":
    main()
