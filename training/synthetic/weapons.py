"""Threat step, weapons: small arms, parts and ammunition planted through four schemes.

Parts bought online and sent by post (misdescribed, disguise codes, first-time private
consignees, a few repeat sellers; a new disguise code in the drift period), converted gas
pistols from Turkey, the "ant trade" in cars and vans leaving BA/RS, and the odd lorry.
`plant_weapons` reads the generator and its `World`; it changes the rows it plants in the
traffic (night hours), parties (consignees, sellers, cars) and goods (codes, masses, values,
texts), and records the schemes and the bad actors in the truth.
"""

from __future__ import annotations

import numpy as np

from training.synthetic import catalogue as cat
from training.synthetic.draws import among, bernoulli_by_weight
from training.synthetic.goods import COMMODITY_INDEX, price_goods, set_duty, unit_values
from training.synthetic.identifiers import private_ids
from training.synthetic.parties import Parties, register_vehicles
from training.synthetic.traffic import IMPORT, SEGMENT
from training.synthetic.truth import World

WEAPONS_RATE = 0.003  # planted weapons cases, as a share of all declarations


def plant_weapons(rng: np.random.Generator, world: World) -> None:
    """Plant the four weapons schemes, each an expected share of `WEAPONS_RATE`."""
    expected = WEAPONS_RATE * world.traffic.n
    _parts_by_post(rng, world, 0.48 * expected)
    _gas_pistols(rng, world, 0.15 * expected)
    _car_compartments(rng, world, 0.30 * expected)
    _truck_loads(rng, world, 0.07 * expected)


def _parts_by_post(rng: np.random.Generator, world: World, expected: float) -> None:
    """Parts bought online, by post and express, misdescribed, to first-time consignees."""
    traffic, parties, goods, truth = world.traffic, world.parties, world.goods, world.truth
    drift = traffic.day >= world.drift_day
    importer = parties.keys["importer"]
    parcel = traffic.is_segment("express", "postal") & (traffic.flow == IMPORT)
    weight = (
        parcel
        * (1.0 + 2.0 * (importer < 0))
        * (1.0 + among(traffic.dispatch, cat.WEAPON_PARTS_DISPATCH))
    )
    rows = np.flatnonzero(bernoulli_by_weight(rng, weight, expected))
    truth.weapons_scheme[rows] = "parts_by_post"
    codes = np.array([code for code, _ in cat.WEAPON_DISGUISE_CODES], dtype=object)
    code_weights = np.array([w for _, w in cat.WEAPON_DISGUISE_CODES])
    disguise = rng.random(len(rows)) < 0.7
    new_code = codes[rng.choice(len(codes), len(rows), p=code_weights / code_weights.sum())]
    new_code[drift[rows] & (rng.random(len(rows)) < 0.6)] = cat.WEAPON_DRIFT_CODE
    changed = rows[disguise]
    goods.hs[changed] = [COMMODITY_INDEX[c] for c in new_code[disguise]]
    price_goods(rng, traffic, goods, changed)
    goods.net_mass[rows] = np.exp(np.log(0.9) + 0.6 * rng.standard_normal(len(rows))).clip(0.05, 10)
    goods.gross_mass[rows] = goods.net_mass[rows] * rng.uniform(1.05, 1.3, len(rows))
    goods.value[rows] = (
        goods.net_mass[rows]
        * unit_values(goods, rows)
        * np.exp(0.5 * rng.standard_normal(len(rows)))
    )
    misdescribed = rows[rng.random(len(rows)) < 0.6]
    goods.description[misdescribed] = np.array(cat.WEAPON_MISDESCRIPTIONS, dtype=object)[
        rng.integers(0, len(cat.WEAPON_MISDESCRIPTIONS), len(misdescribed))
    ]
    first_time = rows[(rng.random(len(rows)) < 0.85) & (importer[rows] >= 0)]
    importer[first_time] = -1
    parties.fresh["importer"][first_time] = private_ids(first_time, 5)
    # A few online sellers ship parts again and again, from where the parcel comes.
    truth.bad_sellers = _bad_sellers(parties)
    for country, sellers in truth.bad_sellers.items():
        mine = rows[(traffic.dispatch[rows] == country) & (rng.random(len(rows)) < 0.5)]
        parties.keys["exporter"][mine] = sellers[rng.integers(0, len(sellers), len(mine))]


