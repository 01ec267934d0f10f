"""Fitting one LightGBM booster: the model sizes, the `model:` settings, sample weights,
monotone directions and LightGBM's parameters. Choosing a threat's size and feature groups on
validation is `training.selection`.

Tree depth is capped because exact SHAP costs grow with it and every served score carries its
reasons.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from training.intervals import Bootstrap

# Model sizes tried on validation, smallest first: a size must beat the smaller ones to stay.
MODEL_SIZES: dict[str, dict[str, Any]] = {
    "small": {"num_leaves": 15, "max_depth": 4, "min_child_samples": 40, "learning_rate": 0.08},
    "medium": {"num_leaves": 31, "max_depth": 6, "min_child_samples": 25, "learning_rate": 0.05},
    "large": {"num_leaves": 63, "max_depth": 7, "min_child_samples": 15, "learning_rate": 0.05},
}
# Directions the field is sure of, set as LightGBM monotone constraints so the model cannot
# learn the opposite from a few noisy cases (issue 14): a lower declared value never lowers
# the revenue risk, a watchlist hit never lowers any risk, and an earlier positive outcome of
# the same importer never lowers that threat's risk.
VALUE_THREATS = frozenset({"revenue"})
LOWER_VALUE_FEATURES = (
    "unit_value_vs_hs_median",
    "unit_value_robust_z",
    "package_value_vs_hs_median",
    "package_value_robust_z",
    "customs_value_log",
)
WATCHLIST_PREFIX = "watchlist_"
MIN_TRAIN_POSITIVES = 5
MAX_PROPENSITY_WEIGHT = 50.0


@dataclass
class FitSettings:
    """Knobs of the `model:` section of the training configuration."""

    seed: int = 42
    num_threads: int = 0  # 0 = all cores (at most 2 on these machines)
    num_boost_round: int = 600
    early_stopping_rounds: int = 60
    sizes: Sequence[str] = ("small", "medium", "large")
    select_groups: bool = True
    propensity_weights: bool = False
    # Calibrate (and evaluate calibration) weighted by inverse selection probability where
    # the data knows it (training.weighting); False reproduces the unweighted calibration.
    selection_correction: bool = True
    # Bootstrap resamples of the intervals at inspection rates (0: no intervals).
    bootstrap_resamples: int = 300
    # Monotone constraints where the field is sure of the direction (monotone_directions).
    monotone: bool = True

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> FitSettings:
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(section) - known)
        if unknown:
            raise ValueError(
                f"model: unknown setting(s) {unknown}; known settings are {sorted(known)}"
            )
        settings = cls(**dict(section))
        bad_sizes = sorted(set(settings.sizes) - set(MODEL_SIZES))
        if bad_sizes:
            raise ValueError(f"model.sizes: unknown size(s) {bad_sizes}; use {list(MODEL_SIZES)}")
        return settings

    def bootstrap(self) -> Bootstrap | None:
        """How intervals are drawn in this run (seeded by the run's seed), or None."""
        if self.bootstrap_resamples <= 0:
            return None
        return Bootstrap(resamples=self.bootstrap_resamples, seed=self.seed)

    def threads(self) -> int:
        cores = os.cpu_count() or 1
        return cores if self.num_threads <= 0 else min(self.num_threads, cores)


@dataclass
class Trial:
    """One candidate fitted during selection, with its validation score."""

    size: str
    dropped_groups: tuple[str, ...]
    best_iteration: int
    valid_score: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "dropped_groups": list(self.dropped_groups),
            "best_iteration": self.best_iteration,
            "valid_score": self.valid_score,
        }


@dataclass
class ThreatModel:
    """The chosen model of one threat and how it was chosen."""

    threat: str
    booster: lgb.Booster
    size: str
    features: list[str]
    dropped_groups: list[str]
    trials: list[Trial] = field(default_factory=list)
    skipped_selection: str | None = None


def monotone_directions(threat: str, features: Sequence[str]) -> dict[str, int]:
    """Features whose effect on ``threat``'s risk has a known sign: +1 raises, -1 lowers.

    Every watchlist count is +1 for every threat; the importer's earlier hits of this threat
    (count and smoothed rate) are +1; for revenue, every measure of the declared value
    (per kg, per package, in total) is -1: the lower the value, the higher the risk.
    """
    directions = {}
    for feature in features:
        if feature.startswith(WATCHLIST_PREFIX) or feature in (
            f"importer_hits_{threat}",
            f"importer_hit_rate_{threat}",
        ):
            directions[feature] = 1
        elif threat in VALUE_THREATS and feature in LOWER_VALUE_FEATURES:
            directions[feature] = -1
    return directions


