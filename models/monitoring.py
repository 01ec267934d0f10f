"""Drift between the declarations a model was trained on and the ones it scores now.

Population stability index (PSI) per model feature and per score, and the share of each lane,
computed from plain frames: the bundle turns declarations into its own features and scores,
so the comparison sees exactly what the model sees. Rules of thumb used by credit and customs
risk teams: PSI below 0.1 is stable, 0.1-0.25 a moderate shift, above 0.25 a major shift that
calls for a look at the data and, probably, retraining.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.bundle import ModelBundle

PSI_MODERATE = 0.1
PSI_MAJOR = 0.25
_FLOOR = 1e-4  # share given to an empty bin, so a bin seen only on one side stays finite
LANES = ("red", "yellow", "green")


def _psi_from_counts(reference: np.ndarray, current: np.ndarray) -> float:
    expected = np.maximum(reference / max(reference.sum(), 1), _FLOOR)
    actual = np.maximum(current / max(current.sum(), 1), _FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def population_stability_index(
    reference: np.ndarray, current: np.ndarray, *, bins: int = 10, categorical: bool = False
) -> float:
    """PSI of ``current`` against ``reference``: sum of (a - e) x ln(a / e) over bins.

    Numeric values are binned at the reference's quantiles (at most ``bins`` bins; repeated
    edges merge); categorical values bin per distinct value. Missing values form one more bin
    on both sides, so a field that starts arriving empty shows up as drift.
    """
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    if len(ref) == 0 or len(cur) == 0:
        raise ValueError("PSI needs values on both sides")
    ref_missing, cur_missing = np.isnan(ref), np.isnan(cur)
    ref_values, cur_values = ref[~ref_missing], cur[~cur_missing]
    if categorical:
        categories = np.unique(np.concatenate([ref_values, cur_values]))
        ref_counts = np.array([(ref_values == c).sum() for c in categories], dtype=float)
        cur_counts = np.array([(cur_values == c).sum() for c in categories], dtype=float)
    elif len(ref_values):
        edges = np.unique(np.quantile(ref_values, np.linspace(0, 1, bins + 1)[1:-1]))
        ref_counts = np.bincount(
            np.searchsorted(edges, ref_values, side="right"), minlength=len(edges) + 1
        )
        cur_counts = np.bincount(
            np.searchsorted(edges, cur_values, side="right"), minlength=len(edges) + 1
        )
    else:
        ref_counts = np.zeros(1)
        cur_counts = np.array([float(len(cur_values))])
    ref_counts = np.append(ref_counts.astype(float), ref_missing.sum())
    cur_counts = np.append(cur_counts.astype(float), cur_missing.sum())
    return _psi_from_counts(ref_counts, cur_counts)


def lane_shares(lanes: Sequence[str]) -> dict[str, float]:
    """Share of declarations per lane (red, yellow, green)."""
    values = list(lanes)
    total = max(len(values), 1)
    return {lane: sum(1 for v in values if v == lane) / total for lane in LANES}


@dataclass
class DriftSummary:
    """Figures of one drift check: what was compared, PSI per feature and score, lane shares."""

    model: dict[str, str]
    reference_window: dict[str, str]
    recent_window: dict[str, str]
    reference_rows: int
    recent_rows: int
    feature_psi: dict[str, float]
    score_psi: dict[str, float]
    lane_shares: dict[str, dict[str, float]]
    alerts: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (kept by the store, logged to MLflow)."""
        return asdict(self)

    @property
    def max_feature_psi(self) -> float:
        """The largest feature PSI (0 when there are no features)."""
        return max(self.feature_psi.values(), default=0.0)


def score_columns(
    risk: Mapping[str, Sequence[float]], overall: Sequence[float]
) -> dict[str, np.ndarray]:
    """Scores compared for drift: each threat's risk and the overall risk."""
    columns = {f"risk_{threat}": np.asarray(values, dtype=float) for threat, values in risk.items()}
    columns["overall"] = np.asarray(overall, dtype=float)
    return columns


