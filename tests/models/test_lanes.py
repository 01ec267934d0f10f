"""Lanes: the shares of red and yellow match the configured capacity, globally and per office."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from models.lanes import LanePolicy, capacity_threshold


def shares(lanes: np.ndarray) -> tuple[float, float]:
    return float(np.mean(lanes == "red")), float(np.mean(lanes == "yellow"))


def test_hand_computed_thresholds_on_one_hundred_scores() -> None:
    scores = np.arange(1, 101) / 100  # 0.01 .. 1.00
    policy = LanePolicy(red=0.02, yellow=0.08).fit(scores, ["X"] * 100)
    # Top 2 are red (>= 0.99), the next 8 yellow (>= 0.91), the rest green.
    assert policy.global_thresholds_ == {"red": 0.99, "yellow": 0.91}
    lanes = policy.assign(scores, ["X"] * 100)
    assert lanes[-2:].tolist() == ["red", "red"]
    assert lanes[-10:-2].tolist() == ["yellow"] * 8
    assert (lanes[:-10] == "green").all()


def test_global_shares_match_capacity_on_random_scores() -> None:
    rng = np.random.default_rng(0)
    scores = rng.beta(0.5, 8, 10_000)
    offices = rng.choice(["A", "B"], 10_000)
    policy = LanePolicy(red=0.02, yellow=0.08, min_office_rows=20_000).fit(scores, offices)
    assert shares(policy.assign(scores, offices)) == (0.02, 0.08)
    # New declarations from the same distribution land close to capacity.
    fresh = rng.beta(0.5, 8, 50_000)
    red, yellow = shares(policy.assign(fresh, rng.choice(["A", "B"], 50_000)))
    assert red == pytest.approx(0.02, abs=0.003)
    assert yellow == pytest.approx(0.08, abs=0.005)


def test_each_office_meets_its_own_capacity() -> None:
    rng = np.random.default_rng(1)
    offices = np.array(
        ["MK-TAB"] * 4_000 + ["RS-HOR"] * 3_000 + ["AL-DUR"] * 2_000 + ["ME-BAR"] * 40
    )
    # Offices differ in risk: the same global threshold would flood RS-HOR and starve MK-TAB.
    scores = np.concatenate(
        [
            rng.beta(0.5, 12, 4_000),
            rng.beta(2, 5, 3_000),
            rng.beta(1, 3, 2_000),
            rng.beta(1, 3, 40),
        ]
    )
    policy = LanePolicy(
        red=0.02,
        yellow=0.08,
        offices={"AL-DUR": {"red": 0.05, "yellow": 0.10}, "ME-BAR": (0.25, 0.25)},
        min_office_rows=100,
    ).fit(scores, offices)
    lanes = policy.assign(scores, offices)
    assert shares(lanes[offices == "MK-TAB"]) == (0.02, 0.08)
    assert shares(lanes[offices == "RS-HOR"]) == (0.02, 0.08)
    assert shares(lanes[offices == "AL-DUR"]) == (0.05, 0.10)
    # ME-BAR has 40 rows, below min_office_rows: its capacity applied to all offices' scores.
    ordered = np.sort(scores)[::-1]
    assert policy.office_thresholds_["ME-BAR"] == {
        "red": capacity_threshold(ordered, 0.25),
        "yellow": capacity_threshold(ordered, 0.50),
        "rows": 40,
        "reference": "global",
    }
    # An office never seen in fit uses the global thresholds.
    unseen = policy.assign([policy.global_thresholds_["red"], 0.0], ["XK-JAR", "XK-JAR"])
    assert unseen.tolist() == ["red", "green"]


def test_zero_capacity_selects_nobody_and_survives_json() -> None:
    scores = np.linspace(0, 1, 500)
    policy = LanePolicy(red=0.0, yellow=0.0).fit(scores, ["A"] * 500)
    data = json.loads(json.dumps(policy.to_dict(), allow_nan=False))
    assert data["thresholds"]["global"] == {"red": None, "yellow": None}
    restored = LanePolicy.from_dict(data)
    assert restored.global_thresholds_ == {"red": math.inf, "yellow": math.inf}
    assert (restored.assign(scores, ["A"] * 500) == "green").all()


def test_json_round_trip_assigns_the_same_lanes() -> None:
    rng = np.random.default_rng(2)
    scores = rng.random(2_000)
    offices = rng.choice(["A", "B", "C"], 2_000)
    policy = LanePolicy(offices={"C": {"red": 0.1, "yellow": 0.1}}, min_office_rows=300)
    policy.fit(scores, offices)
    restored = LanePolicy.from_dict(json.loads(json.dumps(policy.to_dict())))
    np.testing.assert_array_equal(restored.assign(scores, offices), policy.assign(scores, offices))
    assert restored.to_dict() == policy.to_dict()


def test_impossible_capacity_is_refused() -> None:
    with pytest.raises(ValueError) as error:
        LanePolicy(offices={"A": {"red": 0.7, "yellow": 0.5}}).fit([0.1, 0.2], ["A", "B"])
    assert str(error.value) == (
        "office A: lane shares must be between 0 and 1 and red + yellow at most 1, "
        "got red=0.7, yellow=0.5"
    )
