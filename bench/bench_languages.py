"""Text features in the region's languages: quality on mixed-language descriptions against
English only (issue 19: within 0.01 ROC-AUC per threat).

The same synthetic world (same seed, size and split) is generated twice, once with every
description in English (``local_language_share=0``) and once at the generator's default
share, where descriptions at the region's offices are written in Serbian, Bosnian,
Croatian, Montenegrin, Macedonian or Albanian, in Latin or Cyrillic, with or without
diacritics, sometimes followed by the English. Only the descriptions differ between the two
(training.synthetic.languages). Each is read through a training configuration and
validated as training reads it; a `FeatureBuilder` is fitted on the train window as
`training.pipeline.fit_run` fits it, and the text features of the test window are those the
bundle's builder gives it (full text model: no test row trained it). The training window's
labelled rows are also scored point in time (out of fold), as the threat models see them.

Per threat, ROC-AUC of

- ``text_score_<threat>``, the learned text score;
- ``description_weapon_words``, the curated-word count (features/wordlists/);
- ``description_chapter_fit``, how typical the words are of the declared HS chapter (low is
  suspicious, so its AUC is read on the negated value, over the rows where it is defined);

measured on the test window's labelled (inspected) declarations, as training's metrics
are, and against the hidden truth on every test declaration (the generator's truth table,
which no model ever sees): the labelled rows are few and chosen by past rules, the truth
covers every declaration, so it is the better measure of the text signal. Results are
printed and appended to bench/RESULTS.md.

Both data sets are measured twice, side by side: with the builder's defaults and with the
text model before the descriptions' HS-code profiles (``BEFORE``: n-grams alone, format 3's
model), so a section shows what the profile changes on the same data.

Run with ``python -m bench languages`` or ``python -m bench.bench_languages``.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from bench.machine import describe_machine
from bench.results import record_results

DAYS, ROWS_PER_DAY, SEED, START = 300, 1000, 19, "2024-01-01"
SPLIT = {
    "train": ["2024-01-01", "2024-07-31"],
    "valid": ["2024-08-01", "2024-08-31"],
    "test": ["2024-09-01", "2024-10-26"],
}
BAR = 0.01  # issue 19: mixed-language quality within 0.01 of English only, per threat
FEATURES = ("text_score", "description_weapon_words", "description_chapter_fit")
# Low chapter fit is the suspicious end: rank by the negated value.
SIGN = {"description_chapter_fit": -1.0}
# The text model before the HS-code profile (features.text.description_profiles): n-grams
# alone, unweighted.
BEFORE = {"text_ngram_weight": 1.0, "text_profile_weight": 0.0}


@dataclass(frozen=True)
class Run:
    """One share's measurements: ROC-AUC per (measure, feature, threat), and counts."""

    share: float
    auc: dict[tuple[str, str, str], float]
    positives: dict[tuple[str, str], int]
    rows: dict[str, int]
    local_share: float
    distinct_texts: int
    seconds: float
    glossary_entries: int = 0


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC-AUC over the rows where the score is defined; NaN with one class there."""
    defined = np.isfinite(score)
    y, score = y[defined], score[defined]
    if len(np.unique(y)) < 2:
        return float("nan")
    return float(roc_auc_score(y, score))


@dataclass(frozen=True)
class Prepared:
    """One share's validated data, its hidden truth (aligned with the declarations), the
    train and test positions and the threats with enough training positives."""

    share: float
    dataset: Any
    truth: pd.DataFrame
    train: np.ndarray
    test: np.ndarray
    threats: list[str]
    word_lists: tuple[str, ...]
    local_share: float
    seconds: float


def prepare(directory: Path, share: float) -> Prepared:
    """Generate the data at ``share`` and read it through a training configuration."""
    from features.dataset import load_dataset
    from training.config import load_config
    from training.pipeline import trainable_threats
    from training.splits import split_positions, windows_from_config
    from training.synthetic import TABLES, generate, training_config

    started = time.perf_counter()
    raw = directory / f"share-{share:g}"
    generate(
        raw,
        start=START,
        days=DAYS,
        seed=SEED,
        rows_per_day=ROWS_PER_DAY,
        local_language_share=share,
    )
    tables = {table: raw / f"{table}.parquet" for table in TABLES}
    config_file = raw / "config.yaml"
    config_file.write_text(json.dumps(training_config(tables, SPLIT)))
    config = load_config(config_file)
    dataset = load_dataset(config.source)
    declarations = dataset.declarations
    truth = (
        pd.read_parquet(tables["truth"])
        .set_index("declaration_id")
        .loc[declarations["declaration_id"]]
    )
    positions = split_positions(declarations, dataset.labels, windows_from_config(config.split))
    threats, _ = trainable_threats(dataset, positions["train"])
    written = declarations["goods_description"].dropna()
    return Prepared(
        share=share,
        dataset=dataset,
        truth=truth,
        train=positions["train"],
        test=positions["test"],
        threats=threats,
        word_lists=tuple(str(path) for path in config.features.word_lists),
        local_share=float((~written.str.isascii()).mean()),
        seconds=time.perf_counter() - started,
    )


def measure(prepared: Prepared, **builder_params: Any) -> Run:
    """Fit the builder on the train window and measure each feature's ROC-AUC."""
    from features.builder import FeatureBuilder
    from features.schema import label_column

    started = time.perf_counter()
    declarations, labels = prepared.dataset.declarations, prepared.dataset.labels
    train, test = prepared.train, prepared.test
    builder = FeatureBuilder(prepared.threats, word_lists=prepared.word_lists, **builder_params)
    builder.fit(declarations.iloc[train], labels.iloc[train])
    X_test = builder.transform(declarations.iloc[test])
    X_train = builder.transform_point_in_time(
        declarations.iloc[train], labels.iloc[train], prepared.dataset.watchlist
    )

    results: dict[tuple[str, str, str], float] = {}
    positives: dict[tuple[str, str], int] = {}
    for threat in prepared.threats:
        y_labelled = labels[label_column(threat)].to_numpy(dtype=float)
        y_truth = prepared.truth[threat].to_numpy(dtype=float)
        measures = {
            "test, labelled": (X_test, y_labelled[test]),
            "test, truth": (X_test, y_truth[test]),
            "train out of fold, labelled": (X_train, y_labelled[train]),
        }
        for name, (frame, y) in measures.items():
            known = ~np.isnan(y)
            positives[(name, threat)] = int(np.nansum(y))
            for feature in FEATURES:
                column = f"text_score_{threat}" if feature == "text_score" else feature
                score = SIGN.get(feature, 1.0) * frame[column].to_numpy(dtype=float)
                results[(name, feature, threat)] = auc(y[known], score[known])
    return Run(
        share=prepared.share,
        auc=results,
        positives=positives,
        rows={
            "train": len(train),
            "test": len(test),
            "test labelled": int(labels["inspected"].to_numpy(dtype=bool)[test].sum()),
        },
        local_share=prepared.local_share,
        distinct_texts=int(declarations["goods_description"].nunique()),
        seconds=prepared.seconds + time.perf_counter() - started,
        glossary_entries=len(builder.curated_words_.glossary.terms),
    )


