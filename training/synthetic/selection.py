"""Step 6, selection: which declarations were inspected in the past, and what was found.

Past selection is a set of targeting rules plus a random share, and each declaration's
selection probability is recorded (the model needs it to correct for selection bias). The
inspection type follows what a rule looks for, and inspections miss some cases,
documentary checks most of the hidden ones. `select_and_inspect` reads the generator,
`Traffic`, `Goods`, `Truth` and the watchlist hits, and returns the outcome rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from training.synthetic import catalogue as cat
from training.synthetic.draws import among, contains_leg
from training.synthetic.goods import Goods
from training.synthetic.traffic import IMPORT, SEGMENT, Traffic
from training.synthetic.truth import Truth, planted

RANDOM_SELECTION_PROBABILITY = 0.03
# Border crossings on the migrant corridors where lorries are profiled.
_CORRIDOR_OFFICES = (
    "MK-BOGORODICA",
    "MK-TABANOVCE",
    "RS-PRESEVO",
    "RS-HORGOS",
    "RS-BATROVCI",
    "AL-KAKAVIJA",
    "AL-HANI-I-HOTIT",
    "ME-VRACENOVICI",
    "BA-KLOBUK",
)
_WEAPON_RULES = (
    "HS chapter 93",
    "parts by post from high-risk dispatch",
    "watchlist hit",
    "cars from BA/RS towards the EU",
)
_DUTY_RULES = ("apparel and footwear from CN", "high duty, non-preferential origin")
# Chance that an inspection of each type finds a case that is there.
_DETECTION = {
    "weapons": {"physical": 0.95, "scan": 0.8, "documentary": 0.4},
    "migrants": {"physical": 0.97, "scan": 0.95, "documentary": 0.5},
    "revenue": {"physical": 0.85, "scan": 0.6, "documentary": 0.9},
}


@dataclass(frozen=True)
class Inspections:
    """The inspected rows (indices into the declarations) and their outcome columns.

    `columns` holds the outcome table's columns for those rows, except `declaration_id`
    and `inspected_at`, which are given as `inspected_at_seconds` since the first day.
    """

    rows: np.ndarray
    columns: dict[str, Any]


def select_and_inspect(
    rng: np.random.Generator,
    traffic: Traffic,
    goods: Goods,
    truth: Truth,
    watchlist_hit: np.ndarray,
) -> Inspections:
    """Past selection (rules plus random share) and what the inspections found."""
    n = traffic.n
    corridor = (
        traffic.is_segment("truck", "van")
        & among(traffic.office, _CORRIDOR_OFFICES)
        & contains_leg(traffic.route, cat.MIGRANT_CORRIDOR_LEGS)
    )
    parcel = traffic.is_segment("express", "postal")
    rule_probability = np.zeros(n)
    rule_name = np.full(n, None, dtype=object)
    for name, applies, probability in _rules(traffic, goods, watchlist_hit, corridor, parcel):
        better = applies & (probability > rule_probability)
        rule_probability[better] = probability
        rule_name[better] = name
    by_rule = rng.random(n) < rule_probability
    by_chance = rng.random(n) < RANDOM_SELECTION_PROBABILITY
    inspected = by_rule | by_chance
    selection_probability = 1.0 - (1.0 - rule_probability) * (1.0 - RANDOM_SELECTION_PROBABILITY)
    rows = np.flatnonzero(inspected)
    m = len(rows)
    by_rule, rule_name = by_rule[rows], rule_name[rows]
    reason = np.where(by_rule, "rule", "random").astype(object)
    notes = np.where(by_rule, "profile: " + rule_name.astype(str), "random selection").astype(
        object
    )

    # Inspection type follows what the selection looks for.
    kind = rng.choice(
        np.array(["physical", "documentary", "scan"], dtype=object), m, p=[0.45, 0.4, 0.15]
    )
    looks_for_people = corridor[rows] & by_rule
    kind[looks_for_people] = np.where(
        rng.random(int(looks_for_people.sum())) < 0.7, "scan", "physical"
    )
    kind[by_rule & among(rule_name, _WEAPON_RULES)] = "physical"
    looks_for_duty = by_rule & among(rule_name, _DUTY_RULES)
    kind[looks_for_duty] = np.where(
        rng.random(int(looks_for_duty.sum())) < 0.8, "documentary", "physical"
    )

    # Inspections miss some cases, documentary checks most of the hidden ones.
    found: dict[str, np.ndarray] = {}
    for threat, present in (
        ("weapons", planted(truth.weapons_scheme[rows])),
        ("migrants", planted(truth.migrants_scheme[rows])),
        ("revenue", planted(truth.revenue_scheme[rows])),
    ):
        detection = _DETECTION[threat]
        chance = np.select([kind == k for k in detection], list(detection.values()), 0.0)
        found[threat] = present & (rng.random(m) < chance)

    concealment = np.full(m, None, dtype=object)
    revenue_text = np.array(
        [cat.REVENUE_CONCEALMENT.get(s, "") for s in truth.revenue_scheme[rows]], dtype=object
    )
    concealment[found["revenue"]] = revenue_text[found["revenue"]]
    migrant_text = rng.choice(np.array(cat.MIGRANT_CONCEALMENT, dtype=object), m)
    concealment[found["migrants"]] = migrant_text[found["migrants"]]
    weapon_text = rng.choice(np.array(cat.WEAPON_CONCEALMENT, dtype=object), m)
    concealment[found["weapons"]] = weapon_text[found["weapons"]]
    irregular = found["weapons"] | found["migrants"] | found["revenue"]
    delay_hours = np.where(
        parcel[rows], rng.uniform(4, 72, m), np.exp(np.log(2.0) + 0.8 * rng.standard_normal(m))
    )
    columns: dict[str, Any] = {
        "inspected_at_seconds": traffic.lodged_seconds()[rows]
        + np.round(delay_hours * 3600).astype(np.int64),
        "inspection_type": kind,
        "selection_reason": reason,
        "selection_probability": np.round(selection_probability[rows], 6),
        "result": np.where(irregular, "irregular", "clear").astype(object),
        "weapons_found": found["weapons"],
        "migrants_found": np.where(found["migrants"], truth.migrants_count[rows], 0).astype(
            np.float64
        ),
        "revenue_irregularity": found["revenue"],
        "additional_duty_eur": np.where(found["revenue"], truth.additional_duty[rows], 0.0),
        "concealment": concealment,
        "notes": notes,
    }
    return Inspections(rows, columns)


def _rules(
    traffic: Traffic,
    goods: Goods,
    watchlist_hit: np.ndarray,
    corridor: np.ndarray,
    parcel: np.ndarray,
) -> list[tuple[str, np.ndarray, float]]:
    """The targeting rules of the past: (name, rows it applies to, selection probability)."""
    chapter = np.array([c.hs_code[:2] for c in cat.COMMODITIES], dtype=object)[goods.hs]
    heading = np.array([c.hs_code[:4] for c in cat.COMMODITIES], dtype=object)[goods.hs]
    night = np.isin(traffic.hour, cat.NIGHT_HOURS)
    disguise = among(heading, ["7318", "8487", "8708", "3916", "8485"])
    non_preferential = ~among(goods.origin, list(cat.PREFERENTIAL_ORIGINS))
    duty = np.nan_to_num(goods.duty)
    car_to_eu = (
        (traffic.segment == SEGMENT["car"])
        & among(traffic.dispatch, ["BA", "RS"])
        & ~among(traffic.destination, list(cat.REGION))
    )
    return [
        ("HS chapter 93", chapter == "93", 0.6),
        ("watchlist hit", watchlist_hit, 0.5),
        ("migrant corridor lorry at night", corridor & night, 0.25),
        ("migrant corridor lorry", corridor, 0.12),
        (
            "parts by post from high-risk dispatch",
            parcel & disguise & among(traffic.dispatch, ["US", "TR"]),
            0.2,
        ),
        (
            "apparel and footwear from CN",
            among(chapter, ["61", "62", "64"]) & (goods.origin == "CN") & (traffic.flow == IMPORT),
            0.2,
        ),
        ("high duty, non-preferential origin", (duty >= 20) & non_preferential, 0.15),
        ("cars from BA/RS towards the EU", car_to_eu, 0.08),
    ]
