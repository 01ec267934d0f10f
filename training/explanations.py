"""Global SHAP explanations of a run, in the shape data scientists use: `shap.Explanation`.

Training explains each threat's booster on a sample of the test window with
`shap.TreeExplainer` (exact TreeSHAP, the same values as the reasons every score carries),
draws the usual plots (beeswarm, and a dependence plot for each of the top features) and
keeps the `shap.Explanation` objects as plain files a data scientist can load back, never a
pickle: ``<threat>.npz`` (values, base_values, data) and ``<threat>.json`` (feature names,
threat, rows). Serving keeps its own fast path (`models.explain`); this is for reading a model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from training.report import plt  # pyplot with the file-only backend report sets

if TYPE_CHECKING:
    import lightgbm as lgb
    import shap

EXPLANATION_SAMPLE_ROWS = 2000
TOP_DEPENDENCE = 3
FORMAT_VERSION = 1


def explain_booster(
    booster: lgb.Booster, X: pd.DataFrame, features: Sequence[str]
) -> shap.Explanation:
    """Exact TreeSHAP of one booster (log-odds) on the rows of ``X`` (its ``features``).

    An early-stopped booster is explained at its best iteration, as the bundle scores it.
    """
    import lightgbm as lgb
    import shap

    if booster.best_iteration:
        booster = lgb.Booster(
            model_str=booster.model_to_string(num_iteration=booster.best_iteration)
        )
    explainer = shap.TreeExplainer(booster)
    return explainer(X[list(features)].to_numpy(dtype=np.float64))


def global_explanations(
    boosters: Mapping[str, lgb.Booster],
    features: Mapping[str, Sequence[str]],
    X: pd.DataFrame,
    *,
    sample_rows: int = EXPLANATION_SAMPLE_ROWS,
) -> dict[str, shap.Explanation]:
    """One `shap.Explanation` per threat on the first ``sample_rows`` rows of ``X``."""
    sample = X.iloc[:sample_rows]
    out = {}
    for threat, booster in boosters.items():
        explanation = explain_booster(booster, sample, features[threat])
        explanation.feature_names = list(features[threat])
        out[threat] = explanation
    return out


def mean_abs(explanation: shap.Explanation) -> dict[str, float]:
    """Global importance: mean absolute SHAP value per feature, largest first."""
    values = np.abs(np.asarray(explanation.values)).mean(axis=0)
    ranked = sorted(
        zip(explanation.feature_names, values, strict=True), key=lambda kv: -float(kv[1])
    )
    return {str(feature): float(value) for feature, value in ranked}


def save_explanation(explanation: shap.Explanation, directory: Path, threat: str) -> list[Path]:
    """Write one explanation as ``<threat>.npz`` and ``<threat>.json`` (no pickle)."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays = directory / f"{threat}.npz"
    np.savez_compressed(
        arrays,
        values=np.asarray(explanation.values, dtype=np.float64),
        base_values=np.asarray(explanation.base_values, dtype=np.float64),
        data=np.asarray(explanation.data, dtype=np.float64),
    )
    meta = directory / f"{threat}.json"
    meta.write_text(
        json.dumps(
            {
                "format": FORMAT_VERSION,
                "threat": threat,
                "feature_names": list(explanation.feature_names),
                "rows": int(np.asarray(explanation.values).shape[0]),
                "output": "log-odds (raw LightGBM margin)",
            },
            indent=2,
        )
    )
    return [arrays, meta]


def load_explanation(directory: str | Path, threat: str) -> shap.Explanation:
    """Read back what `save_explanation` wrote, as a `shap.Explanation`."""
    import shap

    directory = Path(directory)
    meta = json.loads((directory / f"{threat}.json").read_text())
    with np.load(directory / f"{threat}.npz", allow_pickle=False) as arrays:
        return shap.Explanation(
            values=arrays["values"],
            base_values=arrays["base_values"],
            data=arrays["data"],
            feature_names=list(meta["feature_names"]),
        )


def plot_explanations(
    explanation: shap.Explanation, directory: Path, threat: str, *, top: int = TOP_DEPENDENCE
) -> list[Path]:
    """The beeswarm of a threat and a dependence plot for each of its ``top`` features."""
    import shap

    directory.mkdir(parents=True, exist_ok=True)
    written = []
    shap.plots.beeswarm(explanation, max_display=15, show=False)
    plt.title(f"{threat}: SHAP values (log-odds)")
    path = directory / f"{threat}_beeswarm.png"
    plt.gcf().savefig(path, dpi=100, bbox_inches="tight")
    plt.close("all")
    written.append(path)
    for feature in list(mean_abs(explanation))[:top]:
        column = list(explanation.feature_names).index(feature)
        shap.plots.scatter(explanation[:, column], color=explanation, show=False)
        plt.title(f"{threat}: dependence on {feature}")
        path = directory / f"{threat}_dependence_{feature}.png"
        plt.gcf().savefig(path, dpi=100, bbox_inches="tight")
        plt.close("all")
        written.append(path)
    return written


def write_explanations(
    explanations: Mapping[str, shap.Explanation], directory: Path
) -> dict[str, Any]:
    """Plots and loadable explanations of every threat under ``directory``; what was written."""
    written: dict[str, Any] = {"plots": [], "explanations": []}
    for threat, explanation in explanations.items():
        written["plots"] += plot_explanations(explanation, directory / "plots", threat)
        written["explanations"] += save_explanation(explanation, directory / "explanations", threat)
    return written
