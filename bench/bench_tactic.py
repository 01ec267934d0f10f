"""A new tactic in live operations: model only, model plus a risk profile, rules only.

Issue 13, item 10. The synthetic generator plants a weapons tactic nobody has seen
(`training.synthetic.NewTactic`: 3D-printed pistol parts declared as toy parts, model kits or
filament, posted from a new country by new sellers) a week into the operations.
Every day, every office inspects the same number of declarations in three arms:

* **model only**: the model's worklist (`serving.inspections.worklist.select_worklist`:
  expected harm first, a share of random picks with known probabilities), retrained every
  `retrain_days` on the history plus the arm's own outcomes, with the real training
  pipeline (`bench.retraining.fit_bundle`);
* **model + profile**: the same, plus one risk profile written the day an intelligence
  report arrives (`report_after` days after the tactic starts): the report's goods, codes,
  country of dispatch and means, in the criteria language (`features.profiles`, matched by
  `features.criteria_matching`), red lane; its matches are mandatory picks, then the model
  fills the capacity. It retrains on its own outcomes too;
* **rules only**: static HS chapter x origin profiles from the history's outcomes
  (`training.baselines.RuleProfileBaseline`), as bench_loop's baseline.

The model arms score each day with the live inputs the store would hold (entity history from
every declaration lodged before and every outcome recorded before, the watchlist:
`features.live.live_point_in_time`); an inspection finds what the hidden truth holds and is
known from the next day. Output: hits per inspection and tactic cases caught per week and
arm, printed, written to bench/tactic.csv, plotted to bench/tactic.png and appended to
bench/RESULTS.md. Seeded: the same settings give the same numbers.
python -m bench tactic (also run by python -m bench live and make bench)
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from bench.machine import describe_machine
from bench.retraining import FAST_MODEL, fit_bundle
from features.columns import DeclarationColumns
from features.dataset import derive_labels
from features.live import live_point_in_time, point_in_time_events
from features.profiles import ProfileSet, RiskProfile
from features.validation import validate_declarations, validate_outcomes
from serving.inspections.worklist import Candidate, select_worklist, selection_seed
from training.baselines import RuleProfileBaseline
from training.synthetic import NewTactic, generate
from training.synthetic.tactic import SCHEME

THREATS = ("weapons", "migrants", "revenue")
SEVERITY = {"weapons": 10.0, "migrants": 10.0, "revenue": 1.0}
MODEL_ONLY, WITH_PROFILE, RULES_ONLY = "model only", "model + profile", "rules only"
ARMS = (MODEL_ONLY, WITH_PROFILE, RULES_ONLY)
RESULTS = Path(__file__).with_name("RESULTS.md")
TABLE = Path(__file__).with_name("tactic.csv")
PLOT = Path(__file__).with_name("tactic.png")

# What the risk manager writes the day the report arrives ("3D-printed pistol frames and
# parts posted and couriered from HK, declared as toy parts, model kits or filament"): the
# report's means, country of dispatch and codes, nothing the report does not say.
PROFILE_YAML = """
id: SALW-PRINTED-PARTS-HK
title: 3D-printed pistol parts by post from HK declared as toys or filament
threat: weapons
criteria:
  op: all
  of:
    - {op: in, field: vehicle_type, values: [parcel]}
    - {op: in, field: dispatch_country, values: [HK]}
    - {op: hs_prefix, prefixes: ["9503", "3916"]}
action: {lane: red}
rationale: Partner alert - printed pistol frames and parts posted from HK as toy parts, model kits or filament.
instructions: Open the parcel; look for frames, slides, grips or barrels among the parts.
owner: Risk unit
"""


@dataclass(frozen=True)
class Scenario:
    """What the bench simulates (the defaults: the run recorded in bench/RESULTS.md)."""

    start: date = date(2024, 1, 1)
    history_days: int = 56  # the generator's past inspections; the first model trains on them
    operation_days: int = 63
    rows_per_day: int = 300
    seed: int = 7
    tactic_after: int = 7  # days into the operations the tactic starts
    tactic_share: float = 0.03
    report_after: int = 7  # days after the tactic starts the intelligence report arrives
    retrain_days: int = 28
    inspection_rate: float = 0.05  # of an office's usual daily traffic, at least one
    exploration_share: float = 0.05
    arms: tuple[str, ...] = ARMS
    model: dict[str, Any] = field(default_factory=lambda: dict(FAST_MODEL))

    @property
    def operations_start(self) -> date:
        return self.start + timedelta(days=self.history_days)

    @property
    def tactic_day(self) -> date:
        return self.operations_start + timedelta(days=self.tactic_after)

    @property
    def report_day(self) -> date:
        return self.tactic_day + timedelta(days=self.report_after)


def tactic_profile(valid_from: date) -> RiskProfile:
    """The profile of `PROFILE_YAML`, in force from ``valid_from`` (checked like any import)."""
    document = yaml.safe_load(PROFILE_YAML)
    document["valid_from"] = datetime.combine(valid_from, datetime.min.time(), tzinfo=UTC)
    return RiskProfile.model_validate(document)


@dataclass
class _ModelArm:
    """A model arm's state: its bundle, its outcomes so far, its profiles (if any)."""

    name: str
    bundle: Any
    outcomes: list[pd.DataFrame]
    profiles: ProfileSet | None = None


