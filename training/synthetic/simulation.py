"""Simulate declarations, past inspections, a watchlist and the hidden truth.

The simulation follows DOMAIN.md step by step:

1. traffic: days, segments (truck, van, car, bus, container, rail, air cargo, express,
   post), offices and routes, lodging hours;
2. who: importers with a line of business and a size, exporters, customs brokers,
   hauliers with fleets, private travellers and consignees — persistent identities, so a
   trader has a history;
3. what: tariff lines with their own value per kg, masses per vehicle, origins, duty,
   free-text descriptions;
4. threats planted through noisy, overlapping indicators (weapons, migrants, revenue), with
   a small share of repeat offenders and drift in the last fifth of the period;
5. a partner agencies' watchlist with validity windows;
6. past selection: rules plus a random share, each declaration's selection probability
   recorded; outcomes of the inspections, which miss some cases.

Everything is vectorised numpy drawn from one seeded generator in a fixed order, so a seed
gives the same tables byte for byte.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from features.schema import DECLARATION_COLUMNS, OUTCOME_COLUMNS, WATCHLIST_COLUMNS
from training.synthetic import catalogue as cat
from training.synthetic.identifiers import (
    codes_by_group,
    codes_from_template,
    scrambled,
    zero_padded,
)

# Planted base rates (share of all declarations) and the start of the drift period.
WEAPONS_RATE = 0.003
MIGRANTS_RATE = 0.003
REVENUE_RATE = 0.03
DRIFT_SHARE = 0.2
RANDOM_SELECTION_PROBABILITY = 0.03

TRUTH_COLUMNS: tuple[str, ...] = (
    "declaration_id",
    "weapons",
    "migrants",
    "revenue",
    "migrants_count",
    "additional_duty_eur",
    "weapons_scheme",
    "migrants_scheme",
    "revenue_scheme",
)

_SEGMENT = {name: index for index, name in enumerate(cat.SEGMENTS)}
_IMPORT, _EXPORT, _TRANSIT = 0, 1, 2
_FLOW_NAMES = np.array(["import", "export", "transit"], dtype=object)
_COMMODITY = {c.hs_code: index for index, c in enumerate(cat.COMMODITIES)}
_SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class SyntheticData:
    """The four generated tables; `truth` is for simulations only, never for training.

    `truth` has one row per declaration, in the same order: `weapons`, `migrants`, `revenue`
    (0/1: what an inspection would find if it missed nothing), `migrants_count`,
    `additional_duty_eur` (the duty evaded; 0 when none), and the scheme behind each planted
    case (`weapons_scheme`, `migrants_scheme`, `revenue_scheme`; missing when none), so a
    simulation can tell drifted schemes ("new_route", code 8466 parts) from the old ones.
    Outcomes are imperfect: a documentary check misses most hidden weapons and people.
    """

    declarations: pd.DataFrame
    outcomes: pd.DataFrame
    watchlist: pd.DataFrame
    truth: pd.DataFrame


def simulate(*, start: date | str, days: int, seed: int, rows_per_day: int = 500) -> SyntheticData:
    """Simulate `days * rows_per_day` declarations from `start`, reproducibly for `seed`."""
    if days < 1 or rows_per_day < 1:
        raise ValueError(f"days and rows_per_day must be at least 1, got {days} and {rows_per_day}")
    start_day = date.fromisoformat(start) if isinstance(start, str) else start
    if isinstance(start_day, datetime):
        start_day = start_day.date()
    return _Simulation(start_day, days, seed, rows_per_day).run()


class _Registry:
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


def _zipf_weights(size: int, exponent: float) -> np.ndarray:
    """Activity weights of a pool: a few large traders, many small ones."""
    weights = 1.0 / np.arange(1, size + 1, dtype=float) ** exponent
    return weights / weights.sum()


def _weighted_choice(
    rng: np.random.Generator, options: tuple[tuple[str, float], ...], n: int
) -> np.ndarray:
    """Draw `n` values from (value, weight) pairs."""
    values = np.array([value for value, _ in options], dtype=object)
    weights = np.array([weight for _, weight in options], dtype=float)
    return values[rng.choice(len(values), n, p=weights / weights.sum())]


def _bernoulli_by_weight(
    rng: np.random.Generator, weights: np.ndarray, expected: float
) -> np.ndarray:
    """Rows drawn independently with probability proportional to `weights`, `expected` in total."""
    total = weights.sum()
    if total <= 0 or expected <= 0:
        return np.zeros(len(weights), dtype=bool)
    probability = np.minimum(1.0, weights * (expected / total))
    return rng.random(len(weights)) < probability


def _contains_leg(routes: np.ndarray, legs: tuple[str, ...]) -> np.ndarray:
    """Whether each route string (e.g. "GR>MK>RS") passes any of the legs (e.g. "MK>RS")."""
    codes, distinct = pd.factorize(routes)
    passes = np.array([any(leg in str(route) for leg in legs) for route in distinct], dtype=bool)
    return passes[codes] if len(distinct) else np.zeros(len(routes), dtype=bool)


def _among(values: np.ndarray, options: object) -> np.ndarray:
    """Whether each value is one of `options` (hash lookup: fast on text arrays)."""
    return pd.Series(values, dtype=object, copy=False).isin(list(options)).to_numpy()  # type: ignore[call-overload]


def _planted(schemes: np.ndarray) -> np.ndarray:
    """Rows where a scheme was planted (the scheme arrays hold None elsewhere)."""
    return np.asarray(pd.notna(schemes), dtype=bool)


def _private_ids(index: np.ndarray, family: int) -> np.ndarray:
    """Identity numbers of private persons; each family of persons has its own number range."""
    numbers = scrambled(index, 10**8, 7919 * family + 1)
    return ("P" + str(family) + zero_padded(numbers, 8)).astype(object)


class _Simulation:
    """One run of the simulation; each step fills or changes the per-row arrays."""

    def __init__(self, start: date, days: int, seed: int, rows_per_day: int) -> None:
        self.start = start
        self.days = days
        self.n = days * rows_per_day
        self.rng = np.random.default_rng(seed)
        self.drift_day = int(days * (1.0 - DRIFT_SHARE))
        self.importers = _Registry()
        self.exporters = _Registry()
        self.declarants = _Registry()
        self.carriers = _Registry()
        self.vehicles = _Registry()
        n = self.n
        # Per-row text for one-off identities (key -1), filled where they are drawn.
        self.fresh: dict[str, np.ndarray] = {
            name: np.full(n, None, dtype=object)
            for name in ("importer", "exporter", "declarant", "carrier", "vehicle")
        }

    # -- 1. traffic ----------------------------------------------------------------------
    def draw_traffic(self) -> None:
        """Days (weekly and seasonal pattern, slow growth), segments, offices, routes, hours."""
        rng, n = self.rng, self.n
        day_index = np.arange(self.days)
        weekday = (np.datetime64(self.start.isoformat()) + day_index).astype("datetime64[D]")
        weekday = ((weekday.astype(np.int64) + 3) % 7).astype(int)  # 0 = Monday
        weekday_factor = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.65, 0.45])[weekday]
        season = 1.0 + 0.1 * np.sin(
            2 * np.pi * (day_index + self.start.timetuple().tm_yday) / 365.25
        )
        weights = weekday_factor * season * (1.0 + 0.05 * day_index / 365.25)
        self.day = np.repeat(day_index, rng.multinomial(n, weights / weights.sum())).astype(
            np.int32
        )
        self.segment = rng.choice(len(cat.SEGMENTS), n, p=np.array(cat.SEGMENT_SHARE)).astype(
            np.int8
        )

        self.office = np.empty(n, dtype=object)
        self.office_country = np.empty(n, dtype=object)
        self.dispatch = np.empty(n, dtype=object)
        self.destination = np.empty(n, dtype=object)
        self.itinerary = np.full(n, None, dtype=object)
        self.flow = np.zeros(n, dtype=np.int8)
        self.route = np.full(n, "", dtype=object)  # the road route, "" off-road
        self._draw_road_traffic()
        self._draw_other_traffic()

        hours = np.empty(n, dtype=np.int64)
        for index, profile in enumerate(cat.SEGMENT_HOURS):
            rows = np.flatnonzero(self.segment == index)
            weights = np.array(profile, dtype=float)
            hours[rows] = rng.choice(24, len(rows), p=weights / weights.sum())
        self.hour = hours
        self.second_of_hour = rng.integers(0, 3600, n)

    def _draw_road_traffic(self) -> None:
        """Road declarations: a route, then one of the offices on it (border or inland)."""
        rng = self.rng
        pairs: list[tuple[str, str, str, float]] = []  # office, country, route, weight
        for route, volume in cat.ROUTES:
            countries = route.split(">")
            legs = set(itertools.pairwise(countries))
            on_route = [
                office
                for office in cat.OFFICES
                if (
                    office.kind == "road"
                    and (
                        (office.neighbour, office.country) in legs
                        or (office.country, office.neighbour) in legs
                    )
                )
                or (office.kind == "inland" and office.country == countries[-1])
            ]
            total = sum(office.weight for office in on_route)
            pairs.extend(
                (office.office_id, office.country, route, volume * office.weight / total)
                for office in on_route
            )
        pair_office = np.array([p[0] for p in pairs], dtype=object)
        pair_country = np.array([p[1] for p in pairs], dtype=object)
        pair_route = np.array([p[2] for p in pairs], dtype=object)
        pair_weight = np.array([p[3] for p in pairs])
        rows = np.flatnonzero(
            np.isin(self.segment, [_SEGMENT[s] for s in ("truck", "van", "car", "bus")])
        )
        pick = rng.choice(len(pairs), len(rows), p=pair_weight / pair_weight.sum())
        self.office[rows] = pair_office[pick]
        self.office_country[rows] = pair_country[pick]
        self.route[rows] = pair_route[pick]
        first = np.array([r.split(">")[0] for r in pair_route], dtype=object)
        last = np.array([r.split(">")[-1] for r in pair_route], dtype=object)
        self.dispatch[rows] = first[pick]
        self.destination[rows] = last[pick]
        flow = np.full(len(rows), _TRANSIT, dtype=np.int8)
        flow[self.office_country[rows] == self.destination[rows]] = _IMPORT
        flow[self.office_country[rows] == self.dispatch[rows]] = _EXPORT
        self.flow[rows] = flow
        itinerary = pair_route[pick].copy()
        itinerary[rng.random(len(rows)) < 0.05] = None  # some declarants leave it empty
        self.itinerary[rows] = itinerary

    def _draw_other_traffic(self) -> None:
        """Ports, rail, airports and postal centres: imports mostly, some exports."""
        rng = self.rng
        dispatch_tables = {
            "container": cat.PORT_DISPATCH,
            "rail": cat.RAIL_DISPATCH,
            "air_cargo": cat.AIR_DISPATCH,
            "express": cat.EXPRESS_DISPATCH,
            "postal": cat.POSTAL_DISPATCH,
        }
        export_share = {
            "container": 0.12,
            "rail": 0.0,
            "air_cargo": 0.12,
            "express": 0.0,
            "postal": 0.0,
        }
        itinerary_share = {
            "container": 0.7,
            "rail": 0.9,
            "air_cargo": 0.5,
            "express": 0.3,
            "postal": 0.1,
        }
        for segment, table in dispatch_tables.items():
            rows = np.flatnonzero(self.segment == _SEGMENT[segment])
            kind = cat.SEGMENT_OFFICE_KIND[_SEGMENT[segment]]
            offices = [office for office in cat.OFFICES if office.kind == kind]
            weights = np.array([office.weight for office in offices])
            pick = rng.choice(len(offices), len(rows), p=weights / weights.sum())
            office_ids = np.array([office.office_id for office in offices], dtype=object)
            countries = np.array([office.country for office in offices], dtype=object)
            neighbours = np.array([office.neighbour or "" for office in offices], dtype=object)
            self.office[rows] = office_ids[pick]
            home = countries[pick]
            self.office_country[rows] = home
            dispatch = _weighted_choice(rng, table, len(rows))
            destination = home.copy()
            exported = rng.random(len(rows)) < export_share[segment]
            destination[exported] = _weighted_choice(
                rng, cat.EXPORT_DESTINATIONS, int(exported.sum())
            )
            dispatch[exported] = home[exported]
            self.flow[rows[exported]] = _EXPORT
            self.dispatch[rows] = dispatch
            self.destination[rows] = destination
            if segment == "rail":
                via = neighbours[pick]
                itinerary = np.where(
                    dispatch == via, dispatch + ">" + home, dispatch + ">" + via + ">" + home
                )
            else:
                itinerary = dispatch + ">" + destination
            itinerary = itinerary.astype(object)
            itinerary[rng.random(len(rows)) >= itinerary_share[segment]] = None
            self.itinerary[rows] = itinerary

    # -- 2. who --------------------------------------------------------------------------
    def draw_parties(self) -> None:
        """Importers (with their lines of business), exporters, brokers, carriers, vehicles."""
        rng, n = self.rng, self.n
        segment = self.segment
        is_parcel = np.isin(segment, [_SEGMENT["express"], _SEGMENT["postal"]])
        is_traveller = np.isin(segment, [_SEGMENT["car"], _SEGMENT["bus"]])
        business = ~is_traveller & (~is_parcel | (rng.random(n) < 0.2))

        # Business importers: a pool per destination country, sized by its traffic.
        self.importer = np.full(n, -1, dtype=np.int64)
        for country in sorted(set(self.destination[business].tolist())):
            rows = np.flatnonzero(business & (self.destination == country))
            size = max(15, len(rows) // 120)
            offset = self.importers.add(
                country
                + zero_padded(
                    scrambled(np.arange(size) + self.importers.size, 10**9, 482_711_953), 10
                )
            )
            self.importer[rows] = offset + rng.choice(size, len(rows), p=_zipf_weights(size, 1.0))
        self.n_business_importers = self.importers.size
        # Each business importer's line of business: three tariff lines it usually declares.
        freight_weights = np.array([c.freight for c in cat.COMMODITIES])
        self.importer_lines = rng.choice(
            len(cat.COMMODITIES),
            (self.n_business_importers, 3),
            p=freight_weights / freight_weights.sum(),
        )

        # Private consignees of parcels: mostly first-time, a few regulars.
        private = is_parcel & ~business
        regular = private & (rng.random(n) < 0.3)
        rows = np.flatnonzero(regular)
        size = max(10, len(rows) // 4)
        offset = self.importers.add(_private_ids(np.arange(size), 1))
        self.importer[rows] = offset + rng.integers(0, size, len(rows))
        one_off = np.flatnonzero(private & ~regular)
        self.fresh["importer"][one_off] = _private_ids(one_off, 2)

        self._draw_exporters(business | is_parcel)
        self._draw_carriers_and_vehicles()
        self._draw_declarants(is_parcel, is_traveller)

    def _draw_exporters(self, has_exporter: np.ndarray) -> None:
        """Sellers per dispatch country; travellers' goods have none."""
        rng = self.rng
        self.exporter = np.full(self.n, -1, dtype=np.int64)
        self.exporter_pools: dict[str, tuple[int, int]] = {}
        for country in sorted(set(self.dispatch[has_exporter].tolist())):
            rows = np.flatnonzero(has_exporter & (self.dispatch == country))
            size = max(10, len(rows) // 100)
            offset = self.exporters.add(
                country
                + "EX"
                + zero_padded(scrambled(np.arange(size) + self.exporters.size, 10**8, 4321), 8)
            )
            self.exporter_pools[country] = (offset, size)
            self.exporter[rows] = offset + rng.choice(size, len(rows), p=_zipf_weights(size, 0.9))

    def _draw_carriers_and_vehicles(self) -> None:
        """Hauliers with fleets, travellers' cars, buses, ships, aircraft, couriers and posts."""
        rng, n = self.rng, self.n
        self.carrier = np.full(n, -1, dtype=np.int64)
        self.vehicle = np.full(n, -1, dtype=np.int64)
        self.carrier_fresh_vehicle = np.zeros(n, dtype=bool)
        for segment, per_haulier, fleet_mean in (("truck", 40, 3.0), ("van", 20, 1.3)):
            self._draw_fleets(
                np.flatnonzero(self.segment == _SEGMENT[segment]), per_haulier, fleet_mean
            )
        # Small operators seen once: a new haulier is no proof of anything.
        goods_vehicle = np.isin(self.segment, [_SEGMENT["truck"], _SEGMENT["van"]])
        self._one_off_hauliers(np.flatnonzero(goods_vehicle & (rng.random(n) < 0.08)))

        # Travellers' cars: registered where the trip starts or ends; some cross many times.
        rows = np.flatnonzero(self.segment == _SEGMENT["car"])
        plate_country = np.where(
            rng.random(len(rows)) < 0.5, self.dispatch[rows], self.destination[rows]
        )
        self.car_pools: dict[str, tuple[int, int]] = {}
        for country in sorted(set(plate_country.tolist())):
            mine = rows[plate_country == country]
            size = max(5, len(mine) // 2)
            offset = self.vehicles.add(
                codes_by_group(
                    rng, np.full(size, country, dtype=object), cat.PLATE_TEMPLATES, "AA-999-AA"
                )
            )
            self.car_pools[country] = (offset, size)
            self.vehicle[mine] = offset + rng.integers(0, size, len(mine))
        # The traveller is the importer and declarant of the goods in the car.
        owners = self.importers.add(_private_ids(np.arange(self.vehicles.size), 3))
        self.importer[rows] = owners + self.vehicle[rows]

        rows = np.flatnonzero(self.segment == _SEGMENT["bus"])
        companies = 30
        carrier_offset = self.carriers.add("BUS" + zero_padded(np.arange(1, companies + 1), 4))
        bus_country = rng.choice(np.array(cat.REGION, dtype=object), companies * 3)
        vehicle_offset = self.vehicles.add(
            codes_by_group(rng, bus_country, cat.PLATE_TEMPLATES, "AA-999-AA")
        )
        company = rng.integers(0, companies, len(rows))
        self.carrier[rows] = carrier_offset + company
        self.vehicle[rows] = vehicle_offset + company * 3 + rng.integers(0, 3, len(rows))
        self.fresh["importer"][rows] = _private_ids(rows, 4)

        # Ships, trains, aircraft, couriers, posts: the carrier is a company, the "vehicle"
        # a container, wagon, air waybill or tracking number, new on every declaration.
        for segment, carrier_names, template in (
            ("container", [f"LINE{k:02d}" for k in range(1, 9)], "AAAU9999999"),
            ("rail", [f"RAILCARGO{k:02d}" for k in range(1, 5)], "31 72 9999 999-9"),
            ("air_cargo", [f"AIR{k:02d}" for k in range(1, 13)], "999-99999999"),
            ("express", [f"XPR{k:02d}" for k in range(1, 5)], "9999999999"),
        ):
            rows = np.flatnonzero(self.segment == _SEGMENT[segment])
            offset = self.carriers.add(np.array(carrier_names, dtype=object))
            self.carrier[rows] = offset + rng.choice(
                len(carrier_names), len(rows), p=_zipf_weights(len(carrier_names), 0.8)
            )
            self.fresh["vehicle"][rows] = codes_from_template(rng, template, len(rows))
        rows = np.flatnonzero(self.segment == _SEGMENT["postal"])
        posts = list(cat.REGION)
        offset = self.carriers.add(np.array([f"{c}POST" for c in posts], dtype=object))
        home = self.office_country[rows]
        self.carrier[rows] = offset + np.searchsorted(np.array(posts), home.astype(str))
        self.fresh["vehicle"][rows] = (
            codes_from_template(rng, "RR999999999", len(rows)) + self.dispatch[rows]
        )

    def _draw_fleets(self, rows: np.ndarray, rows_per_haulier: int, fleet_mean: float) -> None:
        """Hauliers registered along the route, each with a fleet of plates of its country."""
        rng = self.rng
        pick = rng.random(len(rows))
        country = np.where(
            pick < 0.45,
            self.dispatch[rows],
            np.where(pick < 0.8, self.destination[rows], self.office_country[rows]),
        )
        for code in sorted(set(country.tolist())):
            mine = rows[country == code]
            size = max(3, len(mine) // rows_per_haulier)
            carrier_offset = self.carriers.add(
                code
                + "TR"
                + zero_padded(scrambled(np.arange(size) + self.carriers.size, 10**6, 271), 6)
            )
            fleet = 1 + rng.poisson(fleet_mean - 1, size)
            fleet_start = np.concatenate([[0], np.cumsum(fleet)[:-1]])
            vehicle_offset = self.vehicles.add(
                codes_by_group(
                    rng,
                    np.full(int(fleet.sum()), code, dtype=object),
                    cat.PLATE_TEMPLATES,
                    "AA-999-AA",
                )
            )
            haulier = rng.choice(size, len(mine), p=_zipf_weights(size, 1.0))
            self.carrier[mine] = carrier_offset + haulier
            self.vehicle[mine] = (
                vehicle_offset
                + fleet_start[haulier]
                + (rng.random(len(mine)) * fleet[haulier]).astype(np.int64)
            )

    def _one_off_hauliers(self, rows: np.ndarray) -> None:
        """Give `rows` a haulier and plate never seen elsewhere, registered where they start."""
        self.carrier[rows] = -1
        self.vehicle[rows] = -1
        plate_country = self.dispatch[rows]
        # Seven digits: a number range no registered haulier has.
        self.fresh["carrier"][rows] = (
            plate_country + "TR" + zero_padded(scrambled(rows, 10**7, 999), 7)
        )
        self.fresh["vehicle"][rows] = codes_by_group(
            self.rng, plate_country, cat.PLATE_TEMPLATES, "AA-999-AA"
        )

    def _draw_declarants(self, is_parcel: np.ndarray, is_traveller: np.ndarray) -> None:
        """Customs brokers per office country (each importer keeps its broker); posts and
        couriers declare parcels; travellers declare for themselves."""
        rng = self.rng
        self.declarant = np.full(self.n, -1, dtype=np.int64)
        brokered = ~is_parcel & ~is_traveller
        for country in sorted(set(self.office_country.tolist())):
            rows = np.flatnonzero(brokered & (self.office_country == country))
            size = 15 + len(rows) // 6000
            offset = self.declarants.add(
                country
                + "BR"
                + zero_padded(scrambled(np.arange(size) + self.declarants.size, 10**5, 77), 5)
            )
            usual = scrambled(np.maximum(self.importer[rows], 0), size, 3) if size else 0
            other = rng.integers(0, size, len(rows))
            self.declarant[rows] = offset + np.where(rng.random(len(rows)) < 0.85, usual, other)
        rows = np.flatnonzero(is_parcel)
        agents = self.declarants.add(
            np.array([f"{c}{kind}" for c in cat.REGION for kind in ("POST", "XPR")], dtype=object)
        )
        country_index = np.searchsorted(np.array(cat.REGION), self.office_country[rows].astype(str))
        courier = (self.segment[rows] == _SEGMENT["express"]).astype(np.int64)
        self.declarant[rows] = agents + country_index * 2 + courier
        self.declarant_is_importer = is_traveller

    # -- 3. what -------------------------------------------------------------------------
    def draw_goods(self) -> None:
        """Tariff line, origin, masses, value, packages, duty, description, procedure."""
        rng, n = self.rng, self.n
        commodities = cat.COMMODITIES
        segment = self.segment
        group = np.full(n, "freight", dtype=object)
        group[np.isin(segment, [_SEGMENT["van"], _SEGMENT["air_cargo"]])] = "light"
        group[np.isin(segment, [_SEGMENT["express"], _SEGMENT["postal"]])] = "parcel"
        group[np.isin(segment, [_SEGMENT["car"], _SEGMENT["bus"]])] = "car"
        hs = np.empty(n, dtype=np.int64)
        for name in ("freight", "light", "parcel", "car"):
            rows = np.flatnonzero(group == name)
            weights = np.array([getattr(c, name) for c in commodities])
            hs[rows] = rng.choice(len(commodities), len(rows), p=weights / weights.sum())
        # Businesses mostly declare their own line of business.
        rows = np.flatnonzero(
            (self.importer >= 0)
            & (self.importer < self.n_business_importers)
            & np.isin(group, ["freight", "light"])
        )
        usual = self.importer_lines[
            self.importer[rows], rng.choice(3, len(rows), p=[0.6, 0.25, 0.15])
        ]
        light_ok = np.array([c.light > 0 for c in commodities])[usual] | (group[rows] == "freight")
        keep = light_ok & (rng.random(len(rows)) < 0.85)
        hs[rows[keep]] = usual[keep]
        self.hs = hs
        self.origin = np.empty(n, dtype=object)
        self.net_mass = np.zeros(n)
        self.gross_mass = np.zeros(n)
        self.value = np.zeros(n)
        self.packages = np.zeros(n, dtype=np.int64)
        self.description = np.full(n, None, dtype=object)
        self.duty = np.full(n, np.nan)
        self._price_goods(np.arange(n))
        self.procedure = np.empty(n, dtype=object)
        for flow, table in ((_IMPORT, cat.IMPORT_PROCEDURES), (_EXPORT, cat.EXPORT_PROCEDURES)):
            rows = np.flatnonzero(self.flow == flow)
            self.procedure[rows] = _weighted_choice(rng, table, len(rows))
        self.procedure[self.flow == _TRANSIT] = cat.TRANSIT_PROCEDURE

    def _price_goods(self, rows: np.ndarray) -> None:
        """Origin, masses, value, packages, duty and description of `rows` from their hs line."""
        rng = self.rng
        commodities = cat.COMMODITIES
        hs = self.hs[rows]
        segment = self.segment[rows]
        m = len(rows)
        origin = np.empty(m, dtype=object)
        for index in np.unique(hs):
            mine = np.flatnonzero(hs == index)
            origins = np.array(commodities[index].origins, dtype=object)
            origin[mine] = origins[rng.integers(0, len(origins), len(mine))]
            descriptions = np.array(commodities[index].descriptions, dtype=object)
            self.description[rows[mine]] = descriptions[
                rng.integers(0, len(descriptions), len(mine))
            ]
        same = rng.random(m) < 0.4
        origin[same] = self.dispatch[rows][same]
        exported = self.flow[rows] == _EXPORT
        domestic = exported & (rng.random(m) < 0.8)
        origin[domestic] = self.office_country[rows][domestic]
        self.origin[rows] = origin

        median = np.array([cat.SEGMENT_NET_MASS[s][0] for s in range(len(cat.SEGMENTS))])[segment]
        sigma = np.array([cat.SEGMENT_NET_MASS[s][1] for s in range(len(cat.SEGMENTS))])[segment]
        low = np.array([cat.SEGMENT_NET_MASS[s][2] for s in range(len(cat.SEGMENTS))])[segment]
        high = np.array([cat.SEGMENT_NET_MASS[s][3] for s in range(len(cat.SEGMENTS))])[segment]
        mass_factor = np.array([c.mass_factor for c in commodities])[hs]
        scaled = np.isin(
            segment, [_SEGMENT[s] for s in ("truck", "van", "container", "rail", "air_cargo")]
        )
        median = np.where(scaled, median * mass_factor, median)
        net = np.clip(np.exp(np.log(median) + sigma * rng.standard_normal(m)), low, high)
        unit_median = np.array([c.value_per_kg for c in commodities])[hs]
        unit_sigma = np.array([c.sigma for c in commodities])[hs]
        unit_value = np.exp(np.log(unit_median) + unit_sigma * rng.standard_normal(m))
        self.net_mass[rows] = net
        self.gross_mass[rows] = net * rng.uniform(1.02, 1.25, m)
        self.value[rows] = net * unit_value
        per_package = np.array([600.0, 60.0, 10.0, 10.0, 80.0, 800.0, 15.0, 1.0, 1.0])[segment]
        packages = np.round(self.gross_mass[rows] / per_package * rng.uniform(0.5, 1.5, m))
        self.packages[rows] = np.maximum(1, packages).astype(np.int64)
        self.packages[rows[segment == _SEGMENT["postal"]]] = 1
        self._set_duty(rows)

    def _set_duty(self, rows: np.ndarray) -> None:
        """Duty of imports: zero for preferential origins, the line's MFN rate otherwise."""
        mfn = np.array([c.duty for c in cat.COMMODITIES], dtype=float)[self.hs[rows]]
        preferential = _among(self.origin[rows], list(cat.PREFERENTIAL_ORIGINS))
        duty = np.where(preferential, 0.0, mfn)
        self.duty[rows] = np.where(self.flow[rows] == _IMPORT, duty, np.nan)

    def _first_days(self, keys: np.ndarray, size: int) -> np.ndarray:
        """Day of each row's entity's first declaration (the row's own day for one-offs)."""
        first = np.full(max(size, 1), np.iinfo(np.int32).max, dtype=np.int64)
        known = keys >= 0
        np.minimum.at(first, keys[known], self.day[known])
        return np.where(known, first[np.maximum(keys, 0)], self.day)

    # -- 4. threats ----------------------------------------------------------------------
    def plant_threats(self) -> None:
        """Weapons, migrants and revenue fraud, each through several overlapping schemes."""
        n = self.n
        self.weapons_scheme = np.full(n, None, dtype=object)
        self.migrants_scheme = np.full(n, None, dtype=object)
        self.revenue_scheme = np.full(n, None, dtype=object)
        self.migrants_count = np.zeros(n, dtype=np.int64)
        self.additional_duty = np.zeros(n)
        self.bad_vehicles: dict[str, np.ndarray] = {}
        self._plant_weapons()
        self._plant_migrants()
        self._plant_revenue()

    def _plant_weapons(self) -> None:
        """SALW: parts by post (misdescribed, disguise codes, first-time private consignees,
        a few repeat sellers; a new disguise code in the drift period), converted gas pistols
        from Turkey, the ant trade in cars and vans leaving BA/RS, and the odd lorry."""
        rng, n = self.rng, self.n
        segment, day = self.segment, self.day
        expected = WEAPONS_RATE * n
        region = _among(self.dispatch, list(cat.REGION))
        imported = self.flow == _IMPORT
        drift = day >= self.drift_day

        # Parts bought online, by post and express, misdescribed, to first-time consignees.
        parcel = np.isin(segment, [_SEGMENT["express"], _SEGMENT["postal"]]) & imported
        weight = (
            parcel
            * (1.0 + 2.0 * (self.importer < 0))
            * (1.0 + _among(self.dispatch, cat.WEAPON_PARTS_DISPATCH))
        )
        rows = np.flatnonzero(_bernoulli_by_weight(rng, weight, 0.48 * expected))
        self.weapons_scheme[rows] = "parts_by_post"
        codes = np.array([code for code, _ in cat.WEAPON_DISGUISE_CODES], dtype=object)
        code_weights = np.array([w for _, w in cat.WEAPON_DISGUISE_CODES])
        disguise = rng.random(len(rows)) < 0.7
        new_code = codes[rng.choice(len(codes), len(rows), p=code_weights / code_weights.sum())]
        new_code[drift[rows] & (rng.random(len(rows)) < 0.6)] = cat.WEAPON_DRIFT_CODE
        changed = rows[disguise]
        self.hs[changed] = [_COMMODITY[c] for c in new_code[disguise]]
        self._price_goods(changed)
        self.net_mass[rows] = np.exp(np.log(0.9) + 0.6 * rng.standard_normal(len(rows))).clip(
            0.05, 10
        )
        self.gross_mass[rows] = self.net_mass[rows] * rng.uniform(1.05, 1.3, len(rows))
        unit = np.array([c.value_per_kg for c in cat.COMMODITIES])[self.hs[rows]]
        self.value[rows] = self.net_mass[rows] * unit * np.exp(0.5 * rng.standard_normal(len(rows)))
        misdescribed = rows[rng.random(len(rows)) < 0.6]
        self.description[misdescribed] = np.array(cat.WEAPON_MISDESCRIPTIONS, dtype=object)[
            rng.integers(0, len(cat.WEAPON_MISDESCRIPTIONS), len(misdescribed))
        ]
        first_time = rows[(rng.random(len(rows)) < 0.85) & (self.importer[rows] >= 0)]
        self.importer[first_time] = -1
        self.fresh["importer"][first_time] = _private_ids(first_time, 5)
        # A few online sellers ship parts again and again, from where the parcel comes.
        for country, sellers in self._bad_sellers().items():
            mine = rows[(self.dispatch[rows] == country) & (rng.random(len(rows)) < 0.5)]
            self.exporter[mine] = sellers[rng.integers(0, len(sellers), len(mine))]

        # Converted gas and alarm pistols from Turkey, declared as 9304 or as toys.
        eligible = (
            np.isin(segment, [_SEGMENT[s] for s in ("truck", "van", "air_cargo", "express")])
            & imported
        )
        weight = eligible * np.where(self.dispatch == "TR", 5.0, 0.3)
        rows = np.flatnonzero(_bernoulli_by_weight(rng, weight, 0.15 * expected))
        self.weapons_scheme[rows] = "gas_pistols"
        as_toys = rng.random(len(rows)) < 0.25
        self.hs[rows] = np.where(as_toys, _COMMODITY["95030075"], _COMMODITY[cat.GAS_PISTOL_CODE])
        self.origin[rows] = "TR"
        small = self.net_mass[rows].clip(max=rng.uniform(5, 120, len(rows)))
        self.net_mass[rows] = small
        self.gross_mass[rows] = small * rng.uniform(1.05, 1.3, len(rows))
        unit = np.array([c.value_per_kg for c in cat.COMMODITIES])[self.hs[rows]]
        self.value[rows] = small * unit * np.exp(0.5 * rng.standard_normal(len(rows)))
        for index in np.unique(self.hs[rows]):
            mine = rows[self.hs[rows] == index]
            texts = np.array(cat.COMMODITIES[index].descriptions, dtype=object)
            self.description[mine] = texts[rng.integers(0, len(texts), len(mine))]
        self._set_duty(rows)

        # The "ant trade": cars and vans from Bosnia and Herzegovina or Serbia towards the EU,
        # hidden compartments; some cars come back again and again.
        road_private = np.isin(segment, [_SEGMENT["car"], _SEGMENT["van"]])
        leaving = road_private & region & ~_among(self.destination, list(cat.REGION))
        weight = road_private * (
            0.2
            + 0.8 * region
            + 3.0 * leaving
            + 2.0 * (_among(self.dispatch, ["BA", "RS"]) & leaving)
        )
        rows = np.flatnonzero(_bernoulli_by_weight(rng, weight, 0.30 * expected))
        self.weapons_scheme[rows] = "car_compartment"
        cars = self._repeat_vehicles("weapons", max(4, len(rows) // 6), self.dispatch[rows])
        again = rng.random(len(rows)) < 0.35
        self.vehicle[rows[again]] = cars[rng.integers(0, len(cars), int(again.sum()))]
        night = rows[rng.random(len(rows)) < 0.45]
        self.hour[night] = rng.choice(np.array(cat.NIGHT_HOURS), len(night))

        # Now and then, weapons or ammunition inside a lorry's declared cargo.
        weight = (segment == _SEGMENT["truck"]).astype(float)
        rows = np.flatnonzero(_bernoulli_by_weight(rng, weight, 0.07 * expected))
        self.weapons_scheme[rows] = "truck_load"
        parts = rows[rng.random(len(rows)) < 0.5]
        self.hs[parts] = np.where(
            rng.random(len(parts)) < 0.5, _COMMODITY["87089997"], _COMMODITY["84879090"]
        )
        self._price_goods(parts)

    def _bad_sellers(self) -> dict[str, np.ndarray]:
        """Online sellers of weapon parts: two small, obscure exporters per country of dispatch."""
        sellers = {}
        for country in cat.WEAPON_PARTS_DISPATCH:
            if country in self.exporter_pools:
                offset, size = self.exporter_pools[country]
                sellers[country] = offset + size - 1 - np.arange(min(2, size), dtype=np.int64)
        return sellers

    def _repeat_vehicles(self, threat: str, count: int, countries: np.ndarray) -> np.ndarray:
        """A small set of vehicles used again and again for one threat (registered anew)."""
        rng = self.rng
        plate_country = (
            countries[rng.integers(0, len(countries), count)]
            if len(countries)
            else np.full(count, "RS", dtype=object)
        )
        offset = self.vehicles.add(
            codes_by_group(rng, plate_country.astype(object), cat.PLATE_TEMPLATES, "AA-999-AA")
        )
        keys = offset + np.arange(count, dtype=np.int64)
        self.bad_vehicles[threat] = keys
        return keys

    def _plant_migrants(self) -> None:
        """People hidden in lorries and vans on the corridors (and a few cars and buses):
        light or cheap loads, new hauliers or the network's repeat vehicles, night crossings,
        an itinerary that does not fit the dispatch country; a new route via Gradina late on."""
        rng, n = self.rng, self.n
        segment = self.segment
        drift = self.day >= self.drift_day
        goods_vehicle = np.isin(segment, [_SEGMENT["truck"], _SEGMENT["van"]])
        passenger = np.isin(segment, [_SEGMENT["car"], _SEGMENT["bus"]])
        corridor = _contains_leg(self.route, cat.MIGRANT_CORRIDOR_LEGS)
        new_route = _contains_leg(self.route, cat.MIGRANT_DRIFT_LEGS) & (
            self.office == cat.MIGRANT_DRIFT_OFFICE
        )
        weight = goods_vehicle * 1.0 + passenger * 0.15
        weight = weight * np.where(corridor, np.where(drift, 2.0, 4.0), 1.0)
        weight = weight * np.where(new_route & drift, 14.0, 1.0)
        rows = np.flatnonzero(_bernoulli_by_weight(rng, weight, MIGRANTS_RATE * n))
        m = len(rows)
        self.migrants_scheme[rows] = np.where(
            new_route[rows] & drift[rows],
            "new_route",
            np.where(goods_vehicle[rows], "goods_vehicle", "passenger_vehicle"),
        )
        kind = segment[rows]
        count = np.select(
            [kind == _SEGMENT["truck"], kind == _SEGMENT["van"], kind == _SEGMENT["bus"]],
            [4 + rng.poisson(12, m), 2 + rng.poisson(5, m), 1 + rng.poisson(3, m)],
            1 + rng.poisson(1.5, m),
        )
        self.migrants_count[rows] = count

        # Cheap cover loads, and loads light for the vehicle.
        cheap = rows[goods_vehicle[rows] & (rng.random(m) < 0.3)]
        covers = np.array([_COMMODITY[c] for c in cat.MIGRANT_COVER_CODES])
        self.hs[cheap] = covers[rng.integers(0, len(covers), len(cheap))]
        self._price_goods(cheap)
        light = rows[goods_vehicle[rows] & (rng.random(m) < 0.55)]
        factor = rng.uniform(0.15, 0.5, len(light))
        self.net_mass[light] *= factor
        self.gross_mass[light] *= factor
        self.value[light] *= factor
        self.packages[light] = np.maximum(1, np.round(self.packages[light] * factor)).astype(
            np.int64
        )

        # New hauliers on one-off plates, or the network's own vehicles again.
        draw = rng.random(m)
        self._one_off_hauliers(rows[goods_vehicle[rows] & (draw < 0.35)])
        network = rows[goods_vehicle[rows] & (draw >= 0.35) & (draw < 0.65)]
        vans = self._repeat_vehicles("migrants", max(6, m // 8), self.dispatch[rows])
        self.vehicle[network] = vans[rng.integers(0, len(vans), len(network))]
        haulier_count = max(3, len(vans) // 3)
        haulier_country = rng.choice(
            np.array(["GR", "MK", "RS", "AL", "BG"], dtype=object), haulier_count
        )
        keys = self.carriers.size + np.arange(haulier_count)
        offset = self.carriers.add(
            haulier_country + "TR" + zero_padded(scrambled(keys, 10**6, 271), 6)
        )
        self.smuggler_hauliers = offset + np.arange(haulier_count, dtype=np.int64)
        self.carrier[network] = self.smuggler_hauliers[
            (self.vehicle[network] - vans[0]) % haulier_count
        ]

        night = rows[rng.random(m) < 0.45]
        self.hour[night] = rng.choice(np.array(cat.NIGHT_HOURS), len(night))
        # The itinerary declared does not fit the dispatch country.
        mismatch = rows[goods_vehicle[rows] & (rng.random(m) < 0.15)]
        self.dispatch[mismatch] = rng.choice(
            np.array(["DE", "IT", "AT", "NL"], dtype=object), len(mismatch)
        )

    def _plant_revenue(self) -> None:
        """Undervaluation, misclassification to a lower-duty line and false preferential
        origin; more likely for high duty, non-preferential origin, repeat-offender importers,
        new traders and short-lived phantom traders. The evaded duty goes to the truth."""
        rng, n = self.rng, self.n
        imported = self.flow == _IMPORT
        business = (self.importer >= 0) & (self.importer < self.n_business_importers)
        # Phantom traders: short-lived companies that import a few times and vanish.
        freight = (
            imported
            & business
            & np.isin(
                self.segment, [_SEGMENT[s] for s in ("truck", "van", "container", "air_cargo")]
            )
        )
        rows = np.flatnonzero(freight & (rng.random(n) < 0.006))
        window, concurrent = 30, 3
        per_country = self.days * concurrent // window + 1
        countries = sorted(set(self.destination[rows].tolist()))
        offset = self.importers.add(
            np.array(
                # Numbers from 9000000000: a range established importers (below 10**9) never use.
                [f"{c}{9_000_000_000 + k:010d}" for c in countries for k in range(per_country)],
                dtype=object,
            )
        )
        country_index = np.searchsorted(np.array(countries), self.destination[rows].astype(str))
        slot = self.day[rows] * concurrent // window - rng.integers(0, concurrent, len(rows))
        self.importer[rows] = (
            offset + country_index * per_country + np.clip(slot, 0, per_country - 1)
        )
        phantom = np.zeros(n, dtype=bool)
        phantom[rows] = True
        self.phantom_importers = (offset, len(countries) * per_country)

        # Repeat offenders among established importers; new traders are riskier.
        self.bad_importers = np.flatnonzero(rng.random(self.n_business_importers) < 0.03)
        bad = np.isin(self.importer, self.bad_importers)
        first = self._first_days(self.importer, self.importers.size)
        new_trader = business & (self.day - first < 60)
        mfn = np.array([c.duty for c in cat.COMMODITIES])[self.hs]
        non_preferential = ~_among(self.origin, list(cat.PREFERENTIAL_ORIGINS))
        weight = (imported & (self.segment != _SEGMENT["postal"])) * (0.3 + mfn / 10.0)
        weight = (
            weight
            * np.where(bad, 8.0, 1.0)
            * np.where(phantom, 25.0, 1.0)
            * np.where(new_trader, 2.0, 1.0)
        )
        weight = weight * np.where(non_preferential, 1.5, 1.0)
        weight[_planted(self.weapons_scheme)] = 0.0
        rows = np.flatnonzero(_bernoulli_by_weight(rng, weight, REVENUE_RATE * n))
        m = len(rows)
        lower = np.array([_COMMODITY.get(c.misclassified_as or "", -1) for c in cat.COMMODITIES])[
            self.hs[rows]
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
        self.revenue_scheme[rows] = scheme
        true_duty = np.nan_to_num(self.duty[rows])
        value = self.value[rows]
        vat = 20.0

        under = scheme == "undervaluation"
        factor = rng.uniform(0.15, 0.55, m)
        extra = np.where(under, value * (1.0 - factor) * (true_duty + vat) / 100.0, 0.0)
        self.value[rows[under]] = value[under] * factor[under]

        misclassified = rows[scheme == "misclassification"]
        kept_text = self.description[misclassified].copy()
        self.hs[misclassified] = lower[scheme == "misclassification"]
        self._set_duty(misclassified)
        keep_description = rng.random(len(misclassified)) < 0.5
        replacement = np.array(
            [cat.COMMODITIES[i].descriptions[0] for i in self.hs[misclassified]], dtype=object
        )
        self.description[misclassified] = np.where(keep_description, kept_text, replacement)
        declared_duty = np.nan_to_num(self.duty[rows])
        extra = np.where(
            scheme == "misclassification",
            value * (true_duty - declared_duty) / 100.0 * (1 + vat / 100.0),
            extra,
        )

        false_origin = rows[scheme == "false_origin"]
        self.origin[false_origin] = rng.choice(
            np.array(["TR", "IT", "DE", "BG", "GR", "RS"], dtype=object), len(false_origin)
        )
        self._set_duty(false_origin)
        extra = np.where(
            scheme == "false_origin", value * true_duty / 100.0 * (1 + vat / 100.0), extra
        )
        self.additional_duty[rows] = np.round(np.maximum(extra, 1.0), 2)

    # -- 5. watchlist --------------------------------------------------------------------
    def build_watchlist(self) -> None:
        """Entities flagged by partner agencies, with validity windows; some innocent."""
        rng = self.rng
        entries: list[tuple[str, np.ndarray, str]] = []  # entity type, keys, threat

        def share(keys: np.ndarray, fraction: float) -> np.ndarray:
            return keys[rng.random(len(keys)) < fraction]

        trucks = np.unique(self.vehicle[(self.segment == _SEGMENT["truck"]) & (self.vehicle >= 0)])
        cars = np.unique(self.vehicle[(self.segment == _SEGMENT["car"]) & (self.vehicle >= 0)])
        importers = np.arange(self.n_business_importers)
        all_exporters = np.arange(self.exporters.size)
        hauliers = np.unique(
            self.carrier[(self.segment == _SEGMENT["truck"]) & (self.carrier >= 0)]
        )
        smuggler_vehicles = self.bad_vehicles["migrants"]
        entries += [
            ("vehicle_id", share(smuggler_vehicles, 0.7), "migrants"),
            (
                "vehicle_id",
                rng.choice(
                    trucks, min(len(trucks), max(3, len(smuggler_vehicles) // 2)), replace=False
                ),
                "migrants",
            ),
            ("carrier_id", share(self.smuggler_hauliers, 0.6), "migrants"),
            ("carrier_id", rng.choice(hauliers, min(len(hauliers), 3), replace=False), "migrants"),
            ("vehicle_id", share(self.bad_vehicles["weapons"], 0.5), "weapons"),
            (
                "vehicle_id",
                rng.choice(
                    cars,
                    min(len(cars), max(3, len(self.bad_vehicles["weapons"]) // 2)),
                    replace=False,
                ),
                "weapons",
            ),
            (
                "exporter_id",
                share(np.concatenate(list(self._bad_sellers().values())), 0.5),
                "weapons",
            ),
            (
                "exporter_id",
                rng.choice(all_exporters, min(len(all_exporters), 3), replace=False),
                "weapons",
            ),
            ("importer_id", share(self.bad_importers, 0.4), "revenue"),
            (
                "importer_id",
                rng.choice(
                    importers,
                    min(len(importers), max(3, len(self.bad_importers) // 4)),
                    replace=False,
                ),
                "revenue",
            ),
        ]
        registries = {
            "vehicle_id": self.vehicles,
            "carrier_id": self.carriers,
            "exporter_id": self.exporters,
            "importer_id": self.importers,
        }
        self.listed_from = {name: np.full(max(r.size, 1), np.inf) for name, r in registries.items()}
        self.listed_to = {name: np.full(max(r.size, 1), -np.inf) for name, r in registries.items()}
        rows: list[dict[str, object]] = []
        for entity_type, keys, threat in entries:
            keys = np.unique(keys)
            valid_from = rng.integers(-200, max(1, int(self.days * 0.9)), len(keys))
            duration = rng.integers(60, 500, len(keys))
            open_ended = rng.random(len(keys)) < 0.25
            source = rng.choice(np.array(cat.WATCHLIST_SOURCES, dtype=object), len(keys))
            names = registries[entity_type].names()[keys]
            self.listed_from[entity_type][keys] = np.minimum(
                self.listed_from[entity_type][keys], valid_from
            )
            self.listed_to[entity_type][keys] = np.maximum(
                self.listed_to[entity_type][keys],
                np.where(open_ended, np.inf, valid_from + duration),
            )
            for name, start, length, is_open, agency in zip(
                names, valid_from, duration, open_ended, source, strict=True
            ):
                rows.append(
                    {
                        "entity_type": entity_type,
                        "entity_id": name,
                        "threat": threat,
                        "valid_from": int(start),
                        "valid_to": None if is_open else int(start + length),
                        "source": agency,
                    }
                )
        frame = pd.DataFrame(rows, columns=list(WATCHLIST_COLUMNS))
        frame = frame.drop_duplicates(["entity_type", "entity_id", "threat"]).sort_values(
            ["valid_from", "entity_type", "entity_id"], kind="stable"
        )
        origin = pd.Timestamp(self.start, tz="UTC")
        frame["valid_from"] = origin + pd.to_timedelta(
            frame["valid_from"].astype("int64"), unit="D"
        )
        frame["valid_to"] = origin + pd.to_timedelta(frame["valid_to"].astype("float64"), unit="D")
        for column in ("valid_from", "valid_to"):
            frame[column] = frame[column].astype("datetime64[us, UTC]")
        self.watchlist = frame.reset_index(drop=True)

        hit = np.zeros(self.n, dtype=bool)
        for entity_type, keys in (
            ("vehicle_id", self.vehicle),
            ("carrier_id", self.carrier),
            ("exporter_id", self.exporter),
            ("importer_id", self.importer),
        ):
            known = np.maximum(keys, 0)
            inside = (self.day >= self.listed_from[entity_type][known]) & (
                self.day <= self.listed_to[entity_type][known]
            )
            hit |= (keys >= 0) & inside
        self.watchlist_hit = hit

    # -- 6. selection and outcomes ---------------------------------------------------------
    def select_and_inspect(self) -> None:
        """Past selection (rules plus random share) and what the inspections found."""
        rng, n = self.rng, self.n
        segment = self.segment
        chapter = np.array([c.hs_code[:2] for c in cat.COMMODITIES], dtype=object)[self.hs]
        heading = np.array([c.hs_code[:4] for c in cat.COMMODITIES], dtype=object)[self.hs]
        goods_vehicle = np.isin(segment, [_SEGMENT["truck"], _SEGMENT["van"]])
        corridor_office = _among(
            self.office,
            [
                "MK-BOGORODICA",
                "MK-TABANOVCE",
                "RS-PRESEVO",
                "RS-HORGOS",
                "RS-BATROVCI",
                "AL-KAKAVIJA",
                "AL-HANI-I-HOTIT",
                "ME-VRACENOVICI",
                "BA-KLOBUK",
            ],
        )
        corridor = (
            goods_vehicle & corridor_office & _contains_leg(self.route, cat.MIGRANT_CORRIDOR_LEGS)
        )
        night = np.isin(self.hour, cat.NIGHT_HOURS)
        parcel = np.isin(segment, [_SEGMENT["express"], _SEGMENT["postal"]])
        disguise = _among(heading, ["7318", "8487", "8708", "3916", "8485"])
        non_preferential = ~_among(self.origin, list(cat.PREFERENTIAL_ORIGINS))
        duty = np.nan_to_num(self.duty)
        car_to_eu = (
            (segment == _SEGMENT["car"])
            & _among(self.dispatch, ["BA", "RS"])
            & ~_among(self.destination, list(cat.REGION))
        )

        rules = [
            ("HS chapter 93", chapter == "93", 0.6),
            ("watchlist hit", self.watchlist_hit, 0.5),
            ("migrant corridor lorry at night", corridor & night, 0.25),
            ("migrant corridor lorry", corridor, 0.12),
            (
                "parts by post from high-risk dispatch",
                parcel & disguise & _among(self.dispatch, ["US", "TR"]),
                0.2,
            ),
            (
                "apparel and footwear from CN",
                _among(chapter, ["61", "62", "64"])
                & (self.origin == "CN")
                & (self.flow == _IMPORT),
                0.2,
            ),
            ("high duty, non-preferential origin", (duty >= 20) & non_preferential, 0.15),
            ("cars from BA/RS towards the EU", car_to_eu, 0.08),
        ]
        rule_probability = np.zeros(n)
        rule_name = np.full(n, None, dtype=object)
        for name, applies, probability in rules:
            better = applies & (probability > rule_probability)
            rule_probability[better] = probability
            rule_name[better] = name
        by_rule = rng.random(n) < rule_probability
        by_chance = rng.random(n) < RANDOM_SELECTION_PROBABILITY
        inspected = by_rule | by_chance
        selection_probability = 1.0 - (1.0 - rule_probability) * (
            1.0 - RANDOM_SELECTION_PROBABILITY
        )
        rows = np.flatnonzero(inspected)
        m = len(rows)
        reason = np.where(by_rule[rows], "rule", "random").astype(object)
        notes = np.where(
            by_rule[rows], "profile: " + rule_name[rows].astype(str), "random selection"
        ).astype(object)

        # Inspection type follows what the selection looks for.
        kind = rng.choice(
            np.array(["physical", "documentary", "scan"], dtype=object), m, p=[0.45, 0.4, 0.15]
        )
        looks_for_people = corridor[rows] & by_rule[rows]
        kind[looks_for_people] = np.where(
            rng.random(int(looks_for_people.sum())) < 0.7, "scan", "physical"
        )
        looks_for_weapons = by_rule[rows] & (
            _among(
                rule_name[rows],
                [
                    "HS chapter 93",
                    "parts by post from high-risk dispatch",
                    "watchlist hit",
                    "cars from BA/RS towards the EU",
                ],
            )
        )
        kind[looks_for_weapons] = "physical"
        looks_for_duty = by_rule[rows] & _among(
            rule_name[rows], ["apparel and footwear from CN", "high duty, non-preferential origin"]
        )
        kind[looks_for_duty] = np.where(
            rng.random(int(looks_for_duty.sum())) < 0.8, "documentary", "physical"
        )

        # Inspections miss some cases, documentary checks most of the hidden ones.
        detect = {
            "weapons": {"physical": 0.95, "scan": 0.8, "documentary": 0.4},
            "migrants": {"physical": 0.97, "scan": 0.95, "documentary": 0.5},
            "revenue": {"physical": 0.85, "scan": 0.6, "documentary": 0.9},
        }
        found: dict[str, np.ndarray] = {}
        for threat, present in (
            ("weapons", _planted(self.weapons_scheme[rows])),
            ("migrants", _planted(self.migrants_scheme[rows])),
            ("revenue", _planted(self.revenue_scheme[rows])),
        ):
            chance = np.select(
                [kind == k for k in detect[threat]], list(detect[threat].values()), 0.0
            )
            found[threat] = present & (rng.random(m) < chance)

        concealment = np.full(m, None, dtype=object)
        revenue_text = np.array(
            [cat.REVENUE_CONCEALMENT.get(s, "") for s in self.revenue_scheme[rows]], dtype=object
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
        self.outcome_rows = rows
        self.outcome_columns: dict[str, Any] = {
            "inspected_at_seconds": self._lodged_seconds()[rows]
            + np.round(delay_hours * 3600).astype(np.int64),
            "inspection_type": kind,
            "selection_reason": reason,
            "selection_probability": np.round(selection_probability[rows], 6),
            "result": np.where(irregular, "irregular", "clear").astype(object),
            "weapons_found": found["weapons"],
            "migrants_found": np.where(found["migrants"], self.migrants_count[rows], 0).astype(
                np.float64
            ),
            "revenue_irregularity": found["revenue"],
            "additional_duty_eur": np.where(found["revenue"], self.additional_duty[rows], 0.0),
            "concealment": concealment,
            "notes": notes,
        }

    def _lodged_seconds(self) -> np.ndarray:
        """Seconds since the start of the period at which each declaration was lodged."""
        return self.day.astype(np.int64) * _SECONDS_PER_DAY + self.hour * 3600 + self.second_of_hour

    # -- assembly ------------------------------------------------------------------------
    def _texts(self, keys: np.ndarray, registry: _Registry, fresh: np.ndarray) -> np.ndarray:
        names = registry.names()
        out = fresh.copy()
        known = keys >= 0
        out[known] = names[keys[known]]
        return out

    def assemble(self) -> SyntheticData:
        """The four tables in canonical shape, declarations ordered by lodging time."""
        rng = self.rng
        seconds = self._lodged_seconds()
        order = np.argsort(seconds, kind="stable")
        rank = np.empty(self.n, dtype=np.int64)
        rank[order] = np.arange(self.n)
        ids = "D" + zero_padded((np.arange(self.n) + 1), 9)
        origin = pd.Timestamp(self.start, tz="UTC")
        lodged = pd.DatetimeIndex(origin + pd.to_timedelta(seconds, unit="s")).astype(
            "datetime64[us, UTC]"
        )

        importer = self._texts(self.importer, self.importers, self.fresh["importer"])
        declarant = self._texts(self.declarant, self.declarants, self.fresh["declarant"])
        declarant = np.where(self.declarant_is_importer, importer, declarant)
        description = self.description.copy()
        shout = rng.random(self.n) < 0.25
        description[shout] = np.char.upper(description[shout].astype(str)).astype(object)
        description[rng.random(self.n) < 0.03] = None
        hs_codes = np.array([c.hs_code for c in cat.COMMODITIES], dtype=object)[self.hs]
        columns = {
            "declaration_id": ids[rank],
            "lodged_at": lodged,
            "office_id": self.office,
            "flow": _FLOW_NAMES[self.flow],
            "procedure_code": self.procedure,
            "transport_mode": np.array(cat.SEGMENT_TRANSPORT_MODE, dtype=object)[self.segment],
            "vehicle_id": self._texts(self.vehicle, self.vehicles, self.fresh["vehicle"]),
            "vehicle_type": np.array(cat.SEGMENT_VEHICLE_TYPE, dtype=object)[self.segment],
            "declarant_id": declarant,
            "importer_id": importer,
            "exporter_id": self._texts(self.exporter, self.exporters, self.fresh["exporter"]),
            "carrier_id": self._texts(self.carrier, self.carriers, self.fresh["carrier"]),
            "origin_country": self.origin,
            "dispatch_country": self.dispatch,
            "destination_country": self.destination,
            "itinerary": self.itinerary,
            "hs_code": hs_codes,
            "goods_description": description,
            "packages": self.packages.astype(np.float64),  # canonical numbers are float64
            "gross_mass_kg": np.round(self.gross_mass, 3),
            "net_mass_kg": np.round(self.net_mass, 3),
            "customs_value_eur": np.round(self.value, 2),
            "duty_rate": self.duty,
        }
        declarations = _frame(columns, order, DECLARATION_COLUMNS)

        truth = _frame(
            {
                "declaration_id": ids[rank],
                "weapons": _planted(self.weapons_scheme).astype(np.int8),
                "migrants": _planted(self.migrants_scheme).astype(np.int8),
                "revenue": _planted(self.revenue_scheme).astype(np.int8),
                "migrants_count": self.migrants_count,
                "additional_duty_eur": self.additional_duty,
                "weapons_scheme": self.weapons_scheme,
                "migrants_scheme": self.migrants_scheme,
                "revenue_scheme": self.revenue_scheme,
            },
            order,
            TRUTH_COLUMNS,
        )

        rows = self.outcome_rows
        outcome_order = np.argsort(rank[rows], kind="stable")
        values = dict(self.outcome_columns)
        inspected_at = pd.DatetimeIndex(
            origin + pd.to_timedelta(values.pop("inspected_at_seconds"), unit="s")
        ).astype("datetime64[us, UTC]")
        values["declaration_id"] = ids[rank[rows]]
        values["inspected_at"] = inspected_at
        outcomes = _frame(values, outcome_order, OUTCOME_COLUMNS)
        return SyntheticData(declarations, outcomes, self.watchlist, truth)

    def run(self) -> SyntheticData:
        """All steps in their fixed order (the order is part of reproducibility)."""
        self.draw_traffic()
        self.draw_parties()
        self.draw_goods()
        self.plant_threats()
        self.build_watchlist()
        self.select_and_inspect()
        return self.assemble()


def _frame(columns: Mapping[str, Any], order: np.ndarray, names: tuple[str, ...]) -> pd.DataFrame:
    """A frame with `names` in order, rows permuted by `order`, object text as pandas strings."""
    data = {}
    for name in names:
        values = columns[name]
        values = values[order]
        if isinstance(values, np.ndarray) and values.dtype == object:
            # Through Arrow: twice as fast as pandas' own conversion, same "str" array.
            values = pd.array(
                pa.array(values, type=pa.large_string(), from_pandas=True), dtype="str"
            )
        data[name] = values
    return pd.DataFrame(data)
