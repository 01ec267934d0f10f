"""Which declarations an office inspects today: top expected harm plus a random share.

Pure selection logic, no database. The day's scored declarations are ranked by expected harm
(per-threat risk times a severity weight). Capacity is filled mostly from the top of that
ranking; an exploration share of the slots goes to declarations drawn at random from the
rest, each with a known inclusion probability. Those probabilities are what make unbiased hit
rates possible later: a Horvitz-Thompson estimate weighs each random pick by one over its
probability (DOMAIN.md: without random selection the model learns its own blind spots).

The number of exploration slots is ``capacity x share`` rounded at random (up with the
probability of its fractional part), so that a 5% share still explores at an office that
inspects ten declarations a day, and the logged probabilities stay exact.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np

SelectionReason = Literal["model", "random", "rule"]

DEFAULT_EXPLORATION_SHARE = 0.05
# Harm of a missed case relative to a missed revenue irregularity: a weapon or people hidden
# in a lorry weigh more than unpaid duty. Configurable per deployment (settings).
DEFAULT_SEVERITY: dict[str, float] = {"weapons": 10.0, "migrants": 10.0, "revenue": 1.0}


@dataclass(frozen=True)
class Candidate:
    """A scored declaration that could be inspected today."""

    declaration_id: str
    risk: Mapping[str, float]


@dataclass(frozen=True)
class Pick:
    """One declaration on the worklist, why it is there, and its inclusion probability."""

    declaration_id: str
    rank: int  # 1 = inspect first
    reason: SelectionReason
    selection_probability: float
    expected_harm: float


def expected_harm(risk: Mapping[str, float], severity: Mapping[str, float]) -> float:
    """Sum over threats of risk times severity weight; threats without a weight count 1."""
    return float(sum(r * severity.get(threat, 1.0) for threat, r in risk.items()))


def selection_seed(office_id: str, day: date) -> int:
    """A seed fixed by office and day: asking again draws the same random picks."""
    digest = hashlib.sha256(f"{office_id}|{day.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def exploration_slots_range(capacity: int, share: float) -> tuple[int, float]:
    """``(floor(capacity x share), fractional part)``: slots and the chance of one more."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"exploration share must lie between 0 and 1, got {share}")
    expected = capacity * share
    base = math.floor(expected + 1e-12)
    return base, max(0.0, expected - base)


def inclusion_probabilities(n: int, capacity: int, share: float) -> np.ndarray:
    """Probability that the declaration at each harm rank (0 = highest) is picked.

    With ``k`` exploration slots the top ``capacity - k`` are picked for sure and each of the
    ``n - capacity + k`` others with probability ``k / (n - capacity + k)``; ``k`` itself is
    ``floor(c s)`` or one more with probability ``frac(c s)``, so each probability is the
    mixture of the two cases.
    """
    if capacity >= n:
        return np.ones(n)
    base, extra = exploration_slots_range(capacity, share)
    probability = np.zeros(n)
    for slots, weight in ((base, 1.0 - extra), (base + 1, extra)):
        if weight <= 0.0:
            continue
        slots = min(slots, capacity)
        top = capacity - slots
        pool = n - top
        probability[:top] += weight
        probability[top:] += weight * slots / pool
    return probability


def select_worklist(
    candidates: Sequence[Candidate],
    capacity: int,
    *,
    severity: Mapping[str, float],
    exploration_share: float = DEFAULT_EXPLORATION_SHARE,
    seed: int,
    mandatory: Collection[str] = (),
) -> list[Pick]:
    """Fill ``capacity`` inspections from ``candidates``.

    Args:
        candidates: the day's scored declarations at one office.
        capacity: inspections the office can do that day.
        severity: weight per threat for expected harm.
        exploration_share: expected share of the capacity given to random picks.
        seed: makes the draw reproducible (see `selection_seed`).
        mandatory: declarations a risk rule selects whatever the model says: picked first,
            probability 1, reason ``rule``; they use capacity.

    Returns:
        Picks ordered by rank: rules, then model picks by harm, then random picks by harm.
    """
    if capacity < 0:
        raise ValueError(f"capacity must be 0 or more, got {capacity}")
    harm = {c.declaration_id: expected_harm(c.risk, severity) for c in candidates}
    # Highest harm first; the id breaks ties so the ranking never depends on input order.
    ranked = sorted(harm, key=lambda d: (-harm[d], d))
    required = set(mandatory) & set(harm)
    rules = [d for d in ranked if d in required][:capacity]
    remaining = [d for d in ranked if d not in required]
    room = capacity - len(rules)

    rng = np.random.default_rng(seed)
    base, extra = exploration_slots_range(room, exploration_share)
    slots = base + int(rng.random() < extra)
    if room >= len(remaining):
        top, drawn = remaining, []
    else:
        slots = min(slots, room)
        top = remaining[: room - slots]
        pool = remaining[room - slots :]
        chosen = rng.choice(len(pool), size=slots, replace=False) if slots else np.array([], int)
        drawn = sorted((pool[i] for i in chosen), key=lambda d: (-harm[d], d))
    probability = inclusion_probabilities(len(remaining), room, exploration_share)
    rank_of = {d: i for i, d in enumerate(remaining)}

    picks: list[Pick] = []
    for declaration_id in rules:
        picks.append(Pick(declaration_id, len(picks) + 1, "rule", 1.0, harm[declaration_id]))
    for reason, chosen_ids in (("model", top), ("random", drawn)):
        for declaration_id in chosen_ids:
            picks.append(
                Pick(
                    declaration_id,
                    len(picks) + 1,
                    reason,  # type: ignore[arg-type]
                    float(probability[rank_of[declaration_id]]),
                    harm[declaration_id],
                )
            )
    return picks