def _inspected(
    picked: pd.DataFrame, reasons: list[str], probabilities: list[float]
) -> pd.DataFrame:
    """Outcome rows (canonical schema) of inspecting ``picked`` (truth columns joined): a
    physical check finds what is there, known at the end of the day."""
    known = picked["lodged_at"].dt.normalize() + pd.Timedelta(days=1)
    found = picked[list(THREATS)].to_numpy().sum(axis=1) > 0
    return pd.DataFrame(
        {
            "declaration_id": picked["declaration_id"].to_numpy(),
            "inspected_at": known.to_numpy(),
            "inspection_type": "physical",
            "selection_reason": reasons,
            "selection_probability": probabilities,
            "result": np.where(found, "irregular", "clear"),
            "weapons_found": picked["weapons"].to_numpy(dtype=bool),
            "migrants_found": picked["migrants_count"].to_numpy(dtype=float),
            "revenue_irregularity": picked["revenue"].to_numpy(dtype=bool),
            "additional_duty_eur": picked["additional_duty_eur"].to_numpy(dtype=float),
            "concealment": None,
            "notes": None,
        }
    )


def _history_events(
    declarations: pd.DataFrame, columns: DeclarationColumns, outcomes: pd.DataFrame
) -> Any:
    """The entity history an arm's store holds: every declaration and every outcome so far."""
    labels = derive_labels(declarations, outcomes, threats=THREATS)
    return point_in_time_events(columns, labels, THREATS)


