"""Artifacts a person reads: plots at inspection rates, calibration, SHAP summary, model card."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window; set before pyplot is imported
import matplotlib.pyplot as plt
import numpy as np

from training.weighting import describe as describe_basis


def plot_rates(metrics: Mapping[str, Any], baselines: Mapping[str, Any], path: Path) -> Path:
    """Precision and recall at each inspection rate per threat, model against baselines."""
    threats = list(metrics["threats"])
    fig, axes = plt.subplots(2, len(threats), figsize=(4.2 * len(threats), 6.5), squeeze=False)
    for col, threat in enumerate(threats):
        for row, key in enumerate(("precision_at", "recall_at")):
            ax = axes[row][col]
            series = {"model": metrics["threats"][threat]}
            series.update({name: b[threat] for name, b in baselines.items() if threat in b})
            for name, values in series.items():
                rates = [float(r) for r in values[key]]
                (line,) = ax.plot(rates, list(values[key].values()), marker="o", label=name)
                bounds = values.get(f"{key}_interval")
                if bounds:  # the bootstrap 95% interval as a band, where there is one
                    lo = np.array([_or_nan(bounds[r][0]) for r in values[key]])
                    hi = np.array([_or_nan(bounds[r][1]) for r in values[key]])
                    known = np.isfinite(lo) & np.isfinite(hi)
                    if known.any():
                        ax.fill_between(
                            np.array(rates)[known],
                            lo[known],
                            hi[known],
                            color=line.get_color(),
                            alpha=0.15,
                        )
            ax.set_xscale("log")
            ax.set_xlabel("inspection rate")
            ax.set_title(f"{threat}: {key.replace('_at', ' at rate')}")
            ax.grid(alpha=0.3)
    axes[0][0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_calibration(metrics: Mapping[str, Any], path: Path) -> Path:
    """Predicted against observed irregularity rate per threat (equal-count bins)."""
    threats = list(metrics["threats"])
    fig, axes = plt.subplots(1, len(threats), figsize=(4 * len(threats), 4), squeeze=False)
    for ax, threat in zip(axes[0], threats, strict=True):
        curve = metrics["threats"][threat].get("calibration", [])
        predicted = [p["predicted"] for p in curve]
        observed = [p["observed"] for p in curve]
        top = max([*predicted, *observed, 1e-3])
        ax.plot([0, top], [0, top], color="grey", linestyle="--", label="perfect")
        ax.plot(predicted, observed, marker="o", label="model")
        ax.set_title(f"{threat}: calibration on test")
        ax.set_xlabel("predicted risk")
        ax.set_ylabel("observed rate")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_shap_summary(
    importance: Mapping[str, Mapping[str, float]], path: Path, top: int = 15
) -> Path:
    """Mean absolute SHAP value of the most important features, one panel per threat."""
    threats = list(importance)
    fig, axes = plt.subplots(
        1, len(threats), figsize=(5.2 * len(threats), 0.32 * top + 1.5), squeeze=False
    )
    for ax, threat in zip(axes[0], threats, strict=True):
        ranked = sorted(importance[threat].items(), key=lambda kv: kv[1], reverse=True)[:top]
        names = [n for n, _ in ranked][::-1]
        values = [v for _, v in ranked][::-1]
        ax.barh(np.arange(len(names)), values, color="#3b6ea5")
        ax.set_yticks(np.arange(len(names)), names, fontsize=8)
        ax.set_title(f"{threat}: mean |SHAP| (log-odds)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _or_nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def _with_interval(metrics: Mapping[str, Any], key: str, rate: str) -> str:
    value = _fmt(metrics[key].get(rate))
    bounds = metrics.get(f"{key}_interval", {}).get(rate)
    if not bounds or bounds[0] is None:
        return value
    return f"{value} [{_fmt(bounds[0])}, {_fmt(bounds[1])}]"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if value != value else f"{value:.3f}"
    return str(value)


def _risk_against_estimate(metrics: Mapping[str, Any]) -> list[str]:
    """The mean risk of the test window beside its Horvitz-Thompson rate, and what limits it.

    Where the window's random picks allow an estimate, this is the selection correction
    measured on the administration's own data, no hidden truth needed.
    """
    rows = []
    for threat, values in metrics["threats"].items():
        estimate = metrics.get("hit_rates", {}).get(threat, {})
        rate, se = estimate.get("estimated_rate"), estimate.get("estimated_rate_se")
        mean = values.get("mean_risk")
        if rate is None or mean is None:
            continue
        interval = (
            "" if se is None else f" ({max(rate - 1.96 * se, 0.0):.3g} to {rate + 1.96 * se:.3g})"
        )
        ratio = f"{mean / rate:.2f}" if rate > 0 else "n/a"
        rows.append(f"| {threat} | {mean:.3g} | {rate:.3g}{interval} | {ratio} |")
    if not rows:
        return []
    return [
        "Mean risk over every test declaration beside the rate the test window's inspections "
        "estimate (Horvitz-Thompson from picks of known probability, 95% interval):",
        "",
        "| threat | mean risk | estimated rate | ratio |",
        "|---|---|---|---|",
        *rows,
        "",
        "What no weighting corrects: declarations no selection could pick (probability 0) are "
        "spoken for by none; a threat whose rate or scheme changes after the valid window (a "
        "new route, a new disguise) is not in the calibration until a retrain; and with a "
        "handful of inspected positives the estimated rate itself is uncertain by the interval "
        "above. Monitoring (`shiprisk monitor`) compares the hit rates week by week.",
        "",
    ]


def model_card(
    *,
    name: str,
    windows: Mapping[str, Mapping[str, str]],
    fingerprint: Mapping[str, Any],
    metrics: Mapping[str, Any],
    baselines: Mapping[str, Any],
    slices: Mapping[str, Any],
    selection: Mapping[str, Any],
    rates: Sequence[float],
    skipped_threats: Mapping[str, str],
) -> str:
    """The model card in markdown: use, data, performance per threat and slice, limits, oversight."""
    lines = [
        f"# Model card: {name}",
        "",
        "## Intended use",
        "Ranks customs declarations by the risk of weapons (SALW), migrant smuggling and revenue",
        "fraud, so that targeting officers can choose which declarations to inspect within their",
        "capacity. It recommends; an officer decides. It is not for decisions with adverse",
        "effect taken without a human (Directive (EU) 2016/680, Art. 11).",
        "",
        "## Data",
        f"- Declarations: {fingerprint['declarations']}, of which inspected: "
        f"{fingerprint['inspected']}; lodged {fingerprint['lodged_from']} to "
        f"{fingerprint['lodged_to']}; content sha256 `{fingerprint['sha256'][:16]}`.",
    ]
    for window, span in windows.items():
        lines.append(f"- {window} window: {span['start']} to {span['end']}")
    basis = metrics.get("risk_basis", "inspected_only")
    lines += [
        "",
        "## What the risk means",
        f"Risk basis: `{basis}`: {describe_basis(basis)}.",
        "",
        *_risk_against_estimate(metrics),
        "## Performance on the test window (labelled declarations only)",
        "",
        "Precision at each inspection rate with its bootstrap 95% interval (declarations "
        "resampled) in brackets.",
        "",
    ]
    header = "| threat | model | ROC-AUC | PR-AUC | " + " | ".join(
        f"precision@{r:g}" for r in rates
    )
    lines += [header + " |", "|" + "---|" * (4 + len(rates))]
    for threat, values in metrics["threats"].items():
        rows = [("shiprisk", values)] + [
            (base, b[threat]) for base, b in baselines.items() if threat in b
        ]
        for label, m in rows:
            precision = " | ".join(_with_interval(m, "precision_at", f"{r:g}") for r in rates)
            lines.append(
                f"| {threat} | {label} | {_fmt(m['roc_auc'])} | {_fmt(m['pr_auc'])} | {precision} |"
            )
    lines += ["", "### Recall and revenue share at each rate (95% interval)", ""]
    for threat, values in metrics["threats"].items():
        for key in ("recall_at", "revenue_at"):
            if key in values:
                cells = ", ".join(f"{r:g}: {_with_interval(values, key, f'{r:g}')}" for r in rates)
                lines.append(f"- {threat} {key.replace('_at', '')}: {cells}")
    lines += ["", "### Slices (precision at the largest inspection rate)", ""]
    top_rate = f"{max(rates):g}"
    for threat, by_dimension in slices.items():
        for dimension, values in by_dimension.items():
            if not values:
                continue
            cells = ", ".join(
                f"{k}: {_fmt(v['precision_at'][top_rate])} (n={v['n']})"
                for k, v in list(values.items())[:12]
            )
            lines.append(f"- {threat} by {dimension}: {cells}")
    lines += ["", "## How it was chosen", ""]
    for threat, choice in selection.items():
        lines.append(
            f"- {threat}: size {choice['size']}, dropped feature groups "
            f"{choice['dropped_groups'] or 'none'}"
            + (f" ({choice['note']})" if choice.get("note") else "")
        )
    for threat, why in skipped_threats.items():
        lines.append(f"- {threat}: not modelled: {why}")
    lines += [
        "",
        "## Limitations",
        "- Labels exist only where someone inspected: ranking metrics are measured on inspected",
        "  declarations, which past selection tilted toward what rules already looked for.",
        "  Keep a random share of inspections to measure the true rate.",
        "- A risk counts what an inspection finds; inspections miss some cases, so the risk",
        "  of carrying a threat is higher than the risk of a finding.",
        "- Rare threats have few positives in the test window: read their precision with the",
        "  interval beside it.",
        "- New routes and concealments (drift) lower performance until the model is retrained;",
        "  monitor the score distribution and outcomes.",
        "",
        "## Human oversight",
        "Scores and reasons support officers' selection; every selection, waiver and outcome",
        "is recorded by a person. Risk managers review performance and the audit log before",
        "promoting a model to champion.",
    ]
    return "\n".join(lines) + "\n"
