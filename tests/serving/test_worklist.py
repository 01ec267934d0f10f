"""Worklist selection alone: capacity, exploration share, and probabilities that are true."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from serving.inspections.worklist import (
    Candidate,
    ProfileMatch,
    ProfilePick,
    expected_harm,
    inclusion_probabilities,
    profile_pick,
    select_worklist,
    selection_seed,
)

SEVERITY = {"weapons": 10.0, "migrants": 10.0, "revenue": 1.0}


def candidates(n: int) -> list[Candidate]:
    """Declarations D000.. with revenue risk falling with the number: D000 is the riskiest."""
    return [Candidate(f"D{i:03d}", {"revenue": 1.0 - i / (n + 1)}) for i in range(n)]


def test_expected_harm_weighs_each_threat_by_its_severity() -> None:
    # 0.1 x 10 + 0.02 x 10 + 0.5 x 1 = 1.7; an unconfigured threat weighs 1.
    assert expected_harm({"weapons": 0.1, "migrants": 0.02, "revenue": 0.5}, SEVERITY) == (
        pytest.approx(1.7)
    )
    assert expected_harm({"drugs": 0.3}, SEVERITY) == pytest.approx(0.3)


def test_weapons_risk_outranks_a_larger_revenue_risk() -> None:
    pool = [Candidate("A", {"revenue": 0.9}), Candidate("B", {"weapons": 0.1})]
    picks = select_worklist(pool, 1, severity=SEVERITY, exploration_share=0.0, seed=1)
    assert [(p.declaration_id, p.reason, p.selection_probability) for p in picks] == [
        ("B", "model", 1.0)
    ]


@pytest.mark.parametrize("capacity", [0, 1, 7, 20, 49])
def test_capacity_is_filled_and_never_exceeded(capacity: int) -> None:
    picks = select_worklist(candidates(50), capacity, severity=SEVERITY, seed=5)
    assert len(picks) == capacity
    assert len({p.declaration_id for p in picks}) == capacity
    assert [p.rank for p in picks] == list(range(1, capacity + 1))


def test_a_small_day_is_inspected_whole_with_certainty() -> None:
    picks = select_worklist(candidates(3), 10, severity=SEVERITY, seed=5)
    assert [(p.declaration_id, p.reason, p.selection_probability) for p in picks] == [
        ("D000", "model", 1.0),
        ("D001", "model", 1.0),
        ("D002", "model", 1.0),
    ]


def test_twenty_slots_at_five_percent_give_nineteen_top_picks_and_one_random() -> None:
    picks = select_worklist(candidates(100), 20, severity=SEVERITY, exploration_share=0.05, seed=9)
    model = [p for p in picks if p.reason == "model"]
    random = [p for p in picks if p.reason == "random"]
    assert [p.declaration_id for p in model] == [f"D{i:03d}" for i in range(19)]
    assert all(p.selection_probability == 1.0 for p in model)
    # one slot drawn among the 81 declarations below the top 19
    assert len(random) == 1
    assert random[0].selection_probability == pytest.approx(1 / 81)
    assert int(random[0].declaration_id[1:]) >= 19


def test_exploration_share_is_respected_on_average_when_slots_are_fractional() -> None:
    # 10 x 5% = 0.5 slots: no random pick or one, each about half of the days.
    counts = [
        sum(
            p.reason == "random"
            for p in select_worklist(candidates(60), 10, severity=SEVERITY, seed=s)
        )
        for s in range(2000)
    ]
    assert set(counts) == {0, 1}
    share = np.mean(counts) / 10
    # binomial standard error of the mean count: sqrt(0.25 / 2000) = 0.011 slots
    assert abs(share - 0.05) < 4 * 0.011 / 10


def test_the_same_office_and_day_draw_the_same_picks() -> None:
    seed = selection_seed("RS-HORGOS", date(2024, 5, 2))
    assert seed == selection_seed("RS-HORGOS", date(2024, 5, 2))
    assert seed != selection_seed("RS-HORGOS", date(2024, 5, 3))
    assert seed != selection_seed("RS-BATROVCI", date(2024, 5, 2))
    first = select_worklist(candidates(80), 20, severity=SEVERITY, exploration_share=0.2, seed=seed)
    again = select_worklist(
        list(reversed(candidates(80))), 20, severity=SEVERITY, exploration_share=0.2, seed=seed
    )
    assert first == again


def test_rule_selections_come_first_with_certainty_and_use_capacity() -> None:
    picks = select_worklist(
        candidates(30), 5, severity=SEVERITY, exploration_share=0.0, seed=1, mandatory={"D020"}
    )
    assert [(p.declaration_id, p.reason, p.selection_probability) for p in picks] == [
        ("D020", "rule", 1.0),
        ("D000", "model", 1.0),
        ("D001", "model", 1.0),
        ("D002", "model", 1.0),
        ("D003", "model", 1.0),
    ]


def test_inclusion_probabilities_by_hand() -> None:
    # 6 declarations, capacity 3, share 0.5: 1.5 slots -> 1 or 2 with probability 1/2 each.
    # one slot: top 2 certain, 1 of the other 4 (1/4); two slots: top 1, 2 of 5 (2/5).
    expected = [1.0, 0.5 + 0.5 * 2 / 5] + [0.5 * 1 / 4 + 0.5 * 2 / 5] * 4
    assert inclusion_probabilities(6, 3, 0.5) == pytest.approx(expected)
    # the probabilities add up to the capacity: that many are inspected every day
    assert sum(expected) == pytest.approx(3.0)


def test_empirical_selection_frequency_matches_the_logged_probability() -> None:
    """Over many simulated days each declaration is picked as often as its logged probability."""
    n, capacity, share, days = 40, 8, 0.3, 6000  # 2.4 slots: 2 or 3 random picks
    pool = candidates(n)
    picked = np.zeros(n)
    logged: dict[str, set[float]] = {}
    rng = np.random.default_rng(20240501)
    for seed in rng.integers(0, 2**63, size=days):
        for pick in select_worklist(
            pool, capacity, severity=SEVERITY, exploration_share=share, seed=int(seed)
        ):
            picked[int(pick.declaration_id[1:])] += 1
            logged.setdefault(pick.declaration_id, set()).add(round(pick.selection_probability, 12))
    # every declaration is always logged with the same probability
    assert all(len(values) == 1 for values in logged.values())
    probability = np.array([next(iter(logged[f"D{i:03d}"])) for i in range(n)])
    assert probability == pytest.approx(inclusion_probabilities(n, capacity, share))
    frequency = picked / days
    z = (frequency - probability) / np.sqrt(
        np.maximum(probability * (1 - probability), 1e-12) / days
    )
    # 40 two-sided tests at about 1 in 10,000 each (|z| < 3.9); certain picks have z = 0
    assert np.abs(z).max() < 3.9
    # and over the whole random pool, sum of z^2 stays near its degrees of freedom
    uncertain = probability < 1
    assert uncertain.sum() == 35  # the top 5 are certain, whatever the number of slots
    assert np.sum(z[uncertain] ** 2) < 35 + 4 * np.sqrt(2 * 35)


def test_a_share_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match=r"exploration share must lie between 0 and 1, got 1\.5"):
        select_worklist(candidates(5), 2, severity=SEVERITY, exploration_share=1.5, seed=1)


# -- risk profiles first (issue 13, item 6) ------------------------------------------------------


def test_profile_picks_come_first_with_their_probability_then_the_model_fills_the_rest() -> None:
    selected = [ProfilePick("D025", "SALW-POST", 1.0), ProfilePick("D010", "FILAMENT", 0.3)]
    picks = select_worklist(
        candidates(30), 5, severity=SEVERITY, exploration_share=0.0, seed=1, profile_picks=selected
    )
    assert [(p.declaration_id, p.label, p.selection_probability) for p in picks] == [
        ("D025", "profile:SALW-POST", 1.0),  # certain picks before share picks, then by harm
        ("D010", "profile:FILAMENT", 0.3),
        ("D000", "model", 1.0),
        ("D001", "model", 1.0),
        ("D002", "model", 1.0),
    ]
    # stored as a rule naming its profile: the category an outcome records
    assert [(p.reason, p.profile_id) for p in picks[:2]] == [
        ("rule", "SALW-POST"),
        ("rule", "FILAMENT"),
    ]
    assert picks[2].profile_id is None and picks[2].label == "model"


def test_mandatory_picks_beyond_capacity_are_all_listed_and_leave_no_slot() -> None:
    selected = [ProfilePick(f"D{i:03d}", "RED", 1.0) for i in (3, 7, 11, 19)]
    picks = select_worklist(
        candidates(30), 2, severity=SEVERITY, exploration_share=0.5, seed=4, profile_picks=selected
    )
    assert [(p.declaration_id, p.label) for p in picks] == [
        ("D003", "profile:RED"),
        ("D007", "profile:RED"),
        ("D011", "profile:RED"),
        ("D019", "profile:RED"),
    ]
    assert [p.rank for p in picks] == [1, 2, 3, 4]
    # capacity 0: still listed (those among the day's candidates: D003, D007, D011)
    none = select_worklist(candidates(12), 0, severity=SEVERITY, seed=1, profile_picks=selected)
    assert [p.declaration_id for p in none] == ["D003", "D007", "D011"]


def test_a_profile_pick_of_an_unknown_declaration_is_ignored_and_one_pick_per_declaration() -> None:
    selected = [
        ProfilePick("ELSEWHERE", "RED", 1.0),
        ProfilePick("D004", "RED", 1.0),
        ProfilePick("D004", "OTHER", 1.0),
    ]
    picks = select_worklist(
        candidates(10), 2, severity=SEVERITY, exploration_share=0.0, seed=1, profile_picks=selected
    )
    assert [(p.declaration_id, p.label) for p in picks] == [
        ("D004", "profile:RED"),
        ("D000", "model"),
    ]


def test_the_profiles_probability_of_a_declaration() -> None:
    red = ProfileMatch("A-RED", True, 100.0, "red")
    yellow = ProfileMatch("B-YELLOW", True, 100.0, "yellow")
    drawn = ProfileMatch("C-SHARE", True, 30.0, "yellow")
    missed = ProfileMatch("D-SHARE", False, 50.0, "red")
    assert profile_pick("X", []) is None
    assert profile_pick("X", [missed]) is None  # matched, not drawn: the model decides
    assert profile_pick("X", [yellow, red, drawn]) == ProfilePick("X", "A-RED", 1.0)
    assert profile_pick("X", [yellow]) == ProfilePick("X", "B-YELLOW", 1.0)
    # drawn by the 30% profile, and the 50% one had its chance too: 1 - 0.7 x 0.5
    assert profile_pick("X", [drawn, missed]) == ProfilePick("X", "C-SHARE", pytest.approx(0.65))
    assert profile_pick("X", [drawn]) == ProfilePick("X", "C-SHARE", pytest.approx(0.3))


def test_exploration_probabilities_are_exact_given_the_mandatory_picks() -> None:
    """The model and random picks are drawn over the pool the profiles left: each logged
    probability is the exact inclusion probability over that pool, by enumeration of the
    seeds and against the formula."""
    n, capacity, share = 30, 9, 0.4  # 2 mandatory: 7 slots, 2.8 random: 2 or 3
    mandatory = {"D000", "D013"}  # the riskiest and one in the middle
    selected = [ProfilePick(d, "RED", 1.0) for d in sorted(mandatory)]
    pool = [f"D{i:03d}" for i in range(n) if f"D{i:03d}" not in mandatory]
    expected = dict(zip(pool, inclusion_probabilities(len(pool), capacity - 2, share), strict=True))
    # by hand: 7 slots x 0.4 = 2.8 -> 2 random (0.2) or 3 (0.8); top 5 or 4 of the 28 certain
    by_hand = 0.2 * 2 / 23 + 0.8 * 3 / 24
    assert expected["D026"] == pytest.approx(by_hand)
    assert expected["D005"] == pytest.approx(0.2 + 0.8 * 3 / 24)  # 5th of the pool
    days = 4000
    picked = dict.fromkeys(pool, 0)
    logged: dict[str, set[float]] = {}
    for seed in range(days):
        picks = select_worklist(
            candidates(n),
            capacity,
            severity=SEVERITY,
            exploration_share=share,
            seed=seed,
            profile_picks=selected,
        )
        assert {p.declaration_id for p in picks[:2]} == mandatory
        assert len(picks) == capacity
        for pick in picks[2:]:
            picked[pick.declaration_id] += 1
            logged.setdefault(pick.declaration_id, set()).add(round(pick.selection_probability, 12))
    for declaration_id, values in logged.items():
        assert values == {round(expected[declaration_id], 12)}, declaration_id
    # the probabilities of the pool add up to the slots left: 7 inspections a day
    assert sum(expected.values()) == pytest.approx(capacity - 2)
    frequency = np.array([picked[d] / days for d in pool])
    probability = np.array([expected[d] for d in pool])
    z = (frequency - probability) / np.sqrt(
        np.maximum(probability * (1 - probability), 1e-12) / days
    )
    assert np.abs(z).max() < 3.9
