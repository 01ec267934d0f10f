"""Threat step, revenue: undervaluation, misclassification and false preferential origin.

Fraud is more likely for high duty, non-preferential origin, repeat-offender importers, new
traders and short-lived phantom traders. `plant_revenue` reads the generator and its
`World`, including the weapons already planted (a row carries one scheme at most); it
registers the phantom traders among the parties, changes the declared value, line or origin
in the goods, and records the scheme, the duty evaded and the repeat offenders in the truth.
"""

from __future__ import annotations

import numpy as np

from training.synthetic import catalogue as cat
from training.synthetic.draws import among, bernoulli_by_weight
from training.synthetic.goods import COMMODITY_INDEX, set_duty
from training.synthetic.parties import Parties
from training.synthetic.traffic import IMPORT, SEGMENT, Traffic
from training.synthetic.truth import World, planted

REVENUE_RATE = 0.03  # planted revenue cases, as a share of all declarations
_VAT_PERCENT = 20.0
# Phantom traders: each lives about `_PHANTOM_WINDOW` days, `_PHANTOM_CONCURRENT` per country at once.
_PHANTOM_WINDOW, _PHANTOM_CONCURRENT = 30, 3


def plant_revenue(rng: np.random.Generator, world: World) -> None:
    """Plant revenue fraud, `REVENUE_RATE` of the rows expected, with the duty each evades."""
    traffic, parties, goods, truth = world.traffic, world.parties, world.goods, world.truth
    n = traffic.n
    imported = traffic.flow == IMPORT
    business = parties.is_business_importer()
    phantom = _phantom_traders(rng, traffic, parties, imported & business, world.days)

    # Repeat offenders among established importers; new traders are riskier.
    truth.bad_importers = np.flatnonzero(rng.random(parties.business_importers) < 0.03)
    importer = parties.keys["importer"]
    bad = np.isin(importer, truth.bad_importers)
    first = _first_days(traffic.day, importer, parties.registries["importer"].size)
    new_trader = business & (traffic.day - first < 60)
    mfn = np.array([c.duty for c in cat.COMMODITIES])[goods.hs]
    non_preferential = ~among(goods.origin, list(cat.PREFERENTIAL_ORIGINS))
    weight = (imported & (traffic.segment != SEGMENT["postal"])) * (0.3 + mfn / 10.0)
    weight = (
        weight
        * np.where(bad, 8.0, 1.0)
        * np.where(phantom, 25.0, 1.0)
        * np.where(new_trader, 2.0, 1.0)
    )
    weight = weight * np.where(non_preferential, 1.5, 1.0)
    weight[planted(truth.weapons_scheme)] = 0.0
    rows = np.flatnonzero(bernoulli_by_weight(rng, weight, REVENUE_RATE * n))
    m = len(rows)
    lower = np.array([COMMODITY_INDEX.get(c.misclassified_as or "", -1) for c in cat.COMMODITIES])[
        goods.hs[rows]
    ]
    can_misclassify = lower >= 0
    can_false_origin = non_preferential[rows] & (mfn[rows] > 0)
    scores = np.stack(
        [
            np.full(m, 0.4),
            np.where(can_misclassify, 0.7, 0.0),
            np.where(can_false_origin, 0.6, 0.0),
        ],
        axis=1,
    ) * rng.random((m, 3))
    scheme = np.array(["undervaluation", "misclassification", "false_origin"], dtype=object)[
        scores.argmax(axis=1)
    ]
    truth.revenue_scheme[rows] = scheme
    true_duty = np.nan_to_num(goods.duty[rows])
    value = goods.value[rows]
    vat = _VAT_PERCENT

    under = scheme == "undervaluation"
    factor = rng.uniform(0.15, 0.55, m)
    extra = np.where(under, value * (1.0 - factor) * (true_duty + vat) / 100.0, 0.0)
    goods.value[rows[under]] = value[under] * factor[under]

    misclassified = rows[scheme == "misclassification"]
    kept_text = goods.description[misclassified].copy()
    goods.hs[misclassified] = lower[scheme == "misclassification"]
    set_duty(traffic, goods, misclassified)
    keep_description = rng.random(len(misclassified)) < 0.5
    replacement = np.array(
        [cat.COMMODITIES[i].descriptions[0] for i in goods.hs[misclassified]], dtype=object
    )
    goods.description[misclassified] = np.where(keep_description, kept_text, replacement)
    declared_duty = np.nan_to_num(goods.duty[rows])
    extra = np.where(
        scheme == "misclassification",
        value * (true_duty - declared_duty) / 100.0 * (1 + vat / 100.0),
        extra,
    )

    false_origin = rows[scheme == "false_origin"]
    goods.origin[false_origin] = rng.choice(
        np.array(["TR", "IT", "DE", "BG", "GR", "RS"], dtype=object), len(false_origin)
    )
    set_duty(traffic, goods, false_origin)
    extra = np.where(scheme == "false_origin", value * true_duty / 100.0 * (1 + vat / 100.0), extra)
    truth.additional_duty[rows] = np.round(np.maximum(extra, 1.0), 2)


def _phantom_traders(
    rng: np.random.Generator,
    traffic: Traffic,
    parties: Parties,
    business_imports: np.ndarray,
    days: int,
) -> np.ndarray:
    """Move a few business freight imports to short-lived companies that import a few times
    and vanish; returns which rows they are."""
    n = traffic.n
    freight = business_imports & traffic.is_segment("truck", "van", "container", "air_cargo")
    rows = np.flatnonzero(freight & (rng.random(n) < 0.006))
    window, concurrent = _PHANTOM_WINDOW, _PHANTOM_CONCURRENT
    per_country = days * concurrent // window + 1
    countries = sorted(set(traffic.destination[rows].tolist()))
    offset = parties.registries["importer"].add(
        np.array(
            # Numbers from 9000000000: a range established importers (below 10**9) never use.
            [f"{c}{9_000_000_000 + k:010d}" for c in countries for k in range(per_country)],
            dtype=object,
        )
    )
    country_index = np.searchsorted(np.array(countries), traffic.destination[rows].astype(str))
    slot = traffic.day[rows] * concurrent // window - rng.integers(0, concurrent, len(rows))
    parties.keys["importer"][rows] = (
        offset + country_index * per_country + np.clip(slot, 0, per_country - 1)
    )
    phantom = np.zeros(n, dtype=bool)
    phantom[rows] = True
    return phantom


def _first_days(day: np.ndarray, keys: np.ndarray, size: int) -> np.ndarray:
    """Day of each row's entity's first declaration (the row's own day for one-offs)."""
    first = np.full(max(size, 1), np.iinfo(np.int32).max, dtype=np.int64)
    known = keys >= 0
    np.minimum.at(first, keys[known], day[known])
    return np.where(known, first[np.maximum(keys, 0)], day)