def simulate_arms(work: Path, scenario: Scenario) -> dict[str, Any]:
    """Run the arms over the operations; returns per day and arm the inspections and hits."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    tactic = NewTactic(
        start_day=scenario.history_days + scenario.tactic_after, share=scenario.tactic_share
    )
    tables = generate(
        work / "synthetic",
        start=scenario.start,
        days=scenario.history_days + scenario.operation_days,
        seed=scenario.seed,
        rows_per_day=scenario.rows_per_day,
        new_tactic=tactic,
    )
    declarations = validate_declarations(pd.read_parquet(tables["declarations"]))
    generated_outcomes = validate_outcomes(pd.read_parquet(tables["outcomes"]))
    watchlist = pd.read_parquet(tables["watchlist"])
    truth = pd.read_parquet(tables["truth"])
    truth["tactic"] = (truth["weapons_scheme"] == SCHEME).fillna(False).astype(bool)
    timings["generate"] = time.perf_counter() - started

    day_of = declarations["lodged_at"].dt.tz_convert("UTC").dt.date.to_numpy()
    begin = scenario.operations_start
    history = declarations[day_of < begin].reset_index(drop=True)
    history_outcomes = generated_outcomes[
        generated_outcomes["declaration_id"].isin(set(history["declaration_id"]))
    ].reset_index(drop=True)
    columns = DeclarationColumns(declarations)
    volume = history.groupby("office_id").size() / scenario.history_days
    capacity = {
        str(office): max(1, round(scenario.inspection_rate * per_day))
        for office, per_day in volume.items()
    }

    started = time.perf_counter()
    first = fit_bundle(
        work / "first",
        history,
        history_outcomes,
        tables["watchlist"],
        start=scenario.start,
        today=begin,
        model=scenario.model,
    )
    timings["first training"] = time.perf_counter() - started
    model_arms = [
        _ModelArm(name, first, [history_outcomes])
        for name in (MODEL_ONLY, WITH_PROFILE)
        if name in scenario.arms
    ]
    profile = tactic_profile(scenario.report_day)
    for arm in model_arms:
        if arm.name == WITH_PROFILE:
            arm.profiles = ProfileSet([profile])
    rules = _rules(history, history_outcomes) if RULES_ONLY in scenario.arms else None

    rows: list[dict[str, Any]] = []
    retrain_seconds: list[float] = []
    scoring_seconds = 0.0
    for index in range(scenario.operation_days):
        today = begin + timedelta(days=index)
        if index and index % scenario.retrain_days == 0:
            known = declarations[day_of < today].reset_index(drop=True)
            for arm in model_arms:
                started = time.perf_counter()
                arm.bundle = fit_bundle(
                    work / arm.name.replace(" ", "-").replace("+", "plus"),
                    known,
                    pd.concat(arm.outcomes, ignore_index=True),
                    tables["watchlist"],
                    start=scenario.start,
                    today=today,
                    model=scenario.model,
                )
                retrain_seconds.append(time.perf_counter() - started)
        positions = np.flatnonzero(day_of == today)
        todays = declarations.iloc[positions].reset_index(drop=True)
        todays_truth = truth.iloc[positions].reset_index(drop=True)
        todays_columns = DeclarationColumns(todays)
        offices = todays.groupby("office_id").indices
        noon = datetime.combine(today, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
        ids = todays["declaration_id"].astype(str).tolist()

        for arm in model_arms:
            started = time.perf_counter()
            events = _history_events(
                declarations, columns, pd.concat(arm.outcomes, ignore_index=True)
            )
            live = live_point_in_time(
                todays_columns,
                derive_labels(todays, None, threats=THREATS),
                THREATS,
                watchlist,
                events=events,
            )
            scored = arm.bundle.score(todays, top_k=0, explain=False, live=live, num_threads=1)
            scoring_seconds += time.perf_counter() - started
            mandatory: set[str] = set()
            if arm.profiles is not None:
                found = arm.profiles.matches(todays_columns, live.watchlist, noon, ids)
                mandatory = {ids[row] for row in found.rows[found.selected].tolist()}
            picks = []
            for office, members in offices.items():
                picks += select_worklist(
                    [Candidate(scored[m].declaration_id, scored[m].risk) for m in members],
                    capacity.get(str(office), 1),
                    severity=SEVERITY,
                    exploration_share=scenario.exploration_share,
                    seed=selection_seed(str(office), today),
                    mandatory=mandatory,
                )
            chosen = {pick.declaration_id: pick for pick in picks}
            picked = todays.assign(**{c: todays_truth[c] for c in _TRUTH_COLUMNS})[
                todays["declaration_id"].isin(chosen)
            ]
            picked_ids = picked["declaration_id"].tolist()
            arm.outcomes.append(
                _inspected(
                    picked,
                    [chosen[d].reason for d in picked_ids],
                    [chosen[d].selection_probability for d in picked_ids],
                )
            )
            random_ids = {d for d in picked_ids if chosen[d].reason == "random"}
            rows.append(
                _day_row(today, arm.name, picked, len(mandatory & set(picked_ids)), random_ids)
            )
        if rules is not None:
            harm = np.sum([SEVERITY[t] * rules[t].score(todays) for t in THREATS], axis=0)
            chosen_rows: list[int] = []
            for office, members in offices.items():
                ranked = sorted(members, key=lambda r: (-harm[r], ids[r]))
                chosen_rows += ranked[: capacity.get(str(office), 1)]
            picked = todays.assign(**{c: todays_truth[c] for c in _TRUTH_COLUMNS}).iloc[
                sorted(chosen_rows)
            ]
            rows.append(_day_row(today, RULES_ONLY, picked, 0, set()))
        for row in rows[-len(scenario.arms) :]:
            row["tactic_lodged"] = int(todays_truth["tactic"].sum())
    timings["retraining (mean)"] = float(np.mean(retrain_seconds)) if retrain_seconds else 0.0
    timings["live inputs and scoring"] = scoring_seconds
    return {
        "days": pd.DataFrame(rows),
        "capacity": capacity,
        "timings": timings,
        "n_operations": int((day_of >= begin).sum()),
        "profile": profile,
    }


_TRUTH_COLUMNS = (*THREATS, "migrants_count", "additional_duty_eur", "tactic")


def _rules(history: pd.DataFrame, outcomes: pd.DataFrame) -> dict[str, RuleProfileBaseline]:
    """The rules-only arm's static profiles: per threat, HS chapter x origin hit rates of the
    history's inspections (what past inspections found, not the truth)."""
    found = outcomes.groupby("declaration_id").agg(
        weapons=("weapons_found", "max"),
        migrants=("migrants_found", lambda s: float((s.fillna(0) > 0).any())),
        revenue=("revenue_irregularity", "max"),
    )
    labelled = history[history["declaration_id"].isin(found.index)]
    found = found.reindex(labelled["declaration_id"])
    return {t: RuleProfileBaseline().fit(labelled, found[t].to_numpy(dtype=float)) for t in THREATS}


