"""FeatureBuilder, Calibrator and LanePolicy keep scikit-learn's estimator contract.

`clone` gives an unfitted copy with equal parameters that refits to the same outputs,
`get_params` / `set_params` round-trip, and any use before `fit` raises `NotFittedError`
(naming the class), never an ``AttributeError`` on a missing learned attribute.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError

from features.builder import FeatureBuilder
from features.columns import DeclarationColumns
from models.calibration import Calibrator
from models.lanes import LanePolicy
from tests.features.builder_frames import generated_frames


@dataclass(frozen=True)
class Case:
    """How to build, fit and use one estimator in these tests."""

    make: Callable[[], BaseEstimator]
    fit: Callable[[BaseEstimator], BaseEstimator]
    output: Callable[[BaseEstimator], Any]  # what a fitted estimator computes, as a frame
    uses: dict[str, Callable[[BaseEstimator], Any]]  # every method that needs a fitted state
    other_params: dict[str, Any]  # valid parameters that differ from make()'s


RNG = np.random.default_rng(0)
MARGINS = RNG.normal(0, 2, 400)
LABELS = (RNG.random(400) < 1 / (1 + np.exp(-MARGINS))).astype(float)
OVERALL = RNG.random(400)
OFFICES = RNG.choice(["MK-TAB", "RS-HOR"], 400)
DECLARATIONS, FEATURE_LABELS, WATCHLIST = generated_frames(200, seed=3)

CASES = {
    "calibrator": Case(
        make=lambda: Calibrator("auto", regularization=100.0, folds=3, random_state=2),
        fit=lambda estimator: estimator.fit(MARGINS, LABELS),
        output=lambda fitted: pd.DataFrame({"risk": fitted.predict(MARGINS)}),
        uses={
            "predict": lambda estimator: estimator.predict(MARGINS),
            "to_dict": lambda estimator: estimator.to_dict(),
        },
        other_params={"method": "isotonic", "folds": 4},
    ),
    "lane_policy": Case(
        make=lambda: LanePolicy(0.05, 0.1, {"MK-TAB": {"red": 0.1, "yellow": 0.2}}),
        fit=lambda estimator: estimator.fit(OVERALL, OFFICES),
        output=lambda fitted: pd.DataFrame({"lane": fitted.assign(OVERALL, OFFICES)}),
        uses={
            "assign": lambda estimator: estimator.assign(OVERALL, OFFICES),
            "to_dict": lambda estimator: estimator.to_dict(),
        },
        other_params={"red": 0.01, "offices": None, "min_office_rows": 10},
    ),
    "feature_builder": Case(
        make=lambda: FeatureBuilder(("weapons", "migrants", "revenue"), text_folds=3),
        fit=lambda estimator: estimator.fit(DECLARATIONS, FEATURE_LABELS),
        output=lambda fitted: fitted.transform(DECLARATIONS),
        uses={
            "transform": lambda estimator: estimator.transform(DECLARATIONS),
            "transform_columns": lambda estimator: estimator.transform_columns(
                DeclarationColumns(DECLARATIONS)
            ),
            "transform_point_in_time": lambda estimator: estimator.transform_point_in_time(
                DECLARATIONS, FEATURE_LABELS
            ),
            "live_point_in_time": lambda estimator: estimator.live_point_in_time(
                DECLARATIONS, FEATURE_LABELS, WATCHLIST
            ),
            "save": lambda estimator: estimator.save(Path("/nonexistent/shiprisk-features")),
        },
        other_params={"prior_strength": 5.0, "extra_numeric": ("x_tax",), "random_state": 3},
    ),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> tuple[Case, BaseEstimator]:
    """A case and an estimator fitted by it."""
    chosen = CASES[request.param]
    return chosen, chosen.fit(chosen.make())


def test_fit_returns_the_estimator_itself(case) -> None:
    chosen, _ = case
    estimator = chosen.make()
    assert chosen.fit(estimator) is estimator


def test_clone_gives_an_unfitted_copy_with_equal_params(case) -> None:
    chosen, fitted = case
    copy = clone(fitted)
    assert type(copy) is type(fitted)
    assert copy.get_params() == fitted.get_params() == chosen.make().get_params()
    for use in chosen.uses.values():
        with pytest.raises(NotFittedError, match=f"This {type(copy).__name__} instance is not"):
            use(copy)
    # The original keeps its fitted state, and the copy refits to the same outputs.
    pd.testing.assert_frame_equal(
        chosen.output(chosen.fit(copy)), chosen.output(fitted), check_exact=True
    )


def test_every_use_before_fit_raises_not_fitted(case) -> None:
    chosen, _ = case
    for name, use in chosen.uses.items():
        with pytest.raises(NotFittedError) as error:
            use(chosen.make())
        assert "not fitted yet" in str(error.value), name


def test_set_params_and_get_params_round_trip(case) -> None:
    chosen, _ = case
    estimator = chosen.make()
    original = estimator.get_params()
    assert not set(chosen.other_params) - set(original)
    assert estimator.set_params(**chosen.other_params) is estimator
    assert estimator.get_params() == {**original, **chosen.other_params}
    assert clone(estimator).get_params() == {**original, **chosen.other_params}
    estimator.set_params(**original)
    assert estimator.get_params() == original
    with pytest.raises(ValueError, match="Invalid parameter 'colour'"):
        estimator.set_params(colour="red")


def test_learned_attributes_end_in_underscore_and_only_fit_sets_them(case) -> None:
    chosen, fitted = case
    unfitted = chosen.make()
    assert set(vars(unfitted)) == set(unfitted.get_params())
    learned = set(vars(fitted)) - set(unfitted.get_params())
    public = {name for name in learned if not name.startswith("_")}
    assert public and all(name.endswith("_") for name in public)