def drift_summary(
    bundle: ModelBundle,
    reference: pd.DataFrame,
    recent: pd.DataFrame,
    recent_scores: pd.DataFrame,
    *,
    model: Mapping[str, str],
    reference_window: Mapping[str, str],
    recent_window: Mapping[str, str],
    num_threads: int = 1,
) -> DriftSummary:
    """Compare the training window with recent scoring.

    Args:
        reference: canonical declarations of the training window.
        recent: canonical declarations scored recently.
        recent_scores: the scores served for ``recent`` (``risk_<threat>``, ``overall``,
            ``lane``), as stored when they were served.
    """
    reference_matrix = bundle.matrix(reference)
    recent_matrix = bundle.matrix(recent)
    categorical = set(bundle.builder.categorical_features_)
    feature_psi = {
        feature: population_stability_index(
            reference_matrix[:, i], recent_matrix[:, i], categorical=feature in categorical
        )
        for i, feature in enumerate(bundle.features)
    }
    reference_scores = bundle.risk_frame(reference, num_threads=num_threads)
    score_psi = {
        name: population_stability_index(
            reference_scores[name].to_numpy(dtype=float), recent_scores[name].to_numpy(dtype=float)
        )
        for name in [*(f"risk_{t}" for t in bundle.threats), "overall"]
        if name in recent_scores
    }
    alerts = [
        f"{kind} {name}: PSI {value:.2f} (major shift)"
        for kind, values in (("score", score_psi), ("feature", feature_psi))
        for name, value in sorted(values.items(), key=lambda kv: -kv[1])
        if value > PSI_MAJOR
    ]
    return DriftSummary(
        model=dict(model),
        reference_window=dict(reference_window),
        recent_window=dict(recent_window),
        reference_rows=len(reference),
        recent_rows=len(recent),
        feature_psi=dict(sorted(feature_psi.items(), key=lambda kv: -kv[1])),
        score_psi=score_psi,
        lane_shares={
            "reference": lane_shares(reference_scores["lane"].tolist()),
            "recent": lane_shares(recent_scores["lane"].tolist()),
        },
        alerts=alerts,
    )


def _level(value: float) -> str:
    if value > PSI_MAJOR:
        return "major shift"
    return "moderate shift" if value > PSI_MODERATE else "stable"


def write_drift_report(
    summary: DriftSummary, directory: Path | str, *, top: int = 15
) -> list[Path]:
    """Write ``drift.md``, ``drift.png`` and ``drift.json`` into ``directory``; returns the paths."""
    import json

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    features = list(summary.feature_psi.items())[:top]
    figure, axes = plt.subplots(1, 3, figsize=(15, 5), gridspec_kw={"width_ratios": [2, 1, 1]})
    names = [name for name, _ in features][::-1]
    axes[0].barh(names, [value for _, value in features][::-1], color="#4c72b0")
    axes[0].set_title(f"feature PSI (top {len(features)})")
    scores = list(summary.score_psi.items())
    axes[1].bar([n for n, _ in scores], [v for _, v in scores], color="#dd8452")
    axes[1].set_title("score PSI")
    axes[1].tick_params(axis="x", rotation=45)
    for axis in axes[:2]:
        for threshold in (PSI_MODERATE, PSI_MAJOR):
            (axis.axvline if axis is axes[0] else axis.axhline)(
                threshold, color="grey", linestyle="--", linewidth=0.8
            )
    positions = np.arange(len(LANES))
    for offset, (side, shares) in zip((-0.2, 0.2), summary.lane_shares.items(), strict=True):
        axes[2].bar(positions + offset, [shares[lane] for lane in LANES], width=0.4, label=side)
    axes[2].set_xticks(positions, LANES)
    axes[2].set_title("share per lane")
    axes[2].legend()
    figure.tight_layout()
    png = out / "drift.png"
    figure.savefig(png, dpi=100)
    plt.close(figure)

    lines = [
        f"# Drift report: {summary.model.get('name', '')} version {summary.model.get('version', '')}",
        "",
        f"Reference: training window {summary.reference_window.get('start')} to "
        f"{summary.reference_window.get('end')} ({summary.reference_rows:,} declarations).  ",
        f"Recent: scored {summary.recent_window.get('start')} to "
        f"{summary.recent_window.get('end')} ({summary.recent_rows:,} declarations).",
        "",
        "PSI below 0.1 is stable, 0.1 to 0.25 a moderate shift, above 0.25 a major shift.",
        "",
        "![drift](drift.png)",
        "",
        "## Alerts",
        "",
        *([f"- {alert}" for alert in summary.alerts] or ["- none"]),
        "",
        "## Scores",
        "",
        "| score | PSI | level |",
        "|---|---:|---|",
        *[f"| {n} | {v:.3f} | {_level(v)} |" for n, v in summary.score_psi.items()],
        "",
        "## Lanes",
        "",
        "| lane | reference | recent |",
        "|---|---:|---:|",
        *[
            f"| {lane} | {summary.lane_shares['reference'][lane]:.1%} | "
            f"{summary.lane_shares['recent'][lane]:.1%} |"
            for lane in LANES
        ],
        "",
        f"## Features (top {len(features)} by PSI)",
        "",
        "| feature | PSI | level |",
        "|---|---:|---|",
        *[f"| {n} | {v:.3f} | {_level(v)} |" for n, v in features],
        "",
    ]
    markdown = out / "drift.md"
    markdown.write_text("\n".join(lines))
    data = out / "drift.json"
    data.write_text(json.dumps(summary.as_dict(), indent=2) + "\n")
    return [markdown, png, data]
