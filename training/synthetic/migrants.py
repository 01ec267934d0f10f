"""Threat step, migrants: people hidden in vehicles on the Balkan corridors.

Mostly lorries and vans (a few cars and buses): light or cheap cover loads, new hauliers or
the network's repeat vehicles, night crossings, an itinerary that does not fit the dispatch
country; in the drift period smugglers move to a new route via Gradina. `plant_migrants`
reads the generator and its `World`; it changes the rows it plants in the traffic (hour,
dispatch), parties (hauliers, vehicles) and goods (cover loads, masses), and records the
cases, the number of people and the network's vehicles and hauliers in the truth.
"""

from __future__ import annotations

import numpy as np

from training.synthetic import catalogue as cat
from training.synthetic.draws import bernoulli_by_weight, contains_leg
from training.synthetic.goods import COMMODITY_INDEX, price_goods
from training.synthetic.identifiers import scrambled, zero_padded
from training.synthetic.parties import one_off_hauliers, register_vehicles
from training.synthetic.traffic import SEGMENT
from training.synthetic.truth import World

MIGRANTS_RATE = 0.003  # planted migrant cases, as a share of all declarations


def plant_migrants(rng: np.random.Generator, world: World) -> None:
    """Plant migrant cases, `MIGRANTS_RATE` of the rows expected, and disguise them."""
    traffic, parties, goods, truth = world.traffic, world.parties, world.goods, world.truth
    segment = traffic.segment
    drift = traffic.day >= world.drift_day
    goods_vehicle = traffic.is_segment("truck", "van")
    passenger = traffic.is_segment("car", "bus")
    corridor = contains_leg(traffic.route, cat.MIGRANT_CORRIDOR_LEGS)
    new_route = contains_leg(traffic.route, cat.MIGRANT_DRIFT_LEGS) & (
        traffic.office == cat.MIGRANT_DRIFT_OFFICE
    )
    weight = goods_vehicle * 1.0 + passenger * 0.15
    weight = weight * np.where(corridor, np.where(drift, 2.0, 4.0), 1.0)
    weight = weight * np.where(new_route & drift, 14.0, 1.0)
    rows = np.flatnonzero(bernoulli_by_weight(rng, weight, MIGRANTS_RATE * traffic.n))
    m = len(rows)
    truth.migrants_scheme[rows] = np.where(
        new_route[rows] & drift[rows],
        "new_route",
        np.where(goods_vehicle[rows], "goods_vehicle", "passenger_vehicle"),
    )
    kind = segment[rows]
    count = np.select(
        [kind == SEGMENT["truck"], kind == SEGMENT["van"], kind == SEGMENT["bus"]],
        [4 + rng.poisson(12, m), 2 + rng.poisson(5, m), 1 + rng.poisson(3, m)],
        1 + rng.poisson(1.5, m),
    )
    truth.migrants_count[rows] = count

    # Cheap cover loads, and loads light for the vehicle.
    cheap = rows[goods_vehicle[rows] & (rng.random(m) < 0.3)]
    covers = np.array([COMMODITY_INDEX[c] for c in cat.MIGRANT_COVER_CODES])
    goods.hs[cheap] = covers[rng.integers(0, len(covers), len(cheap))]
    price_goods(rng, traffic, goods, cheap)
    light = rows[goods_vehicle[rows] & (rng.random(m) < 0.55)]
    factor = rng.uniform(0.15, 0.5, len(light))
    goods.net_mass[light] *= factor
    goods.gross_mass[light] *= factor
    goods.value[light] *= factor
    goods.packages[light] = np.maximum(1, np.round(goods.packages[light] * factor)).astype(np.int64)

    # New hauliers on one-off plates, or the network's own vehicles again.
    draw = rng.random(m)
    one_off_hauliers(rng, traffic, parties, rows[goods_vehicle[rows] & (draw < 0.35)])
    network = rows[goods_vehicle[rows] & (draw >= 0.35) & (draw < 0.65)]
    vans = register_vehicles(rng, parties, max(6, m // 8), traffic.dispatch[rows])
    truth.bad_vehicles["migrants"] = vans
    parties.keys["vehicle"][network] = vans[rng.integers(0, len(vans), len(network))]
    haulier_count = max(3, len(vans) // 3)
    haulier_country = rng.choice(
        np.array(["GR", "MK", "RS", "AL", "BG"], dtype=object), haulier_count
    )
    carriers = parties.registries["carrier"]
    keys = carriers.size + np.arange(haulier_count)
    offset = carriers.add(haulier_country + "TR" + zero_padded(scrambled(keys, 10**6, 271), 6))
    truth.smuggler_hauliers = offset + np.arange(haulier_count, dtype=np.int64)
    parties.keys["carrier"][network] = truth.smuggler_hauliers[
        (parties.keys["vehicle"][network] - vans[0]) % haulier_count
    ]

    night = rows[rng.random(m) < 0.45]
    traffic.hour[night] = rng.choice(np.array(cat.NIGHT_HOURS), len(night))
    # The itinerary declared does not fit the dispatch country.
    mismatch = rows[goods_vehicle[rows] & (rng.random(m) < 0.15)]
    traffic.dispatch[mismatch] = rng.choice(
        np.array(["DE", "IT", "AT", "NL"], dtype=object), len(mismatch)
    )