def sample_weights(
    y: np.ndarray, selection_probability: np.ndarray | None, use_propensity: bool
) -> np.ndarray:
    """Weights for labelled rows: class balance, optionally inverse selection probability.

    Positives are up-weighted by sqrt(negatives / positives): enough for the trees to split
    on rare threats, mild enough to keep the scores smooth for calibration afterwards.
    Inverse-propensity weights (1 / selection probability, capped) undo the tilt toward what
    past rules already selected; rows without a known probability get weight 1.
    """
    y = np.asarray(y, dtype=float)
    positives = max(y.sum(), 1.0)
    negatives = max(len(y) - y.sum(), 1.0)
    weights = np.where(y > 0, np.sqrt(negatives / positives), 1.0)
    if use_propensity and selection_probability is not None:
        p = np.asarray(selection_probability, dtype=float)
        inverse = np.where(np.isfinite(p) & (p > 0), 1.0 / np.clip(p, 1e-9, 1.0), 1.0)
        inverse = np.minimum(inverse, MAX_PROPENSITY_WEIGHT)
        weights = weights * inverse / inverse.mean()
    return weights


def lightgbm_params(
    size: str, settings: FitSettings, monotone: Sequence[int] | None = None
) -> dict[str, Any]:
    """Full LightGBM parameters for a model size: deterministic for a seed and thread count.

    ``monotone`` is one direction per feature of the dataset (0 = free), as LightGBM reads it.
    """
    constraints = (
        {} if not monotone or not any(monotone) else {"monotone_constraints": list(monotone)}
    )
    return {
        "objective": "binary",
        # Early stopping reads validation log loss, the objective itself, which moves with
        # every validation row; average precision moves only when a handful of positives
        # swap ranks, and stopped boosters after 2 to 16 trees (bench/RESULTS.md, issue 14).
        # It is the only metric evaluated per round: selection reads precision once per fit.
        "metric": ["binary_logloss"],
        "first_metric_only": True,
        "verbosity": -1,
        "seed": settings.seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": settings.threads(),
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "min_sum_hessian_in_leaf": 1e-3,
        "max_bin": 255,
        **MODEL_SIZES[size],
        **constraints,
    }


def _dataset(
    X: pd.DataFrame,
    features: Sequence[str],
    categorical: Sequence[str],
    y: np.ndarray,
    weights: np.ndarray | None,
    reference: lgb.Dataset | None = None,
) -> lgb.Dataset:
    cats = [c for c in categorical if c in features]
    return lgb.Dataset(
        X[list(features)],
        label=y,
        weight=weights,
        categorical_feature=cats or "auto",
        reference=reference,
        free_raw_data=False,
        params={"verbosity": -1, "max_bin": 255},
    )


def fit_booster(
    X_train: pd.DataFrame,
    y_train: np.ndarray,
    w_train: np.ndarray,
    X_valid: pd.DataFrame | None,
    y_valid: np.ndarray | None,
    features: Sequence[str],
    categorical: Sequence[str],
    size: str,
    settings: FitSettings,
    num_boost_round: int | None = None,
    directions: Mapping[str, int] | None = None,
) -> lgb.Booster:
    """Fit one booster; with a validation set it stops early on the validation log loss.

    ``directions`` (feature -> +1/-1) become LightGBM monotone constraints.
    """
    monotone = [int((directions or {}).get(f, 0)) for f in features]
    params = lightgbm_params(size, settings, monotone)
    train_set = _dataset(X_train, features, categorical, y_train, w_train)
    callbacks: list[Callable[..., Any]] = []
    valid_sets = []
    if X_valid is not None and y_valid is not None:
        valid_sets = [_dataset(X_valid, features, categorical, y_valid, None, train_set)]
        callbacks.append(
            lgb.early_stopping(
                settings.early_stopping_rounds, first_metric_only=True, verbose=False
            )
        )
    return lgb.train(
        params,
        train_set,
        num_boost_round=num_boost_round or settings.num_boost_round,
        valid_sets=valid_sets,
        callbacks=callbacks,
    )
