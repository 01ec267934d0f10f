"""Calibration: monotone, well fitted on a known case, robust with rare positives, plain data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models.calibration import PROBABILITY_FLOOR, Calibrator


def logistic_case(n: int, slope: float, intercept: float, seed: int = 0):
    """Margins whose true probability is sigmoid(slope * margin + intercept)."""
    rng = np.random.default_rng(seed)
    margin = rng.normal(0.0, 2.0, n)
    labels = (rng.random(n) < 1 / (1 + np.exp(-(slope * margin + intercept)))).astype(float)
    return margin, labels


def test_platt_recovers_a_known_sigmoid() -> None:
    margin, labels = logistic_case(40_000, slope=0.7, intercept=-3.0)
    calibrator = Calibrator().fit(margin, labels)
    assert calibrator.method_ == "platt"
    assert calibrator.slope_ == pytest.approx(0.7, abs=0.04)
    assert calibrator.intercept_ == pytest.approx(-3.0, abs=0.08)
    # sigmoid(0.7 * 2 - 3) = sigmoid(-1.6) = 0.1680
    assert calibrator.predict([2.0])[0] == pytest.approx(0.1680, abs=0.01)


@pytest.mark.parametrize("method", ["platt", "isotonic", "auto"])
def test_calibration_never_reverses_the_ranking(method: str) -> None:
    margin, labels = logistic_case(3_000, slope=1.2, intercept=-2.0, seed=1)
    calibrator = Calibrator(method).fit(margin, labels)
    grid = np.linspace(-12, 12, 2_001)
    steps = np.diff(calibrator.predict(grid))
    assert (steps >= 0).all()
    if calibrator.method_ == "platt":
        assert (steps > 0).all()  # strictly: Platt never ties two declarations


def test_rare_positives_give_a_finite_fit_near_the_base_rate() -> None:
    rng = np.random.default_rng(2)
    margin = rng.normal(-4.0, 1.0, 5_000)
    labels = np.zeros(5_000)
    labels[np.argsort(margin)[-3:]] = 1.0  # three seizures, at the highest margins
    calibrator = Calibrator().fit(margin, labels)
    probability = calibrator.predict(margin)
    assert np.isfinite(calibrator.slope_) and calibrator.slope_ > 0
    # Platt's smoothed targets: mean probability close to (3 + 1) / 5_000, not 0 and not 1.
    assert probability.mean() == pytest.approx(4 / 5_000, rel=0.3)
    assert probability.max() < 0.5


def test_no_positive_at_all_still_calibrates_low() -> None:
    margin = np.linspace(-5, 1, 1_000)
    calibrator = Calibrator().fit(margin, np.zeros(1_000))
    probability = calibrator.predict(margin)
    assert probability.max() < 0.01
    assert (np.diff(probability) > 0).all()


def test_sample_weight_two_equals_the_row_twice() -> None:
    margin, labels = logistic_case(2_000, slope=1.0, intercept=-1.0, seed=3)
    weights = np.where(np.arange(2_000) % 2 == 0, 2.0, 1.0)
    twice = np.arange(2_000)[::2]
    weighted = Calibrator().fit(margin, labels, sample_weight=weights)
    duplicated = Calibrator().fit(
        np.concatenate([margin, margin[twice]]), np.concatenate([labels, labels[twice]])
    )
    # Platt's targets count weights, so the two fits are the same up to the solver's tolerance.
    assert weighted.slope_ == pytest.approx(duplicated.slope_, rel=1e-4)
    assert weighted.intercept_ == pytest.approx(duplicated.intercept_, rel=1e-4)


def test_auto_chooses_isotonic_only_when_the_truth_is_not_a_sigmoid() -> None:
    rng = np.random.default_rng(4)
    margin = rng.uniform(-3, 3, 6_000)
    # A step: 2% below margin 1, 60% above; a sigmoid cannot bend like that.
    step_labels = (rng.random(6_000) < np.where(margin > 1.0, 0.6, 0.02)).astype(float)
    step = Calibrator("auto").fit(margin, step_labels)
    assert step.method_ == "isotonic"
    assert step.validation_log_loss_["isotonic"] < step.validation_log_loss_["platt"]
    assert step.predict([0.0])[0] == pytest.approx(0.02, abs=0.01)
    assert step.predict([2.0])[0] == pytest.approx(0.6, abs=0.05)

    sigmoid_margin, sigmoid_labels = logistic_case(6_000, slope=1.0, intercept=-1.0, seed=5)
    assert Calibrator("auto").fit(sigmoid_margin, sigmoid_labels).method_ == "platt"


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_json_round_trip_predicts_the_same(method: str) -> None:
    margin, labels = logistic_case(1_000, slope=1.0, intercept=-2.0, seed=6)
    calibrator = Calibrator(method).fit(margin, labels)
    restored = Calibrator.from_dict(json.loads(json.dumps(calibrator.to_dict())))
    np.testing.assert_array_equal(restored.predict(margin), calibrator.predict(margin))
    assert restored.to_dict() == calibrator.to_dict()


def test_probabilities_stay_inside_zero_and_one() -> None:
    calibrator = Calibrator.from_dict({"method": "platt", "slope": 1.0, "intercept": 0.0})
    probability = calibrator.predict([-1e6, 1e6])
    assert probability.tolist() == [PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR]


def test_malformed_data_is_refused() -> None:
    with pytest.raises(ValueError) as error:
        Calibrator.from_dict({"method": "platt", "slope": -0.5, "intercept": 0.0})
    assert str(error.value) == "platt calibration needs a finite positive slope, got -0.5"
    with pytest.raises(ValueError) as error:
        Calibrator.from_dict({"method": "beta"})
    assert str(error.value) == "unknown calibration method 'beta': expected platt or isotonic"
    with pytest.raises(ValueError) as error:
        Calibrator().fit([0.1, 0.2], [0.0, np.nan])
    assert str(error.value) == "calibration labels must be 0 or 1 (drop uninspected rows first)"


def intelligence_sample(seed: int, n: int = 20_000):
    """Every declaration's margin and true label; inspections: 2% at random, 40% of positives.

    As with a booster's margins, 3% of ordinary traffic sits far above the rest: a few random
    picks sample that tail poorly, which is what anchoring on every margin repairs.
    """
    rng = np.random.default_rng(seed)
    margin = np.where(rng.random(n) < 0.03, rng.normal(0.0, 1.0, n), rng.normal(-4.0, 1.0, n))
    labels = (rng.random(n) < 1 / (1 + np.exp(-(margin - 2.0)))).astype(float)
    probability = np.where(labels == 1.0, 0.4, 0.02)
    inspected = rng.random(n) < probability
    return margin, labels, inspected, probability


def test_anchoring_makes_the_mean_risk_the_weighted_rate_of_the_rows() -> None:
    margin, labels, inspected, probability = intelligence_sample(0)
    weights = 1.0 / probability[inspected]
    free = Calibrator().fit(margin[inspected], labels[inspected], sample_weight=weights)
    anchored = Calibrator().fit(
        margin[inspected], labels[inspected], sample_weight=weights, population_margin=margin
    )
    assert free.anchored_rate_ is None
    assert anchored.slope_ == free.slope_  # the shape is the weighted fit's; only the level moves
    # The rate the weighted Platt fit matches on its rows (up to its weak L2 penalty).
    assert anchored.anchored_rate_ == pytest.approx(
        np.average(free.predict(margin[inspected]), weights=weights), rel=0.01
    )
    assert anchored.predict(margin).mean() == pytest.approx(anchored.anchored_rate_, rel=1e-9)
    restored = Calibrator.from_dict(json.loads(json.dumps(anchored.to_dict())))
    assert restored.anchored_rate_ == anchored.anchored_rate_
    np.testing.assert_array_equal(restored.predict(margin), anchored.predict(margin))


def test_anchoring_brings_the_mean_risk_closer_to_the_true_rate() -> None:
    """Over many inspection draws, the anchored mean risk strays less from the true rate."""
    errors: dict[str, list[float]] = {"free": [], "anchored": []}
    for seed in range(10):
        margin, labels, inspected, probability = intelligence_sample(seed)
        weights = 1.0 / probability[inspected]
        for name, population in (("free", None), ("anchored", margin)):
            calibrator = Calibrator().fit(
                margin[inspected],
                labels[inspected],
                sample_weight=weights,
                population_margin=population,
            )
            errors[name].append(abs(np.log(calibrator.predict(margin).mean() / labels.mean())))
    # Measured: mean |log(mean risk / true rate)| 0.14 free, 0.08 anchored.
    assert np.mean(errors["anchored"]) < 0.75 * np.mean(errors["free"]), errors


def test_isotonic_is_not_anchored() -> None:
    margin, labels, inspected, probability = intelligence_sample(1)
    calibrator = Calibrator("isotonic").fit(
        margin[inspected],
        labels[inspected],
        sample_weight=1.0 / probability[inspected],
        population_margin=margin,
    )
    assert calibrator.anchored_rate_ is None
