"""Closed-loop simulation: score, build worklists, inspect, learn, and measure honestly.

Synthetic declarations come with their hidden truth (`training.synthetic`). The first
HISTORY_DAYS carry the generator's past inspections (rules plus a random share); a first
model is trained on them. Then, day after day:

1. the day's declarations are scored by the current model and stored in the operational
   store (SQLite, the real `serving.store` code);
2. every office gets its worklist at a fixed daily capacity (`serving.inspections.service.worklist`:
   top expected harm plus a 5% exploration share drawn with known probability);
3. the picks are "inspected": outcomes come from the hidden truth and are recorded through
   the same validation as POST /v1/outcomes;
4. every RETRAIN_DAYS the store is exported and the model retrained with inverse-propensity
   weights on history plus the loop's own outcomes.

A rules-only arm inspects the same capacity by static risk profiles (HS chapter x origin hit
rates from the history, `training.baselines.RuleProfileBaseline`). At the end the report
compares hits per inspection, and compares three figures for each threat over the loop
period: the true rate (hidden truth), the hit rate of model-selected inspections, and the
Horvitz-Thompson estimate from the logged selection probabilities (`training.hit_rates`).
A replication re-draws the exploration picks many times over the final days to show the
estimate is unbiased on average. Appends numbers and a plot to bench/RESULTS.md.
"""

from __future__ import annotations

import platform
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.results import record_results
from bench.retraining import fit_bundle

START = date(2024, 1, 1)
HISTORY_DAYS = 70
LOOP_DAYS = 84
ROWS_PER_DAY = 600
SEED = 7
INSPECTION_RATE = 0.05  # share of an office's usual daily traffic it can inspect
RETRAIN_DAYS = 28
EXPLORATION_SHARE = 0.05
REPLICATIONS = 300
THREATS = ("weapons", "migrants", "revenue")
SEVERITY = {"weapons": 10.0, "migrants": 10.0, "revenue": 1.0}
PLOT = Path(__file__).with_name("loop.png")


@dataclass
class DayResult:
    """One arm's inspections on one day."""

    day: date
    arm: str
    inspections: int
    hits: int  # inspections that found any threat
    harm: float  # severity-weighted threats found


def _days(first: date, count: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(count)]


def _outcome_records(picked: pd.DataFrame) -> list[dict[str, Any]]:
    """What an inspection of each picked declaration finds: the hidden truth (physical check)."""
    records = []
    for row in picked.itertuples():
        found = bool(row.weapons or row.migrants or row.revenue)
        records.append(
            {
                "declaration_id": row.declaration_id,
                "inspected_at": (row.lodged_at + pd.Timedelta(hours=2)).isoformat(),
                "inspection_type": "physical",
                "result": "irregular" if found else "clear",
                "weapons_found": bool(row.weapons),
                "migrants_found": int(row.migrants_count) if row.migrants else 0,
                "revenue_irregularity": bool(row.revenue),
                "additional_duty_eur": float(row.additional_duty_eur) if row.revenue else 0.0,
            }
        )
    return records


def _harm(frame: pd.DataFrame) -> np.ndarray:
    return sum(SEVERITY[t] * frame[t].to_numpy(dtype=float) for t in THREATS)  # type: ignore[return-value]


