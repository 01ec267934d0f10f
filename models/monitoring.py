"""Drift between the declarations a model was trained on and the ones it scores now.

Population stability index (PSI) per model feature and per score, and the share of each lane.
Training keeps where the reference window's features and scores fell (`DriftReference`: bin
edges and shares per feature and per score, lane shares) in the model bundle; a drift check
then needs only the bundle and the recently scored declarations, never the training data.
The bundle turns recent declarations into its own features, so the comparison sees exactly
what the model sees. Rules of thumb used by credit and customs risk teams: PSI below 0.1 is
stable, 0.1-0.25 a moderate shift, above 0.25 a major shift that calls for a look at the data
and, probably, retraining.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from features.live import LiveInputs
from models.bundle import ModelBundle
from models.lanes import LANES

PSI_MODERATE = 0.1
PSI_MAJOR = 0.25
PSI_BINS = 10
REFERENCE_SAMPLE_ROWS = 50_000  # training-window declarations kept for the reference, at most
_FLOOR = 1e-4  # share given to an empty bin, so a bin seen only on one side stays finite


class MissingDriftReference(LookupError):
    """The bundle carries no drift reference: it was trained before bundles kept one."""


def _psi_from_shares(expected_shares: np.ndarray, current_counts: np.ndarray) -> float:
    expected = np.maximum(expected_shares, _FLOOR)
    actual = np.maximum(current_counts / max(current_counts.sum(), 1), _FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _number_to_json(value: float) -> float | str:
    """A bin edge for strict JSON: infinities as the text "inf" / "-inf" (``float`` reads them)."""
    return value if math.isfinite(value) else repr(value)


@dataclass(frozen=True)
class ReferenceBins:
    """Where one variable's reference values fell: its bins and the share of values in each.

    Numeric: ``edges`` are the inner bin edges, the reference's quantiles (repeated ones
    merged): ``len(edges) + 1`` bins, a value equal to an edge counts in the bin above.
    Categorical: ``edges`` are the distinct reference values, one bin each; a value the
    reference never had gets a bin of its own, empty on the reference side. ``shares`` holds
    the share of reference values per bin, then the share of missing values: a field that
    starts arriving empty shows up as drift.
    """

    categorical: bool
    edges: tuple[float, ...]
    shares: tuple[float, ...]

    @classmethod
    def of(
        cls, values: np.ndarray, *, bins: int = PSI_BINS, categorical: bool = False
    ) -> ReferenceBins:
        """The bins of reference ``values`` (at most ``bins`` numeric bins)."""
        reference = np.asarray(values, dtype=float)
        if len(reference) == 0:
            raise ValueError("PSI needs values on both sides")
        missing = np.isnan(reference)
        present = reference[~missing]
        counts: NDArray[np.float64]
        if categorical:
            edges, present_counts = np.unique(present, return_counts=True)
            counts = present_counts.astype(float)
        elif len(present):
            edges = np.unique(np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1]))
            counts = np.bincount(
                np.searchsorted(edges, present, side="right"), minlength=len(edges) + 1
            ).astype(float)
        else:
            edges, counts = np.zeros(0), np.zeros(1)
        counts = np.append(counts, missing.sum())
        shares = counts / max(counts.sum(), 1)
        return cls(categorical, tuple(edges.tolist()), tuple(shares.tolist()))

    def psi(self, current: np.ndarray) -> float:
        """PSI of ``current`` against these bins: sum of (a - e) x ln(a / e) over bins."""
        values = np.asarray(current, dtype=float)
        if len(values) == 0:
            raise ValueError("PSI needs values on both sides")
        missing = np.isnan(values)
        present = values[~missing]
        edges = np.asarray(self.edges, dtype=float)
        shares = np.asarray(self.shares, dtype=float)
        if self.categorical:
            categories = np.unique(np.concatenate([edges, present]))
            expected = np.zeros(len(categories))
            expected[np.searchsorted(categories, edges)] = shares[:-1]
            counts = np.bincount(np.searchsorted(categories, present), minlength=len(categories))
        else:
            expected = shares[:-1]
            counts = np.bincount(
                np.searchsorted(edges, present, side="right"), minlength=len(edges) + 1
            )
        return _psi_from_shares(
            np.append(expected, shares[-1]), np.append(counts.astype(float), missing.sum())
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (strict JSON: infinite edges as text)."""
        return {
            "categorical": self.categorical,
            "edges": [_number_to_json(edge) for edge in self.edges],
            "shares": list(self.shares),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceBins:
        """Read `to_dict`'s form; a share list that does not fit the edges raises ``ValueError``."""
        edges = tuple(float(edge) for edge in data["edges"])
        shares = tuple(float(share) for share in data["shares"])
        categorical = bool(data["categorical"])
        if len(shares) != len(edges) + (1 if categorical else 2):
            raise ValueError(f"{len(shares)} shares do not fit {len(edges)} bin edges")
        return cls(categorical, edges, shares)


def population_stability_index(
    reference: np.ndarray, current: np.ndarray, *, bins: int = PSI_BINS, categorical: bool = False
) -> float:
    """PSI of ``current`` against ``reference``: sum of (a - e) x ln(a / e) over bins.

    Numeric values are binned at the reference's quantiles (at most ``bins`` bins; repeated
    edges merge); categorical values bin per distinct value. Missing values form one more bin
    on both sides, so a field that starts arriving empty shows up as drift.
    """
    return ReferenceBins.of(reference, bins=bins, categorical=categorical).psi(current)


def lane_shares(lanes: Sequence[str]) -> dict[str, float]:
    """Share of declarations per lane (red, yellow, green)."""
    values = list(lanes)
    total = max(len(values), 1)
    return {lane: sum(1 for v in values if v == lane) / total for lane in LANES}


def score_names(threats: Sequence[str]) -> list[str]:
    """Scores compared for drift: each threat's risk (``risk_<threat>``) and the overall risk."""
    return [*(f"risk_{threat}" for threat in threats), "overall"]


@dataclass(frozen=True)
class DriftReference:
    """What drift is measured against, kept in the bundle at training time (plain JSON).

    ``window``: the training window the declarations came from; ``rows``: how many were
    binned (a sample of at most `REFERENCE_SAMPLE_ROWS`); ``features``: bins per model
    feature; ``scores``: bins per score (`score_names`); ``lanes``: share per lane.
    """

    window: dict[str, str]
    rows: int
    features: dict[str, ReferenceBins]
    scores: dict[str, ReferenceBins]
    lanes: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as saved in the bundle."""
        return {
            "window": dict(self.window),
            "rows": self.rows,
            "features": {name: bins.to_dict() for name, bins in self.features.items()},
            "scores": {name: bins.to_dict() for name, bins in self.scores.items()},
            "lanes": dict(self.lanes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftReference:
        """Read `to_dict`'s form."""
        return cls(
            window={str(k): str(v) for k, v in data["window"].items()},
            rows=int(data["rows"]),
            features={
                str(name): ReferenceBins.from_dict(bins) for name, bins in data["features"].items()
            },
            scores={
                str(name): ReferenceBins.from_dict(bins) for name, bins in data["scores"].items()
            },
            lanes={lane: float(data["lanes"][lane]) for lane in LANES},
        )


def reference_sample(count: int) -> np.ndarray | None:
    """The positions `drift_reference` keeps of ``count`` training-window declarations, or
    None when it keeps them all: a caller that builds their live inputs builds only these."""
    if count <= REFERENCE_SAMPLE_ROWS:
        return None
    # the rows declarations.sample(REFERENCE_SAMPLE_ROWS, random_state=0) takes
    return pd.Series(np.arange(count)).sample(REFERENCE_SAMPLE_ROWS, random_state=0).to_numpy()


def drift_reference(
    bundle: ModelBundle,
    declarations: pd.DataFrame,
    *,
    window: Mapping[str, str],
    live: LiveInputs | None = None,
    num_threads: int = 1,
) -> DriftReference:
    """Bin the features and scores the bundle gives the training window's ``declarations``.

    More than `REFERENCE_SAMPLE_ROWS` declarations are sampled (the same rows for the same
    data). ``live`` (row for row with ``declarations``) holds their entity history and
    watchlist hits at scoring time, as the service would have read them.
    """
    rows = reference_sample(len(declarations))
    if rows is not None:
        declarations = declarations.iloc[rows]
        live = None if live is None else live.take(rows)
    matrix = bundle.matrix(declarations, live)
    categorical = set(bundle.builder.categorical_features_)
    scores = bundle.risk_frame(declarations, live=live, num_threads=num_threads)
    return DriftReference(
        window=dict(window),
        rows=len(declarations),
        features={
            feature: ReferenceBins.of(matrix[:, i], categorical=feature in categorical)
            for i, feature in enumerate(bundle.features)
        },
        scores={
            name: ReferenceBins.of(scores[name].to_numpy(dtype=float))
            for name in score_names(bundle.threats)
        },
        lanes=lane_shares(scores["lane"].tolist()),
    )


def bundle_reference(bundle: ModelBundle) -> DriftReference:
    """The drift reference a bundle carries.

    Raises:
        MissingDriftReference: the bundle was trained before bundles kept one.
    """
    if bundle.drift_reference is None:
        raise MissingDriftReference(
            "this model carries no drift reference (it was trained before models kept one): "
            "retrain it (shiprisk train, then shiprisk promote) to monitor its drift"
        )
    return DriftReference.from_dict(bundle.drift_reference)


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


def drift_summary(
    bundle: ModelBundle,
    recent: pd.DataFrame,
    recent_scores: pd.DataFrame,
    *,
    model: Mapping[str, str],
    recent_window: Mapping[str, str],
    live: LiveInputs | None = None,
) -> DriftSummary:
    """Compare recent scoring with the training window, as the bundle's reference keeps it.

    Args:
        recent: canonical declarations scored recently.
        recent_scores: the scores served for ``recent`` (``risk_<threat>``, ``overall``,
            ``lane``), as stored when they were served.
        live: the entity history and watchlist hits of ``recent`` (features.live).

    Raises:
        MissingDriftReference: the bundle carries no reference (retrain it).
    """
    reference = bundle_reference(bundle)
    recent_matrix = bundle.matrix(recent, live)
    feature_psi = {
        feature: reference.features[feature].psi(recent_matrix[:, i])
        for i, feature in enumerate(bundle.features)
    }
    score_psi = {
        name: reference.scores[name].psi(recent_scores[name].to_numpy(dtype=float))
        for name in score_names(bundle.threats)
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
        reference_window=dict(reference.window),
        recent_window=dict(recent_window),
        reference_rows=reference.rows,
        recent_rows=len(recent),
        feature_psi=dict(sorted(feature_psi.items(), key=lambda kv: -kv[1])),
        score_psi=score_psi,
        lane_shares={
            "reference": dict(reference.lanes),
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