def table(english: Run, mixed: Run, threats: list[str]) -> list[str]:
    """The comparison as Markdown rows: one per (measure, feature, threat)."""
    rows = [
        "| measured on | feature | threat | positives | English only | mixed | mixed - English |",
        "|---|---|---|---|---|---|---|",
    ]
    for measure_name in ("test, labelled", "test, truth", "train out of fold, labelled"):
        for feature in FEATURES:
            for threat in threats:
                key = (measure_name, feature, threat)
                before, after = english.auc[key], mixed.auc[key]
                difference = after - before
                flag = " **below the bar**" if feature == "text_score" and difference < -BAR else ""
                rows.append(
                    f"| {measure_name} | {feature} | {threat} | "
                    f"{english.positives[(measure_name, threat)]} | {before:.4f} | {after:.4f} | "
                    f"{difference:+.4f}{flag} |"
                )
    return rows


def report(english: Run, mixed: Run, machine: str, note: str = "") -> str:
    """The RESULTS.md section for one comparison."""
    threats = sorted({threat for (_, _, threat) in english.auc})
    lines = [
        f"\n## Text features in the region's languages ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)\n",
        f"Machine: {machine}. The machine is shared with other engineers' work and was busy "
        "while this ran, which changes the times, not the ROC-AUCs.\n",
        f"`python -m bench languages`: synthetic data, {DAYS} days x {ROWS_PER_DAY} "
        f"declarations, seed {SEED}, generated twice: `local_language_share` 0 (English only) "
        f"and {mixed.share:g} (the default; {mixed.local_share:.0%} of all descriptions then "
        f"carry a non-ASCII letter, {mixed.distinct_texts:,} distinct descriptions against "
        f"{english.distinct_texts:,}). Split train {SPLIT['train'][0]}..{SPLIT['train'][1]} "
        f"({english.rows['train']:,} declarations), test {SPLIT['test'][0]}..{SPLIT['test'][1]} "
        f"({english.rows['test']:,} declarations, {english.rows['test labelled']:,} "
        "labelled). `FeatureBuilder` fitted on the train window as training fits it; the test "
        "window scored by the fitted builder (full text model), the train window point in "
        "time (out-of-fold text scores). Chapter fit is ranked low-first and read where "
        f"defined. Every text feature reads the descriptions through the goods glossary "
        f"({mixed.glossary_entries:,} entries: features/wordlists/glossary_*.yaml). "
        f"Time: {english.seconds:.0f} s English only, {mixed.seconds:.0f} s mixed.\n",
    ]
    if note:
        lines.append(note + "\n")
    lines += table(english, mixed, threats)
    worst = {
        measure_name: min(
            mixed.auc[(measure_name, "text_score", t)]
            - english.auc[(measure_name, "text_score", t)]
            for t in threats
        )
        for measure_name in ("test, labelled", "test, truth")
    }
    lines.append(
        "\nText score, mixed minus English only, worst threat: "
        + "; ".join(f"{name} {value:+.4f}" for name, value in worst.items())
        + f" (bar: no worse than -{BAR})."
    )
    return "\n".join(lines) + "\n"