def simulate_loop(work: Path) -> dict[str, Any]:
    """Run both arms over the loop period; returns every figure the report needs."""
    from features.schema import label_column
    from features.validation import validate_declarations, validate_outcomes
    from serving.inspections.service import (
        OperationsPolicy,
        export_training_tables,
        record_outcomes,
        worklist,
    )
    from serving.inspections.worklist import Candidate, select_worklist, selection_seed
    from serving.store import scores, worklists
    from serving.store.database import Store
    from training.baselines import RuleProfileBaseline
    from training.hit_rates import hit_rates
    from training.synthetic import generate

    timings: dict[str, float] = {}
    started = time.perf_counter()
    tables = generate(
        work / "synthetic",
        start=START,
        days=HISTORY_DAYS + LOOP_DAYS,
        seed=SEED,
        rows_per_day=ROWS_PER_DAY,
    )
    declarations = validate_declarations(pd.read_parquet(tables["declarations"]))
    outcomes = validate_outcomes(pd.read_parquet(tables["outcomes"]))
    truth = pd.read_parquet(tables["truth"]).set_index("declaration_id")
    timings["generate"] = time.perf_counter() - started
    day_of = declarations["lodged_at"].dt.tz_convert("UTC").dt.date
    loop_start = START + timedelta(days=HISTORY_DAYS)
    history = declarations[day_of < loop_start].reset_index(drop=True)
    history_ids = set(history["declaration_id"])
    history_outcomes = outcomes[outcomes["declaration_id"].isin(history_ids)].reset_index(drop=True)

    # Fixed daily capacity per office: its usual traffic times the inspection rate, at least 1.
    volume = history.groupby("office_id").size() / HISTORY_DAYS
    capacity = {
        office: max(1, round(INSPECTION_RATE * per_day)) for office, per_day in volume.items()
    }

    # Rules-only arm: static profiles from the history, one per threat, weighed by severity.
    labelled = history.merge(
        history_outcomes[["declaration_id"]].drop_duplicates(), on="declaration_id"
    )
    # Profiles are written from what past inspections found (the outcomes), not from truth.
    found = (
        history_outcomes.groupby("declaration_id")
        .agg(
            weapons=("weapons_found", "max"),
            migrants=("migrants_found", lambda s: float((s.fillna(0) > 0).any())),
            revenue=("revenue_irregularity", "max"),
        )
        .reindex(labelled["declaration_id"])
    )
    rules = {
        t: RuleProfileBaseline().fit(labelled, found[t].to_numpy(dtype=float)) for t in THREATS
    }

    started = time.perf_counter()
    bundle = fit_bundle(
        work, history, history_outcomes, tables["watchlist"], start=START, today=loop_start
    )
    timings["first training"] = time.perf_counter() - started
    store = Store.open(f"sqlite:///{work / 'store' / 'shiprisk.db'}")
    policy = OperationsPolicy(severity=SEVERITY, exploration_share=EXPLORATION_SHARE)
    results: list[DayResult] = []
    retrain_times: list[float] = []
    versions = 1
    loop_days = _days(loop_start, LOOP_DAYS)
    for index, today in enumerate(loop_days):
        if index and index % RETRAIN_DAYS == 0:
            started = time.perf_counter()
            export_training_tables(store, work / f"export-{today.isoformat()}")
            exported = work / f"export-{today.isoformat()}"
            loop_declarations = pd.read_parquet(exported / "declarations.parquet")
            loop_outcomes = pd.read_parquet(exported / "outcomes.parquet")
            bundle = fit_bundle(
                work,
                pd.concat([history, loop_declarations], ignore_index=True),
                pd.concat([history_outcomes, loop_outcomes], ignore_index=True),
                tables["watchlist"],
                start=START,
                today=today,
            )
            versions += 1
            retrain_times.append(time.perf_counter() - started)
        todays = declarations[day_of == today].reset_index(drop=True)
        scored = bundle.score(todays, top_k=0, explain=False, num_threads=1)
        with store.transaction() as session:
            scores.record_scores(
                session, todays, scored, model_name="loop", model_version=str(versions)
            )
        truth_today = truth.loc[todays["declaration_id"]].reset_index()
        truth_today["lodged_at"] = todays["lodged_at"].to_numpy()
        truth_today["office_id"] = todays["office_id"].to_numpy()
        rule_harm = sum(SEVERITY[t] * rules[t].score(todays) for t in THREATS)
        loop_picked: list[str] = []
        rules_picked: list[str] = []
        for office, rows in todays.groupby("office_id").groups.items():
            slots = capacity.get(str(office), 1)
            listed = worklist(store, str(office), today, slots, policy)
            loop_picked.extend(p.declaration_id for p in listed.picks)
            ranked = sorted(rows, key=lambda r: (-rule_harm[r], todays.at[r, "declaration_id"]))
            rules_picked.extend(todays.loc[ranked[:slots], "declaration_id"])
        picked = truth_today[truth_today["declaration_id"].isin(loop_picked)]
        record_outcomes(store, pd.DataFrame.from_records(_outcome_records(picked)))
        for arm, ids in (("learning loop", loop_picked), ("rules only", rules_picked)):
            chosen = truth_today[truth_today["declaration_id"].isin(ids)]
            any_threat = (chosen[list(THREATS)].to_numpy().sum(axis=1) > 0).sum()
            results.append(
                DayResult(today, arm, len(chosen), int(any_threat), float(_harm(chosen).sum()))
            )
    timings["retraining (mean)"] = float(np.mean(retrain_times)) if retrain_times else 0.0

    # Honest rates over the loop period, from the store's outcomes and probabilities.
    export_training_tables(store, work / "export-final")
    final = work / "export-final"
    loop_declarations = pd.read_parquet(final / "declarations.parquet")
    loop_outcomes = pd.read_parquet(final / "outcomes.parquet").set_index("declaration_id")
    ids = loop_declarations["declaration_id"]
    inspected = ids.isin(loop_outcomes.index).to_numpy()
    loop_truth = truth.loc[ids]
    labels = pd.DataFrame(
        {
            "inspected": inspected,
            "selection_reason": loop_outcomes["selection_reason"].reindex(ids).to_numpy(),
            "selection_probability": loop_outcomes["selection_probability"]
            .reindex(ids)
            .to_numpy(dtype=float),
        }
    )
    for t in THREATS:
        labels[label_column(t)] = np.where(inspected, loop_truth[t].to_numpy(dtype=float), np.nan)
    labels[label_column("any")] = np.where(
        inspected, (loop_truth[list(THREATS)].to_numpy().sum(axis=1) > 0).astype(float), np.nan
    )
    estimates = hit_rates(labels, [*THREATS, "any"])
    true_rates = {t: float(loop_truth[t].mean()) for t in THREATS}
    true_rates["any"] = float((loop_truth[list(THREATS)].to_numpy().sum(axis=1) > 0).mean())

    # Replication: re-draw the final model's worklists with other seeds over the last 28 days.
    last_days = set(loop_days[-RETRAIN_DAYS:])
    with store.transaction() as session:
        pools = {
            (office, day): [
                (row.declaration_id, row.risk)
                for row in worklists.day_candidates(session, office, day)
            ]
            for office in capacity
            for day in last_days
        }
    any_truth = (truth[list(THREATS)].to_numpy().sum(axis=1) > 0).astype(float)
    any_of = dict(zip(truth.index, any_truth, strict=True))
    population = sum(len(pool) for pool in pools.values())
    replicated_ht, replicated_model = [], []
    for replication in range(REPLICATIONS):
        total, model_hits, model_n = 0.0, 0.0, 0
        for (office, day), pool in pools.items():
            if not pool:
                continue
            seed = selection_seed(office, day) + replication + 1
            for pick in select_worklist(
                [Candidate(d, r) for d, r in pool],
                capacity[office],
                severity=SEVERITY,
                exploration_share=EXPLORATION_SHARE,
                seed=seed,
            ):
                hit = any_of[pick.declaration_id]
                total += hit / pick.selection_probability
                if pick.reason == "model":
                    model_hits += hit
                    model_n += 1
        replicated_ht.append(total / population)
        replicated_model.append(model_hits / max(model_n, 1))
    replication_truth = float(np.mean([any_of[d] for pool in pools.values() for d, _ in pool]))
    store.close()
    return {
        "results": results,
        "estimates": estimates,
        "true_rates": true_rates,
        "capacity": capacity,
        "timings": timings,
        "versions": versions,
        "n_loop": len(loop_declarations),
        "n_inspected": int(inspected.sum()),
        "replication": {
            "truth": replication_truth,
            "ht_mean": float(np.mean(replicated_ht)),
            "ht_sd": float(np.std(replicated_ht)),
            "model_mean": float(np.mean(replicated_model)),
            "population": population,
            "ht": replicated_ht,
        },
    }


