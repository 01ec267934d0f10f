"""Step 2, parties: who imports, sells, declares, carries and drives each declaration.

Importers with a line of business and a size, exporters per dispatch country, customs
brokers, hauliers with fleets, private travellers and consignees: persistent identities, so a
trader has a history. `draw_parties` reads the generator and `Traffic` (segments, countries,
offices) and returns `Parties`; the threat steps later re-point some rows to their own
repeat vehicles, hauliers and traders.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from training.synthetic import catalogue as cat
from training.synthetic.draws import zipf_weights
from training.synthetic.identifiers import (
    codes_by_group,
    codes_from_template,
    private_ids,
    scrambled,
    zero_padded,
)
from training.synthetic.traffic import SEGMENT, Traffic

ROLES: tuple[str, ...] = ("importer", "exporter", "declarant", "carrier", "vehicle")
_PLATE_FALLBACK = "AA-999-AA"


class Registry:
    """Named entities of one kind (importers, vehicles...) in pools with contiguous keys.

    Rows refer to entities by integer key; -1 marks a one-off identity whose text is drawn
    per row. Keys let the simulation find first appearances and watchlist hits with array
    lookups instead of string joins.
    """

    def __init__(self) -> None:
        self._names: list[np.ndarray] = []
        self.size = 0

    def add(self, names: np.ndarray) -> int:
        """Append a pool; returns the key of its first entity."""
        offset = self.size
        self._names.append(np.asarray(names, dtype=object))
        self.size += len(names)
        return offset

    def names(self) -> np.ndarray:
        """Every entity's text, indexed by key."""
        if not self._names:
            return np.empty(0, dtype=object)
        return np.concatenate(self._names)


@dataclass
class Parties:
    """Each row's parties as registry keys (-1: a one-off identity, its text in `fresh`).

    `registries[role]` holds the names for `keys[role]`, roles as in `ROLES`. Business
    importers are the keys below `business_importers`; each has three usual tariff lines
    (`importer_lines`, indices into `catalogue.COMMODITIES`). `exporter_pools` gives each
    dispatch country's (first key, size) of sellers. Travellers declare their own goods
    (`declarant_is_importer`).
    """

    keys: dict[str, np.ndarray]
    fresh: dict[str, np.ndarray]
    registries: dict[str, Registry] = field(default_factory=lambda: {r: Registry() for r in ROLES})
    business_importers: int = 0
    importer_lines: np.ndarray = field(default_factory=lambda: np.empty((0, 3), dtype=np.int64))
    exporter_pools: dict[str, tuple[int, int]] = field(default_factory=dict)
    declarant_is_importer: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))

    @classmethod
    def unknown(cls, n: int) -> Parties:
        """`n` rows with no party yet: every key -1, no text."""
        return cls(
            keys={role: np.full(n, -1, dtype=np.int64) for role in ROLES},
            fresh={role: np.full(n, None, dtype=object) for role in ROLES},
        )

    def is_business_importer(self) -> np.ndarray:
        """Whether each row's importer is an established business (not a person, not a phantom)."""
        importer = self.keys["importer"]
        return (importer >= 0) & (importer < self.business_importers)

    def texts(self, role: str) -> np.ndarray:
        """Each row's identifier text for `role`: the registered name, or the one-off text."""
        keys = self.keys[role]
        out = self.fresh[role].copy()
        known = keys >= 0
        out[known] = self.registries[role].names()[keys[known]]
        return out


