"""Calibration of a threat's raw LightGBM margin into a probability, kept as plain data.

A booster's margin ranks declarations well but is not a probability: class weights, early
stopping and the rarity of seizures all shift it. Officers and risk managers read the risk as
"the chance this declaration hides an irregularity", so each threat gets a calibrator fitted on
a window the booster did not train on. Both methods keep the ranking: Platt scaling is strictly
increasing in the margin; isotonic regression is non-decreasing (it may tie neighbours), which
is why it is only chosen when it predicts clearly better.

When the inspected rows are weighted by inverse selection probability they stand for every
declaration of the window, and the margins of those declarations are known (only their labels
are not). Platt's intercept is then anchored on them ("calibration in the large"): the mean
risk over every declaration of the window equals the weighted rate the fit read from the
inspections. Without the anchor the mean risk rests on how well a few random picks sample the
high margins of ordinary traffic; on the synthetic data with a 2% random share it was 0.9 to
2.4 times the window's own weighted rate (bench/RESULTS.md).

Calibration travels in the bundle as JSON (`to_dict` / `from_dict`), never as a pickle.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_is_fitted

CalibrationMethod = Literal["platt", "isotonic", "auto"]

# A Platt slope at or below zero would reverse the ranking of the booster; a model that bad
# should not be trusted, but calibration must never be the step that reorders declarations.
MIN_PLATT_SLOPE = 1e-6
# Probabilities are kept inside (0, 1): a risk of exactly 0 or 1 (an isotonic end step, or a
# sigmoid that saturates) claims a certainty no inspection record supports. The floor is tiny so
# that Platt's ranking stays strict for any margin a booster plausibly produces (|logit| < 27).
PROBABILITY_FLOOR = 1e-12
# "auto" picks isotonic only when its cross-validated log-loss is lower by this relative margin:
# isotonic steps overfit small windows and tie declarations, Platt does neither.
ISOTONIC_MIN_GAIN = 0.01


def _as_margin(margin: ArrayLike) -> NDArray[np.float64]:
    values = np.asarray(margin, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(values)):
        raise ValueError("calibration margins must be finite numbers")
    return values


def _platt_targets(
    labels: NDArray[np.float64], weights: NDArray[np.float64]
) -> tuple[float, float]:
    """Platt's smoothed targets (N+ + 1) / (N+ + 2) and 1 / (N- + 2), with weighted counts.

    With a handful of seizures, hard 0/1 targets let the sigmoid run to infinity; the
    smoothed targets are the posterior under a uniform prior and keep the fit finite even
    with no positive at all. The counts are the weights' sums (a row of weight 2 is the row
    twice): with inverse selection probabilities of mean 1 the prior stays one pseudo-row,
    where row counts would let every heavily weighted negative add a share of a positive.
    """
    n_positive = float(np.sum(weights[labels == 1.0]))
    n_negative = float(np.sum(weights[labels == 0.0]))
    return (n_positive + 1.0) / (n_positive + 2.0), 1.0 / (n_negative + 2.0)


def _fit_platt(
    margin: NDArray[np.float64],
    labels: NDArray[np.float64],
    weights: NDArray[np.float64],
    regularization: float,
) -> tuple[float, float]:
    """Slope and intercept of the sigmoid of ``slope * margin + intercept``.

    Soft targets are fitted exactly by cross-entropy on each row twice: once as a positive
    with weight ``w * t`` and once as a negative with weight ``w * (1 - t)``.
    """
    target_positive, target_negative = _platt_targets(labels, weights)
    targets = np.where(labels == 1.0, target_positive, target_negative)
    features = np.concatenate([margin, margin]).reshape(-1, 1)
    classes = np.concatenate([np.ones_like(margin), np.zeros_like(margin)])
    row_weights = np.concatenate([weights * targets, weights * (1.0 - targets)])
    regression = LogisticRegression(C=regularization, solver="lbfgs", max_iter=1000)
    regression.fit(features, classes, sample_weight=row_weights)
    slope = float(regression.coef_[0, 0])
    intercept = float(regression.intercept_[0])
    if slope < MIN_PLATT_SLOPE:
        # Keep the booster's order; the intercept then carries the (weighted) base rate.
        slope = MIN_PLATT_SLOPE
        rate = float(np.sum(row_weights[: len(margin)]) / np.sum(weights))
        intercept = math.log(rate / (1.0 - rate)) - slope * float(
            np.average(margin, weights=weights)
        )
    return slope, intercept


def _anchored_intercept(
    slope: float, intercept: float, population_margin: NDArray[np.float64], rate: float
) -> float:
    """The intercept whose sigmoid has mean ``rate`` over ``population_margin`` (same slope).

    The mean is strictly increasing in the intercept, so a bracketing root finder is exact;
    the bracket grows until it holds the root (``rate`` is inside (0, 1)).
    """
    from scipy.optimize import brentq

    def excess(shift: float) -> float:
        return float(np.mean(_sigmoid(slope * population_margin + shift))) - rate

    low, high = intercept - 1.0, intercept + 1.0
    while excess(low) > 0:
        low -= 2.0 * (high - low)
    while excess(high) < 0:
        high += 2.0 * (high - low)
    return float(brentq(excess, low, high, xtol=1e-12))


def _fit_isotonic(
    margin: NDArray[np.float64], labels: NDArray[np.float64], weights: NDArray[np.float64]
) -> tuple[list[float], list[float]]:
    """Breakpoints (margin, probability) of the weighted isotonic fit, for linear interpolation."""
    regression = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    regression.fit(margin, labels, sample_weight=weights)
    return (
        [float(x) for x in regression.X_thresholds_],
        [float(y) for y in regression.y_thresholds_],
    )


def _sigmoid(values: NDArray[np.float64]) -> NDArray[np.float64]:
    # Split by sign so that neither branch overflows exp().
    out = np.empty_like(values)
    positive = values >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-values[positive]))
    exp_values = np.exp(values[~positive])
    out[~positive] = exp_values / (1.0 + exp_values)
    return out


def _weighted_log_loss(
    probability: NDArray[np.float64], labels: NDArray[np.float64], weights: NDArray[np.float64]
) -> float:
    p = np.clip(probability, PROBABILITY_FLOOR, 1.0 - PROBABILITY_FLOOR)
    losses = -(labels * np.log(p) + (1.0 - labels) * np.log(1.0 - p))
    return float(np.average(losses, weights=weights))


class Calibrator(BaseEstimator):
    """Maps a threat's raw margin to a calibrated probability (a scikit-learn estimator).

    Args:
        method: ``"platt"`` (sigmoid of the margin, the default), ``"isotonic"`` (monotone
            step function), or ``"auto"``: the one with the lower cross-validated weighted
            log-loss on the fitting rows, isotonic only if better by ``ISOTONIC_MIN_GAIN``.
        regularization: inverse L2 strength ``C`` of the Platt fit; large means weak, so the
            sigmoid follows the data rather than the penalty.
        folds: folds of the "auto" comparison.
        random_state: seed of the "auto" fold split.
    """

    def __init__(
        self,
        method: CalibrationMethod = "platt",
        *,
        regularization: float = 1e4,
        folds: int = 5,
        random_state: int = 0,
    ) -> None:
        self.method = method
        self.regularization = regularization
        self.folds = folds
        self.random_state = random_state

    def fit(
        self,
        margin: ArrayLike,
        labels: ArrayLike,
        sample_weight: ArrayLike | None = None,
        *,
        population_margin: ArrayLike | None = None,
    ) -> Calibrator:
        """Fit on labelled rows: raw margins, 0/1 labels and optional weights.

        Weights are typically inverse selection probabilities, so that declarations picked by
        rules count less than randomly inspected ones. ``population_margin``: the margins of
        every declaration those weighted rows stand for, inspected or not; a Platt fit then
        anchors its intercept so that its mean risk over them is the weighted rate of the rows
        (see the module docstring). Isotonic fits are left as they are.
        """
        if self.method not in ("platt", "isotonic", "auto"):
            raise ValueError(
                f"unknown calibration method {self.method!r}: use platt, isotonic or auto"
            )
        x = _as_margin(margin)
        y = np.asarray(labels, dtype=np.float64).reshape(-1)
        if len(y) != len(x) or len(x) == 0:
            raise ValueError(
                f"calibration needs as many labels as margins, got {len(y)} and {len(x)}"
            )
        if not np.all((y == 0.0) | (y == 1.0)):
            raise ValueError("calibration labels must be 0 or 1 (drop uninspected rows first)")
        w = (
            np.ones_like(x)
            if sample_weight is None
            else np.asarray(sample_weight, dtype=np.float64)
        )
        if w.shape != x.shape or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(
                "sample_weight must be finite, non-negative, not all zero, one per margin"
            )

        chosen = self.method
        self.validation_log_loss_: dict[str, float] = {}
        if self.method == "auto":
            self.validation_log_loss_ = self._cross_validated_log_loss(x, y, w)
            platt_loss = self.validation_log_loss_.get("platt", math.inf)
            isotonic_loss = self.validation_log_loss_.get("isotonic", math.inf)
            chosen = (
                "isotonic" if isotonic_loss < platt_loss * (1.0 - ISOTONIC_MIN_GAIN) else "platt"
            )
        self.method_: str = chosen
        self.slope_: float | None = None
        self.intercept_: float | None = None
        self.thresholds_: list[float] | None = None
        self.probabilities_: list[float] | None = None
        self.anchored_rate_: float | None = None
        if chosen == "platt":
            self.slope_, self.intercept_ = _fit_platt(x, y, w, self.regularization)
            if population_margin is not None:
                population = _as_margin(population_margin)
                if len(population) == 0:
                    raise ValueError("population_margin must hold at least one margin")
                # The rate the Platt fit matches on the rows: the weighted mean of its
                # smoothed targets, inside (0, 1) even without a positive.
                target_positive, target_negative = _platt_targets(y, w)
                targets = np.where(y == 1.0, target_positive, target_negative)
                self.anchored_rate_ = float(np.average(targets, weights=w))
                self.intercept_ = _anchored_intercept(
                    self.slope_, self.intercept_, population, self.anchored_rate_
                )
        else:
            self.thresholds_, self.probabilities_ = _fit_isotonic(x, y, w)
        self.n_samples_: int = len(x)
        self.n_positive_: int = int(np.sum(y == 1.0))
        return self

    def _cross_validated_log_loss(
        self, x: NDArray[np.float64], y: NDArray[np.float64], w: NDArray[np.float64]
    ) -> dict[str, float]:
        """Out-of-fold weighted log-loss of each method; empty when positives are too few to fold."""
        n_positive = int(np.sum(y == 1.0))
        n_folds = min(self.folds, n_positive, len(y) - n_positive)
        if n_folds < 2:
            return {}
        splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=self.random_state)
        predicted = {"platt": np.empty_like(x), "isotonic": np.empty_like(x)}
        for train, held_out in splitter.split(x.reshape(-1, 1), y):
            slope, intercept = _fit_platt(x[train], y[train], w[train], self.regularization)
            predicted["platt"][held_out] = _sigmoid(slope * x[held_out] + intercept)
            thresholds, probabilities = _fit_isotonic(x[train], y[train], w[train])
            predicted["isotonic"][held_out] = np.interp(x[held_out], thresholds, probabilities)
        return {name: _weighted_log_loss(p, y, w) for name, p in predicted.items()}

    def predict(self, margin: ArrayLike) -> NDArray[np.float64]:
        """Calibrated probability for each margin, inside [PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR]."""
        check_is_fitted(self)
        x = _as_margin(margin)
        if self.method_ == "platt":
            assert self.slope_ is not None and self.intercept_ is not None
            probability = _sigmoid(self.slope_ * x + self.intercept_)
        else:
            assert self.thresholds_ is not None and self.probabilities_ is not None
            probability = np.interp(x, self.thresholds_, self.probabilities_)
        return np.clip(probability, PROBABILITY_FLOOR, 1.0 - PROBABILITY_FLOOR)

    def to_dict(self) -> dict[str, Any]:
        """The fitted calibration as JSON-ready data."""
        check_is_fitted(self)
        data: dict[str, Any] = {
            "method": self.method_,
            "n_samples": self.n_samples_,
            "n_positive": self.n_positive_,
            "validation_log_loss": dict(self.validation_log_loss_),
        }
        if self.anchored_rate_ is not None:
            data["anchored_rate"] = self.anchored_rate_
        if self.method_ == "platt":
            data.update(slope=self.slope_, intercept=self.intercept_)
        else:
            data.update(thresholds=self.thresholds_, probabilities=self.probabilities_)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibrator:
        """Rebuild a fitted calibrator from `to_dict` output, refusing malformed data."""
        method = data.get("method")
        calibrator = cls(method="platt" if method == "platt" else "isotonic")
        if method == "platt":
            slope, intercept = float(data["slope"]), float(data["intercept"])
            if not (math.isfinite(slope) and math.isfinite(intercept)) or slope <= 0:
                raise ValueError(f"platt calibration needs a finite positive slope, got {slope}")
            calibrator.slope_, calibrator.intercept_ = slope, intercept
            calibrator.thresholds_ = calibrator.probabilities_ = None
        elif method == "isotonic":
            thresholds = [float(v) for v in data["thresholds"]]
            probabilities = [float(v) for v in data["probabilities"]]
            if (
                not thresholds
                or len(thresholds) != len(probabilities)
                or np.any(np.diff(thresholds) < 0)
                or np.any(np.diff(probabilities) < 0)
            ):
                raise ValueError("isotonic calibration needs equally long non-decreasing arrays")
            calibrator.thresholds_, calibrator.probabilities_ = thresholds, probabilities
            calibrator.slope_ = calibrator.intercept_ = None
        else:
            raise ValueError(f"unknown calibration method {method!r}: expected platt or isotonic")
        calibrator.method_ = method
        calibrator.n_samples_ = int(data.get("n_samples", 0))
        calibrator.n_positive_ = int(data.get("n_positive", 0))
        anchored = data.get("anchored_rate")
        calibrator.anchored_rate_ = None if anchored is None else float(anchored)
        calibrator.validation_log_loss_ = {
            str(k): float(v) for k, v in data.get("validation_log_loss", {}).items()
        }
        return calibrator


# The name training/ imports: a calibrator whose default method is Platt scaling.
PlattCalibrator = Calibrator