def _day_row(
    today: date, arm: str, picked: pd.DataFrame, by_profile: int, random_ids: set[str]
) -> dict[str, Any]:
    """One arm's day: inspections, hits, tactic cases caught (and of those, by random
    picks), picks a profile made mandatory."""
    drawn = picked["declaration_id"].isin(random_ids).to_numpy()
    hits = int((picked[list(THREATS)].to_numpy().sum(axis=1) > 0).sum())
    return {
        "day": today,
        "arm": arm,
        "inspections": len(picked),
        "hits": hits,
        "tactic_caught": int(picked["tactic"].sum()),
        "tactic_caught_at_random": int(picked["tactic"].to_numpy(dtype=bool)[drawn].sum()),
        "profile_picks": by_profile,
    }


def weekly(days: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    """Per week of the operations and arm: inspections, hits, hits per inspection, tactic
    cases lodged and caught."""
    frame = days.copy()
    frame["week"] = (
        pd.to_datetime(frame["day"]) - pd.Timestamp(scenario.operations_start)
    ).dt.days // 7 + 1
    table = (
        frame.groupby(["week", "arm"], sort=True)[
            [
                "inspections",
                "hits",
                "tactic_lodged",
                "tactic_caught",
                "tactic_caught_at_random",
                "profile_picks",
            ]
        ]
        .sum()
        .reset_index()
    )
    table["hits_per_inspection"] = (table["hits"] / table["inspections"].clip(lower=1)).round(4)
    return table


def _events_text(scenario: Scenario) -> list[str]:
    def week(day: date) -> int:
        return (day - scenario.operations_start).days // 7 + 1

    retrains = range(scenario.retrain_days, scenario.operation_days, scenario.retrain_days)
    return [
        f"tactic starts {scenario.tactic_day} (week {week(scenario.tactic_day)})",
        f"report and profile {scenario.report_day} (week {week(scenario.report_day)})",
        "retraining "
        + ", ".join(
            f"{scenario.operations_start + timedelta(days=d)} (week {d // 7 + 1})" for d in retrains
        ),
    ]


def _plot(table: pd.DataFrame, scenario: Scenario) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(14, 4.8))
    for arm in scenario.arms:
        mine = table[table["arm"] == arm]
        axes[0].plot(mine["week"], mine["hits_per_inspection"], marker="o", label=arm)
        axes[1].plot(mine["week"], mine["tactic_caught"], marker="o", label=arm)
    lodged = table.drop_duplicates("week")
    axes[1].plot(
        lodged["week"], lodged["tactic_lodged"], color="grey", linestyle="--", label="tactic lodged"
    )

    def week_of(day: date) -> float:
        return (day - scenario.operations_start).days / 7 + 0.5

    for axis in axes:
        axis.axvline(week_of(scenario.tactic_day), color="red", linestyle=":", linewidth=1)
        axis.axvline(week_of(scenario.report_day), color="green", linestyle=":", linewidth=1)
        for day in range(scenario.retrain_days, scenario.operation_days, scenario.retrain_days):
            axis.axvline(day / 7 + 0.5, color="grey", linestyle=":", linewidth=1)
        axis.set_xlabel(
            "week of operations (dotted: tactic starts red, report green, retrain grey)"
        )
        axis.legend(fontsize=8)
    axes[0].set_ylabel("hits per inspection")
    axes[0].set_title("Hits per inspection, same capacity in every arm")  # see the text
    axes[1].set_ylabel("tactic parcels")
    axes[1].set_title("New tactic: parcels caught per week")
    figure.tight_layout()
    figure.savefig(PLOT, dpi=100)
    plt.close(figure)