def before_and_after(
    before: tuple[Run, Run], after: tuple[Run, Run], threats: list[str]
) -> list[str]:
    """The text score before (``BEFORE``) and after (defaults) side by side, per measure and
    threat: English only, mixed and the gap."""
    rows = [
        "| measured on | threat | English only, before -> after | mixed, before -> after "
        "| gap before | gap after |",
        "|---|---|---|---|---|---|",
    ]
    for measure_name in ("test, truth", "test, labelled"):
        for threat in threats:
            key = (measure_name, "text_score", threat)
            (english_before, mixed_before), (english_after, mixed_after) = (
                (run[0].auc[key], run[1].auc[key]) for run in (before, after)
            )
            rows.append(
                f"| {measure_name} | {threat} | {english_before:.4f} -> {english_after:.4f} | "
                f"{mixed_before:.4f} -> {mixed_after:.4f} | "
                f"{mixed_before - english_before:+.4f} | {mixed_after - english_after:+.4f} |"
            )
    return rows


def compare(note: str = "") -> tuple[dict[str, tuple[Run, Run]], str]:
    """The runs before and after (each English only, mixed) and their RESULTS.md section."""
    from training.synthetic.languages import LOCAL_LANGUAGE_SHARE

    machine = describe_machine()
    runs: dict[str, list[Run]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory(prefix="shiprisk-bench-languages-") as tmp:
        for share in (0.0, LOCAL_LANGUAGE_SHARE):
            prepared = prepare(Path(tmp), share)
            runs["before"].append(measure(prepared, **BEFORE))
            runs["after"].append(measure(prepared))
    pairs = {name: (found[0], found[1]) for name, found in runs.items()}
    english, mixed = pairs["after"]
    threats = sorted({threat for (_, _, threat) in english.auc})
    side_by_side = (
        "\n**Text score before and after the HS-code profile** (same data, same seed; before "
        f"= `FeatureBuilder(**{BEFORE})`, the n-gram model alone; after = the defaults; "
        f"time before {pairs['before'][0].seconds:.0f} s / {pairs['before'][1].seconds:.0f} s, "
        "data generation included in both):\n\n"
        + "\n".join(before_and_after(pairs["before"], pairs["after"], threats))
    )
    return pairs, report(english, mixed, machine, note) + side_by_side + "\n"


def main(note: str = "") -> Mapping[str, Any]:
    """Measure, print and append to bench/RESULTS.md."""
    pairs, text = compare(note)
    record_results(text)
    return pairs


if __name__ == "__main__":
    main()