def draw_parties(rng: np.random.Generator, traffic: Traffic) -> Parties:
    """Importers (with their lines of business), exporters, brokers, carriers, vehicles."""
    n = traffic.n
    parties = Parties.unknown(n)
    importers, importer = parties.registries["importer"], parties.keys["importer"]
    is_parcel = traffic.is_segment("express", "postal")
    is_traveller = traffic.is_segment("car", "bus")
    business = ~is_traveller & (~is_parcel | (rng.random(n) < 0.2))

    # Business importers: a pool per destination country, sized by its traffic.
    for country in sorted(set(traffic.destination[business].tolist())):
        rows = np.flatnonzero(business & (traffic.destination == country))
        size = max(15, len(rows) // 120)
        offset = importers.add(
            country
            + zero_padded(scrambled(np.arange(size) + importers.size, 10**9, 482_711_953), 10)
        )
        importer[rows] = offset + rng.choice(size, len(rows), p=zipf_weights(size, 1.0))
    parties.business_importers = importers.size
    # Each business importer's line of business: three tariff lines it usually declares.
    freight_weights = np.array([c.freight for c in cat.COMMODITIES])
    parties.importer_lines = rng.choice(
        len(cat.COMMODITIES),
        (parties.business_importers, 3),
        p=freight_weights / freight_weights.sum(),
    )

    # Private consignees of parcels: mostly first-time, a few regulars.
    private = is_parcel & ~business
    regular = private & (rng.random(n) < 0.3)
    rows = np.flatnonzero(regular)
    size = max(10, len(rows) // 4)
    offset = importers.add(private_ids(np.arange(size), 1))
    importer[rows] = offset + rng.integers(0, size, len(rows))
    one_off = np.flatnonzero(private & ~regular)
    parties.fresh["importer"][one_off] = private_ids(one_off, 2)

    _draw_exporters(rng, traffic, parties, business | is_parcel)
    _draw_carriers_and_vehicles(rng, traffic, parties)
    _draw_declarants(rng, traffic, parties, is_parcel, is_traveller)
    return parties


def one_off_hauliers(
    rng: np.random.Generator, traffic: Traffic, parties: Parties, rows: np.ndarray
) -> None:
    """Give `rows` a haulier and plate never seen elsewhere, registered where they start."""
    parties.keys["carrier"][rows] = -1
    parties.keys["vehicle"][rows] = -1
    plate_country = traffic.dispatch[rows]
    # Seven digits: a number range no registered haulier has.
    parties.fresh["carrier"][rows] = (
        plate_country + "TR" + zero_padded(scrambled(rows, 10**7, 999), 7)
    )
    parties.fresh["vehicle"][rows] = codes_by_group(
        rng, plate_country, cat.PLATE_TEMPLATES, _PLATE_FALLBACK
    )


def register_vehicles(
    rng: np.random.Generator, parties: Parties, count: int, countries: np.ndarray
) -> np.ndarray:
    """Register `count` new vehicles with plates of `countries` (drawn among them); their keys.

    A threat's repeat vehicles: a small set used again and again.
    """
    plate_country = (
        countries[rng.integers(0, len(countries), count)]
        if len(countries)
        else np.full(count, "RS", dtype=object)
    )
    offset = parties.registries["vehicle"].add(
        codes_by_group(rng, plate_country.astype(object), cat.PLATE_TEMPLATES, _PLATE_FALLBACK)
    )
    return offset + np.arange(count, dtype=np.int64)


def _draw_exporters(
    rng: np.random.Generator, traffic: Traffic, parties: Parties, has_exporter: np.ndarray
) -> None:
    """Sellers per dispatch country; travellers' goods have none."""
    exporters, exporter = parties.registries["exporter"], parties.keys["exporter"]
    for country in sorted(set(traffic.dispatch[has_exporter].tolist())):
        rows = np.flatnonzero(has_exporter & (traffic.dispatch == country))
        size = max(10, len(rows) // 100)
        offset = exporters.add(
            country
            + "EX"
            + zero_padded(scrambled(np.arange(size) + exporters.size, 10**8, 4321), 8)
        )
        parties.exporter_pools[country] = (offset, size)
        exporter[rows] = offset + rng.choice(size, len(rows), p=zipf_weights(size, 0.9))


def _draw_carriers_and_vehicles(
    rng: np.random.Generator, traffic: Traffic, parties: Parties
) -> None:
    """Hauliers with fleets, travellers' cars, buses, ships, aircraft, couriers and posts."""
    n = traffic.n
    carriers, vehicles = parties.registries["carrier"], parties.registries["vehicle"]
    carrier, vehicle, importer = (parties.keys[r] for r in ("carrier", "vehicle", "importer"))
    for segment, per_haulier, fleet_mean in (("truck", 40, 3.0), ("van", 20, 1.3)):
        _draw_fleets(
            rng,
            traffic,
            parties,
            np.flatnonzero(traffic.segment == SEGMENT[segment]),
            per_haulier,
            fleet_mean,
        )
    # Small operators seen once: a new haulier is no proof of anything.
    goods_vehicle = traffic.is_segment("truck", "van")
    one_off_hauliers(rng, traffic, parties, np.flatnonzero(goods_vehicle & (rng.random(n) < 0.08)))

    # Travellers' cars: registered where the trip starts or ends; some cross many times.
    rows = np.flatnonzero(traffic.segment == SEGMENT["car"])
    plate_country = np.where(
        rng.random(len(rows)) < 0.5, traffic.dispatch[rows], traffic.destination[rows]
    )
    for country in sorted(set(plate_country.tolist())):
        mine = rows[plate_country == country]
        size = max(5, len(mine) // 2)
        offset = vehicles.add(
            codes_by_group(
                rng, np.full(size, country, dtype=object), cat.PLATE_TEMPLATES, _PLATE_FALLBACK
            )
        )
        vehicle[mine] = offset + rng.integers(0, size, len(mine))
    # The traveller is the importer and declarant of the goods in the car.
    owners = parties.registries["importer"].add(private_ids(np.arange(vehicles.size), 3))
    importer[rows] = owners + vehicle[rows]

    rows = np.flatnonzero(traffic.segment == SEGMENT["bus"])
    companies = 30
    carrier_offset = carriers.add("BUS" + zero_padded(np.arange(1, companies + 1), 4))
    bus_country = rng.choice(np.array(cat.REGION, dtype=object), companies * 3)
    vehicle_offset = vehicles.add(
        codes_by_group(rng, bus_country, cat.PLATE_TEMPLATES, _PLATE_FALLBACK)
    )
    company = rng.integers(0, companies, len(rows))
    carrier[rows] = carrier_offset + company
    vehicle[rows] = vehicle_offset + company * 3 + rng.integers(0, 3, len(rows))
    parties.fresh["importer"][rows] = private_ids(rows, 4)

    # Ships, trains, aircraft, couriers, posts: the carrier is a company, the "vehicle"
    # a container, wagon, air waybill or tracking number, new on every declaration.
    for segment, carrier_names, template in (
        ("container", [f"LINE{k:02d}" for k in range(1, 9)], "AAAU9999999"),
        ("rail", [f"RAILCARGO{k:02d}" for k in range(1, 5)], "31 72 9999 999-9"),
        ("air_cargo", [f"AIR{k:02d}" for k in range(1, 13)], "999-99999999"),
        ("express", [f"XPR{k:02d}" for k in range(1, 5)], "9999999999"),
    ):
        rows = np.flatnonzero(traffic.segment == SEGMENT[segment])
        offset = carriers.add(np.array(carrier_names, dtype=object))
        carrier[rows] = offset + rng.choice(
            len(carrier_names), len(rows), p=zipf_weights(len(carrier_names), 0.8)
        )
        parties.fresh["vehicle"][rows] = codes_from_template(rng, template, len(rows))
    rows = np.flatnonzero(traffic.segment == SEGMENT["postal"])
    posts = list(cat.REGION)
    offset = carriers.add(np.array([f"{c}POST" for c in posts], dtype=object))
    home = traffic.office_country[rows]
    carrier[rows] = offset + np.searchsorted(np.array(posts), home.astype(str))
    parties.fresh["vehicle"][rows] = (
        codes_from_template(rng, "RR999999999", len(rows)) + traffic.dispatch[rows]
    )


def _draw_fleets(
    rng: np.random.Generator,
    traffic: Traffic,
    parties: Parties,
    rows: np.ndarray,
    rows_per_haulier: int,
    fleet_mean: float,
) -> None:
    """Hauliers registered along the route, each with a fleet of plates of its country."""
    carriers, vehicles = parties.registries["carrier"], parties.registries["vehicle"]
    pick = rng.random(len(rows))
    country = np.where(
        pick < 0.45,
        traffic.dispatch[rows],
        np.where(pick < 0.8, traffic.destination[rows], traffic.office_country[rows]),
    )
    for code in sorted(set(country.tolist())):
        mine = rows[country == code]
        size = max(3, len(mine) // rows_per_haulier)
        carrier_offset = carriers.add(
            code + "TR" + zero_padded(scrambled(np.arange(size) + carriers.size, 10**6, 271), 6)
        )
        fleet = 1 + rng.poisson(fleet_mean - 1, size)
        fleet_start = np.concatenate([[0], np.cumsum(fleet)[:-1]])
        vehicle_offset = vehicles.add(
            codes_by_group(
                rng,
                np.full(int(fleet.sum()), code, dtype=object),
                cat.PLATE_TEMPLATES,
                _PLATE_FALLBACK,
            )
        )
        haulier = rng.choice(size, len(mine), p=zipf_weights(size, 1.0))
        parties.keys["carrier"][mine] = carrier_offset + haulier
        parties.keys["vehicle"][mine] = (
            vehicle_offset
            + fleet_start[haulier]
            + (rng.random(len(mine)) * fleet[haulier]).astype(np.int64)
        )


def _draw_declarants(
    rng: np.random.Generator,
    traffic: Traffic,
    parties: Parties,
    is_parcel: np.ndarray,
    is_traveller: np.ndarray,
) -> None:
    """Customs brokers per office country (each importer keeps its broker); posts and
    couriers declare parcels; travellers declare for themselves."""
    declarants, declarant = parties.registries["declarant"], parties.keys["declarant"]
    brokered = ~is_parcel & ~is_traveller
    for country in sorted(set(traffic.office_country.tolist())):
        rows = np.flatnonzero(brokered & (traffic.office_country == country))
        size = 15 + len(rows) // 6000
        offset = declarants.add(
            country + "BR" + zero_padded(scrambled(np.arange(size) + declarants.size, 10**5, 77), 5)
        )
        usual = scrambled(np.maximum(parties.keys["importer"][rows], 0), size, 3) if size else 0
        other = rng.integers(0, size, len(rows))
        declarant[rows] = offset + np.where(rng.random(len(rows)) < 0.85, usual, other)
    rows = np.flatnonzero(is_parcel)
    agents = declarants.add(
        np.array([f"{c}{kind}" for c in cat.REGION for kind in ("POST", "XPR")], dtype=object)
    )
    country_index = np.searchsorted(np.array(cat.REGION), traffic.office_country[rows].astype(str))
    courier = (traffic.segment[rows] == SEGMENT["express"]).astype(np.int64)
    declarant[rows] = agents + country_index * 2 + courier
    parties.declarant_is_importer = is_traveller