def _markdown(table: pd.DataFrame, scenario: Scenario) -> list[str]:
    wide = table.pivot(index="week", columns="arm")
    lodged = table.groupby("week")["tactic_lodged"].first()
    header = "| week | tactic lodged | " + " | ".join(
        f"{arm}: hits/insp. | {arm}: tactic caught" for arm in scenario.arms
    )
    lines = [header + " |", "|" + "---:|" * (2 + 2 * len(scenario.arms))]
    for week in wide.index:
        cells = [str(week), str(int(lodged[week]))]
        for arm in scenario.arms:
            cells.append(f"{wide.loc[week, ('hits_per_inspection', arm)]:.3f}")
            cells.append(str(int(wide.loc[week, ("tactic_caught", arm)])))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _report(
    figures: dict[str, Any], table: pd.DataFrame, scenario: Scenario, seconds: float, machine: str
) -> str:
    totals = (
        figures["days"]
        .groupby("arm")[["inspections", "hits", "tactic_caught", "tactic_caught_at_random"]]
        .sum()
    )
    lodged = int(table.groupby("week")["tactic_lodged"].first().sum())
    lines = [
        f"## A new tactic: model only vs model + profile vs rules only "
        f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        machine,
        "",
        f"`python -m bench tactic` ({seconds / 60:.1f} min). Synthetic data, seed "
        f"{scenario.seed}, {scenario.rows_per_day} declarations a day: {scenario.history_days} "
        f"days of history (the generator's rule and random inspections; the first model trains "
        f"on them), then {scenario.operation_days} days of operations "
        f"({figures['n_operations']:,} declarations). The generator's new tactic "
        f"(`training.synthetic.NewTactic`, {scenario.tactic_share:.0%} of parcel imports: "
        "3D-printed pistol parts declared as toy parts, model kits or filament, by post and "
        "express from HK (made in CN, as declared), new sellers, first-time consignees) "
        "starts a week in. Capacity per "
        f"office and day: {scenario.inspection_rate:.0%} of its usual traffic, at least one "
        f"({sum(figures['capacity'].values())} inspections a day over "
        f"{len(figures['capacity'])} offices), the same in every arm (a day whose mandatory "
        "profile picks alone exceed it inspects them all, as worklists list every one, so the "
        "profile arm may inspect a few more: compare hits per inspection); model worklists keep a "
        f"{scenario.exploration_share:.0%} exploration share. Both model arms retrain every "
        f"{scenario.retrain_days} days on the history plus their own outcomes (the training "
        "pipeline, small configuration). The profile arm adds one red-lane profile the day "
        "the report arrives (`bench_tactic.PROFILE_YAML`: parcels, dispatched from HK, HS 9503 or "
        "3916); its matches are mandatory picks, the model fills the rest. Rules only: static "
        "HS chapter x origin profiles from the history.",
        "",
        "Timeline: " + "; ".join(_events_text(scenario)) + ".",
        "",
        *_markdown(table, scenario),
        "",
        f"| arm | inspections | hits | hits per inspection | tactic caught (of {lodged}) "
        "| of those, by a random pick |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for arm in scenario.arms:
        row = totals.loc[arm]
        lines.append(
            f"| {arm} | {int(row['inspections']):,} | {int(row['hits']):,} | "
            f"{row['hits'] / max(row['inspections'], 1):.3f} | {int(row['tactic_caught'])} | "
            f"{int(row['tactic_caught_at_random'])} |"
        )
    lines += [
        "",
        "Timings: "
        + ", ".join(f"{name} {value:.1f} s" for name, value in figures["timings"].items())
        + f". Per week and arm: [{TABLE.name}]({TABLE.name}).",
        "",
        f"![new tactic]({PLOT.name})",
        "",
    ]
    return "\n".join(lines)


def main(scenario: Scenario | None = None) -> None:
    """Run the arms, print the weekly table, write the CSV and plot, append to RESULTS.md."""
    scenario = scenario or Scenario()
    machine = describe_machine()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="shiprisk-tactic-") as tmp:
        figures = simulate_arms(Path(tmp), scenario)
    table = weekly(figures["days"], scenario)
    table.to_csv(TABLE, index=False, lineterminator="\n")
    _plot(table, scenario)
    report = _report(figures, table, scenario, time.perf_counter() - started, machine)
    print(report)
    existing = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    RESULTS.write_text(existing.rstrip("\n") + "\n\n" + report)


if __name__ == "__main__":
    main()