def _bad_sellers(parties: Parties) -> dict[str, np.ndarray]:
    """Online sellers of weapon parts: two small, obscure exporters per country of dispatch."""
    sellers = {}
    for country in cat.WEAPON_PARTS_DISPATCH:
        if country in parties.exporter_pools:
            offset, size = parties.exporter_pools[country]
            sellers[country] = offset + size - 1 - np.arange(min(2, size), dtype=np.int64)
    return sellers


def _gas_pistols(rng: np.random.Generator, world: World, expected: float) -> None:
    """Converted gas and alarm pistols from Turkey, declared as 9304 or as toys."""
    traffic, goods, truth = world.traffic, world.goods, world.truth
    eligible = traffic.is_segment("truck", "van", "air_cargo", "express") & (traffic.flow == IMPORT)
    weight = eligible * np.where(traffic.dispatch == "TR", 5.0, 0.3)
    rows = np.flatnonzero(bernoulli_by_weight(rng, weight, expected))
    truth.weapons_scheme[rows] = "gas_pistols"
    as_toys = rng.random(len(rows)) < 0.25
    goods.hs[rows] = np.where(
        as_toys, COMMODITY_INDEX["95030075"], COMMODITY_INDEX[cat.GAS_PISTOL_CODE]
    )
    goods.origin[rows] = "TR"
    small = goods.net_mass[rows].clip(max=rng.uniform(5, 120, len(rows)))
    goods.net_mass[rows] = small
    goods.gross_mass[rows] = small * rng.uniform(1.05, 1.3, len(rows))
    goods.value[rows] = (
        small * unit_values(goods, rows) * np.exp(0.5 * rng.standard_normal(len(rows)))
    )
    for index in np.unique(goods.hs[rows]):
        mine = rows[goods.hs[rows] == index]
        texts = np.array(cat.COMMODITIES[index].descriptions, dtype=object)
        goods.description[mine] = texts[rng.integers(0, len(texts), len(mine))]
    set_duty(traffic, goods, rows)


def _car_compartments(rng: np.random.Generator, world: World, expected: float) -> None:
    """The "ant trade": cars and vans from Bosnia and Herzegovina or Serbia towards the EU,
    hidden compartments; some cars come back again and again."""
    traffic, parties, truth = world.traffic, world.parties, world.truth
    region = among(traffic.dispatch, list(cat.REGION))
    road_private = traffic.is_segment("car", "van")
    leaving = road_private & region & ~among(traffic.destination, list(cat.REGION))
    weight = road_private * (
        0.2 + 0.8 * region + 3.0 * leaving + 2.0 * (among(traffic.dispatch, ["BA", "RS"]) & leaving)
    )
    rows = np.flatnonzero(bernoulli_by_weight(rng, weight, expected))
    truth.weapons_scheme[rows] = "car_compartment"
    cars = register_vehicles(rng, parties, max(4, len(rows) // 6), traffic.dispatch[rows])
    truth.bad_vehicles["weapons"] = cars
    again = rng.random(len(rows)) < 0.35
    parties.keys["vehicle"][rows[again]] = cars[rng.integers(0, len(cars), int(again.sum()))]
    night = rows[rng.random(len(rows)) < 0.45]
    traffic.hour[night] = rng.choice(np.array(cat.NIGHT_HOURS), len(night))


def _truck_loads(rng: np.random.Generator, world: World, expected: float) -> None:
    """Now and then, weapons or ammunition inside a lorry's declared cargo."""
    traffic, goods, truth = world.traffic, world.goods, world.truth
    weight = (traffic.segment == SEGMENT["truck"]).astype(float)
    rows = np.flatnonzero(bernoulli_by_weight(rng, weight, expected))
    truth.weapons_scheme[rows] = "truck_load"
    parts = rows[rng.random(len(rows)) < 0.5]
    goods.hs[parts] = np.where(
        rng.random(len(parts)) < 0.5, COMMODITY_INDEX["87089997"], COMMODITY_INDEX["84879090"]
    )
    price_goods(rng, traffic, goods, parts)
