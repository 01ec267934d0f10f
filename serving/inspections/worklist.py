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

Risk profiles come first, as in ASYCUDA's MODSEL (docs/profiles.md, "Worklists"): a
declaration a profile selected is a mandatory pick (reason ``rule`` naming the profile,
answered as ``profile:<id>``), with the probability that the profiles matching it selected it
(1 for a lane, the share for a percentage: `profile_pick`). Mandatory picks are all listed,
even beyond capacity; the model and exploration then share what capacity is left, over the
declarations no profile took, so each of their probabilities is the exact inclusion
probability given the profile picks (what a Horvitz-Thompson estimate over that pool needs).
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
    profile_id: str | None = None  # a rule pick's risk profile

    @property
    def label(self) -> str:
        """The reason as answered: ``profile:<id>`` for a profile's pick."""
        return pick_label(self.reason, self.profile_id)


def pick_label(reason: str, profile_id: str | None) -> str:
    """``profile:<id>`` for a pick a risk profile made, else the reason itself."""
    return f"{PROFILE_REASON_PREFIX}{profile_id}" if profile_id else reason


PROFILE_REASON_PREFIX = "profile:"


@dataclass(frozen=True)
class ProfileMatch:
    """A risk profile that matched a declaration when it was scored, and what it did then."""

    profile_id: str
    selected: bool  # its action selected the declaration (a share: the draw picked it)
    percent: float  # 100: every match; below: the share of matches it selects
    lane: str = "red"


@dataclass(frozen=True)
class ProfilePick:
    """A declaration the profiles selected: the profile named, and the probability."""

    declaration_id: str
    profile_id: str
    probability: float


LANE_ORDER = {"red": 0, "yellow": 1}


def profile_pick(declaration_id: str, matches: Sequence[ProfileMatch]) -> ProfilePick | None:
    """The mandatory pick the matching profiles make of a declaration, or None.

    A profile selecting every match makes it certain (probability 1; a red one named before a
    yellow one, then by id). Otherwise each share profile drew it independently (the hash
    draw of `features.profiles.selection_draw`), so the probability that at least one did is
    ``1 - prod(1 - share)`` over every share profile that matched, drawn or not; the profile
    named is the drawn one with the strongest lane, then the largest share.
    """
    chosen = [m for m in matches if m.selected]
    if not chosen:
        return None
    certain = [m for m in chosen if m.percent >= 100.0]
    if certain:
        first = min(certain, key=lambda m: (LANE_ORDER.get(m.lane, 2), m.profile_id))
        return ProfilePick(declaration_id, first.profile_id, 1.0)
    missed = math.prod(1.0 - m.percent / 100.0 for m in matches if m.percent < 100.0)
    first = min(chosen, key=lambda m: (LANE_ORDER.get(m.lane, 2), -m.percent, m.profile_id))
    return ProfilePick(declaration_id, first.profile_id, 1.0 - missed)


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
    profile_picks: Sequence[ProfilePick] = (),
) -> list[Pick]:
    """Fill ``capacity`` inspections from ``candidates``, after the mandatory picks.

    Args:
        candidates: the day's scored declarations at one office.
        capacity: inspections the office can do that day.
        severity: weight per threat for expected harm.
        exploration_share: expected share of the remaining capacity given to random picks.
        seed: makes the draw reproducible (see `selection_seed`).
        mandatory: declarations a risk rule selects whatever the model says: picked first,
            probability 1, reason ``rule``.
        profile_picks: declarations risk profiles selected (`profile_pick`): picked first too,
            reason ``rule`` naming the profile, with the profiles' probability.

    Mandatory and profile picks are all listed, even beyond ``capacity`` (the caller tells
    that the office cannot inspect them all); they use capacity, and the model and
    exploration fill what is left of it from the other candidates.

    Returns:
        Picks ordered by rank: certain rule and profile picks, the profiles' share picks,
        then model picks by harm, then random picks by harm (each group by harm).
    """
    if capacity < 0:
        raise ValueError(f"capacity must be 0 or more, got {capacity}")
    harm = {c.declaration_id: expected_harm(c.risk, severity) for c in candidates}
    # Highest harm first; the id breaks ties so the ranking never depends on input order.
    ranked = sorted(harm, key=lambda d: (-harm[d], d))
    required: dict[str, ProfilePick] = {}
    for pick in profile_picks:
        if pick.declaration_id in harm and pick.declaration_id not in required:
            required[pick.declaration_id] = pick
    for declaration_id in mandatory:
        if declaration_id in harm:  # a rule of its own is certain: it outranks a share
            required[declaration_id] = ProfilePick(declaration_id, "", 1.0)
    rules = sorted(
        (d for d in ranked if d in required), key=lambda d: required[d].probability < 1.0
    )  # stable: certain picks first, each group by harm
    remaining = [d for d in ranked if d not in required]
    room = max(0, capacity - len(rules))

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
        rule = required[declaration_id]
        picks.append(
            Pick(
                declaration_id,
                len(picks) + 1,
                "rule",
                rule.probability,
                harm[declaration_id],
                rule.profile_id or None,
            )
        )
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