def _plot(figures: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = pd.DataFrame([r.__dict__ for r in figures["results"]])
    frame["week"] = (pd.to_datetime(frame["day"]) - pd.Timestamp(frame["day"].min())).dt.days // 14
    by_period = frame.groupby(["week", "arm"])[["hits", "inspections"]].sum()
    rate = (by_period["hits"] / by_period["inspections"]).unstack("arm")
    figure, axes = plt.subplots(1, 3, figsize=(18, 4.8))
    for arm in rate.columns:
        axes[0].plot(rate.index * 2 + 2, rate[arm], marker="o", label=arm)
    for week in range(RETRAIN_DAYS, LOOP_DAYS, RETRAIN_DAYS):
        axes[0].axvline(week / 7, color="grey", linestyle=":", linewidth=1)
    axes[0].set_xlabel("weeks into the loop (dotted: retraining)")
    axes[0].set_ylabel("hits per inspection (two-week periods)")
    axes[0].set_title("Rules only vs the learning loop, same capacity")
    axes[0].legend()

    names = [*THREATS, "any"]
    positions = np.arange(len(names))
    estimates = figures["estimates"]
    truth = [figures["true_rates"][n] for n in names]
    model = [estimates[n].model_selected_hit_rate or 0.0 for n in names]
    ht = [estimates[n].estimated_rate or 0.0 for n in names]
    se = [estimates[n].estimated_rate_se or 0.0 for n in names]
    axes[1].bar(positions - 0.27, truth, width=0.27, label="true rate (hidden truth)")
    axes[1].bar(
        positions,
        ht,
        width=0.27,
        yerr=[1.96 * s for s in se],
        capsize=4,
        label="Horvitz-Thompson estimate (95% CI)",
    )
    axes[1].bar(positions + 0.27, model, width=0.27, label="model-selected hit rate")
    axes[1].set_xticks(positions, names)
    axes[1].set_title("Rate per declaration over the loop period")
    axes[1].legend(fontsize=8)

    replication = figures["replication"]
    axes[2].hist(replication["ht"], bins=30, color="#dd8452", alpha=0.8)
    axes[2].axvline(replication["truth"], color="#4c72b0", linewidth=2, label="true rate")
    axes[2].axvline(
        replication["ht_mean"], color="black", linestyle="--", label="mean of the estimates"
    )
    axes[2].axvline(
        replication["model_mean"], color="#55a868", linewidth=2, label="model-selected hit rate"
    )
    axes[2].set_title(f"Any threat: {REPLICATIONS} re-drawn exploration samples")
    axes[2].set_xlabel("Horvitz-Thompson estimate of the rate per declaration")
    axes[2].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(PLOT, dpi=100)
    plt.close(figure)


def _report(figures: dict[str, Any], seconds: float) -> str:
    frame = pd.DataFrame([r.__dict__ for r in figures["results"]])
    totals = frame.groupby("arm")[["inspections", "hits", "harm"]].sum()
    lines = [
        f"## Closed loop: rules only vs learning loop ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"Machine: {platform.processor() or platform.machine()}, Python "
        f"{platform.python_version()}, {platform.platform()}; shared with other work. "
        f"Run `python -m bench loop` ({seconds / 60:.1f} min).",
        "",
        f"Synthetic data (seed {SEED}, {ROWS_PER_DAY} declarations a day): {HISTORY_DAYS} days of "
        f"history with the generator's own rule and random inspections, then {LOOP_DAYS} days "
        f"of loop ({figures['n_loop']:,} declarations). Capacity per office and day: "
        f"{INSPECTION_RATE:.0%} of its usual daily traffic, at least one "
        f"({sum(figures['capacity'].values())} inspections a day over "
        f"{len(figures['capacity'])} offices). The loop scores every day into the SQLite "
        f"store, builds each office's worklist with a {EXPLORATION_SHARE:.0%} exploration "
        f"share, records outcomes from the hidden truth through the outcome validation, and "
        f"retrains every {RETRAIN_DAYS} days on history plus its exported outcomes with "
        f"inverse-propensity weights ({figures['versions']} models in all). Rules only: static "
        "HS chapter x origin profiles from the history, same capacity.",
        "",
        "| arm | inspections | hits | hits per inspection | severity-weighted harm found |",
        "|---|---:|---:|---:|---:|",
    ]
    for arm, row in totals.iterrows():
        lines.append(
            f"| {arm} | {int(row['inspections']):,} | {int(row['hits']):,} | "
            f"{row['hits'] / max(row['inspections'], 1):.3f} | {row['harm']:,.0f} |"
        )
    lines += [
        "",
        "Rate per declaration over the loop period: truth, the loop's model-selected hit rate, "
        "and the Horvitz-Thompson estimate from the logged selection probabilities "
        "(`training.hit_rates`):",
        "",
        "| threat | true rate | model-selected hit rate | estimate | 95% interval | random picks "
        "(hits) |",
        "|---|---:|---:|---:|---|---:|",
    ]
    for name in [*THREATS, "any"]:
        estimate = figures["estimates"][name]
        rate = estimate.estimated_rate or 0.0
        half = 1.96 * (estimate.estimated_rate_se or 0.0)
        lines.append(
            f"| {name} | {figures['true_rates'][name]:.4f} | "
            f"{(estimate.model_selected_hit_rate or 0.0):.4f} | {rate:.4f} | "
            f"{max(rate - half, 0):.4f} .. {rate + half:.4f} | {estimate.random_selected} "
            f"({round((estimate.random_hit_rate or 0.0) * estimate.random_selected)}) |"
        )
    replication = figures["replication"]
    lines += [
        "",
        "The interval uses the Poisson-sampling variance with the random picks' weighted hit "
        "rate: a handful of random hits makes it wide, and when the random picks found no case "
        "of a threat it collapses onto the model picks' certain hits. Rare threats need more "
        "exploration (or a longer period) than this run has for a useful single-run interval; "
        "the re-drawn samples below show the estimator itself is unbiased.",
        "",
        f"Unbiasedness check: the last {RETRAIN_DAYS} days' worklists re-drawn {REPLICATIONS} "
        f"times with other seeds ({replication['population']:,} declarations): mean "
        f"estimate of the any-threat rate {replication['ht_mean']:.4f} (sd "
        f"{replication['ht_sd']:.4f}) against a true {replication['truth']:.4f}; the "
        f"model-selected hit rate averages {replication['model_mean']:.4f}.",
        "",
        "Timings: "
        + ", ".join(f"{name} {value:.1f} s" for name, value in figures["timings"].items())
        + ".",
        "",
        f"![closed loop]({PLOT.name})",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    """Run the simulation, print the report and append it to bench/RESULTS.md."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="shiprisk-loop-") as tmp:
        figures = simulate_loop(Path(tmp))
    _plot(figures)
    report = _report(figures, time.perf_counter() - started)
    record_results(report)


if __name__ == "__main__":
    main()
