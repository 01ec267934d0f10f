"""Step 3, goods: what each declaration carries and what it is worth.

`draw_goods` reads the generator, `Traffic` (segment, flow, countries) and `Parties` (each
business importer's usual tariff lines) and returns `Goods`: tariff line, origin, masses,
value, packages, duty, free-text description and procedure. The threat steps re-price the
rows they change with `price_goods` and `set_duty`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.synthetic import catalogue as cat
from training.synthetic.draws import among, weighted_choice
from training.synthetic.parties import Parties
from training.synthetic.traffic import EXPORT, IMPORT, SEGMENT, TRANSIT, Traffic

# Index of each tariff line in catalogue.COMMODITIES, by its code.
COMMODITY_INDEX: dict[str, int] = {c.hs_code: index for index, c in enumerate(cat.COMMODITIES)}
# Which commodity weight (freight, light, parcel, car) applies to each segment.
_COMMODITY_GROUPS: dict[str, tuple[str, ...]] = {
    "light": ("van", "air_cargo"),
    "parcel": ("express", "postal"),
    "car": ("car", "bus"),
}
# Segments whose net mass scales with the commodity's mass factor (bulk freight).
_MASS_SCALED_SEGMENTS = ("truck", "van", "container", "rail", "air_cargo")


@dataclass
class Goods:
    """What each row declares: `hs` indexes `catalogue.COMMODITIES`; `duty` is NaN off imports."""

    hs: np.ndarray
    origin: np.ndarray
    net_mass: np.ndarray
    gross_mass: np.ndarray
    value: np.ndarray
    packages: np.ndarray
    description: np.ndarray
    duty: np.ndarray
    procedure: np.ndarray


def draw_goods(rng: np.random.Generator, traffic: Traffic, parties: Parties) -> Goods:
    """Tariff line, origin, masses, value, packages, duty, description, procedure."""
    n = traffic.n
    commodities = cat.COMMODITIES
    group = np.full(n, "freight", dtype=object)
    for name, segments in _COMMODITY_GROUPS.items():
        group[traffic.is_segment(*segments)] = name
    hs = np.empty(n, dtype=np.int64)
    for name in ("freight", "light", "parcel", "car"):
        rows = np.flatnonzero(group == name)
        weights = np.array([getattr(c, name) for c in commodities])
        hs[rows] = rng.choice(len(commodities), len(rows), p=weights / weights.sum())
    # Businesses mostly declare their own line of business.
    rows = np.flatnonzero(parties.is_business_importer() & np.isin(group, ["freight", "light"]))
    usual = parties.importer_lines[
        parties.keys["importer"][rows], rng.choice(3, len(rows), p=[0.6, 0.25, 0.15])
    ]
    light_ok = np.array([c.light > 0 for c in commodities])[usual] | (group[rows] == "freight")
    keep = light_ok & (rng.random(len(rows)) < 0.85)
    hs[rows[keep]] = usual[keep]
    goods = Goods(
        hs=hs,
        origin=np.empty(n, dtype=object),
        net_mass=np.zeros(n),
        gross_mass=np.zeros(n),
        value=np.zeros(n),
        packages=np.zeros(n, dtype=np.int64),
        description=np.full(n, None, dtype=object),
        duty=np.full(n, np.nan),
        procedure=np.empty(n, dtype=object),
    )
    price_goods(rng, traffic, goods, np.arange(n))
    for flow, table in ((IMPORT, cat.IMPORT_PROCEDURES), (EXPORT, cat.EXPORT_PROCEDURES)):
        rows = np.flatnonzero(traffic.flow == flow)
        goods.procedure[rows] = weighted_choice(rng, table, len(rows))
    goods.procedure[traffic.flow == TRANSIT] = cat.TRANSIT_PROCEDURE
    return goods


def price_goods(rng: np.random.Generator, traffic: Traffic, goods: Goods, rows: np.ndarray) -> None:
    """Origin, masses, value, packages, duty and description of `rows` from their tariff line."""
    commodities = cat.COMMODITIES
    hs = goods.hs[rows]
    segment = traffic.segment[rows]
    m = len(rows)
    origin = np.empty(m, dtype=object)
    for index in np.unique(hs):
        mine = np.flatnonzero(hs == index)
        origins = np.array(commodities[index].origins, dtype=object)
        origin[mine] = origins[rng.integers(0, len(origins), len(mine))]
        descriptions = np.array(commodities[index].descriptions, dtype=object)
        goods.description[rows[mine]] = descriptions[rng.integers(0, len(descriptions), len(mine))]
    same = rng.random(m) < 0.4
    origin[same] = traffic.dispatch[rows][same]
    exported = traffic.flow[rows] == EXPORT
    domestic = exported & (rng.random(m) < 0.8)
    origin[domestic] = traffic.office_country[rows][domestic]
    goods.origin[rows] = origin

    median, sigma, low, high = np.array([s.net_mass for s in cat.SEGMENTS])[segment].T
    mass_factor = np.array([c.mass_factor for c in commodities])[hs]
    scaled = np.isin(segment, [SEGMENT[s] for s in _MASS_SCALED_SEGMENTS])
    median = np.where(scaled, median * mass_factor, median)
    net = np.clip(np.exp(np.log(median) + sigma * rng.standard_normal(m)), low, high)
    unit_median = np.array([c.value_per_kg for c in commodities])[hs]
    unit_sigma = np.array([c.sigma for c in commodities])[hs]
    unit_value = np.exp(np.log(unit_median) + unit_sigma * rng.standard_normal(m))
    goods.net_mass[rows] = net
    goods.gross_mass[rows] = net * rng.uniform(1.02, 1.25, m)
    goods.value[rows] = net * unit_value
    per_package = np.array([s.kg_per_package for s in cat.SEGMENTS])[segment]
    packages = np.round(goods.gross_mass[rows] / per_package * rng.uniform(0.5, 1.5, m))
    goods.packages[rows] = np.maximum(1, packages).astype(np.int64)
    goods.packages[rows[segment == SEGMENT["postal"]]] = 1
    set_duty(traffic, goods, rows)


def set_duty(traffic: Traffic, goods: Goods, rows: np.ndarray) -> None:
    """Duty of imports: zero for preferential origins, the line's MFN rate otherwise."""
    mfn = np.array([c.duty for c in cat.COMMODITIES], dtype=float)[goods.hs[rows]]
    preferential = among(goods.origin[rows], list(cat.PREFERENTIAL_ORIGINS))
    duty = np.where(preferential, 0.0, mfn)
    goods.duty[rows] = np.where(traffic.flow[rows] == IMPORT, duty, np.nan)


def unit_values(goods: Goods, rows: np.ndarray) -> np.ndarray:
    """The median value per kg of each row's tariff line."""
    return np.array([c.value_per_kg for c in cat.COMMODITIES])[goods.hs[rows]]
