"""Step 1, traffic: on which day, through which office, by which means each declaration arrives.

`draw_traffic` spreads the declarations over the days (weekly and seasonal pattern, slow
growth), gives each a segment (truck, van, car, bus, container, rail, air cargo, express,
post), an office, dispatch and destination countries with the flow they imply, a declared
itinerary and a lodging hour. It reads only the generator; every later step reads `Traffic`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date

import numpy as np

from training.synthetic import catalogue as cat
from training.synthetic.draws import weighted_choice

SEGMENT: dict[str, int] = {segment.name: index for index, segment in enumerate(cat.SEGMENTS)}
IMPORT, EXPORT, TRANSIT = 0, 1, 2
FLOW_NAMES = np.array(["import", "export", "transit"], dtype=object)
_SECONDS_PER_DAY = 86_400
_ROAD_SEGMENTS = ("truck", "van", "car", "bus")
# Non-road segments: where their dispatch countries come from, the share that are exports,
# and the share of declarants who fill in the itinerary.
_DISPATCH_TABLES = {
    "container": cat.PORT_DISPATCH,
    "rail": cat.RAIL_DISPATCH,
    "air_cargo": cat.AIR_DISPATCH,
    "express": cat.EXPRESS_DISPATCH,
    "postal": cat.POSTAL_DISPATCH,
}
_EXPORT_SHARE = {"container": 0.12, "rail": 0.0, "air_cargo": 0.12, "express": 0.0, "postal": 0.0}
_ITINERARY_SHARE = {"container": 0.7, "rail": 0.9, "air_cargo": 0.5, "express": 0.3, "postal": 0.1}


@dataclass
class Traffic:
    """Where and when each declaration crosses: every array has one entry per row.

    `segment` indexes `catalogue.SEGMENTS`, `flow` is `IMPORT`, `EXPORT` or `TRANSIT`, `route`
    the road route ("GR>MK>RS", "" off the road), `day` counts from the first day. The
    threat steps change some rows later: smugglers cross at night (`hour`) and declare a
    dispatch country that does not fit their itinerary (`dispatch`).
    """

    day: np.ndarray
    segment: np.ndarray
    office: np.ndarray
    office_country: np.ndarray
    dispatch: np.ndarray
    destination: np.ndarray
    itinerary: np.ndarray
    flow: np.ndarray
    route: np.ndarray
    hour: np.ndarray
    second_of_hour: np.ndarray

    @property
    def n(self) -> int:
        """Number of declarations."""
        return len(self.day)

    def is_segment(self, *names: str) -> np.ndarray:
        """Whether each row belongs to one of the segments `names`."""
        return np.isin(self.segment, [SEGMENT[name] for name in names])

    def lodged_seconds(self) -> np.ndarray:
        """Seconds since the start of the period at which each declaration was lodged."""
        return self.day.astype(np.int64) * _SECONDS_PER_DAY + self.hour * 3600 + self.second_of_hour


def draw_traffic(rng: np.random.Generator, start: date, days: int, n: int) -> Traffic:
    """`n` declarations over `days` days from `start`: days, segments, offices, routes, hours."""
    day_index = np.arange(days)
    weekday = (np.datetime64(start.isoformat()) + day_index).astype("datetime64[D]")
    weekday = ((weekday.astype(np.int64) + 3) % 7).astype(int)  # 0 = Monday
    weekday_factor = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.65, 0.45])[weekday]
    season = 1.0 + 0.1 * np.sin(2 * np.pi * (day_index + start.timetuple().tm_yday) / 365.25)
    weights = weekday_factor * season * (1.0 + 0.05 * day_index / 365.25)
    day = np.repeat(day_index, rng.multinomial(n, weights / weights.sum())).astype(np.int32)
    shares = np.array([segment.share for segment in cat.SEGMENTS])
    segment = rng.choice(len(cat.SEGMENTS), n, p=shares).astype(np.int8)
    traffic = Traffic(
        day=day,
        segment=segment,
        office=np.empty(n, dtype=object),
        office_country=np.empty(n, dtype=object),
        dispatch=np.empty(n, dtype=object),
        destination=np.empty(n, dtype=object),
        itinerary=np.full(n, None, dtype=object),
        flow=np.zeros(n, dtype=np.int8),
        route=np.full(n, "", dtype=object),
        hour=np.empty(n, dtype=np.int64),
        second_of_hour=np.empty(n, dtype=np.int64),
    )
    _draw_road_traffic(rng, traffic)
    _draw_other_traffic(rng, traffic)
    for index, spec in enumerate(cat.SEGMENTS):
        rows = np.flatnonzero(segment == index)
        hour_weights = np.array(spec.hours, dtype=float)
        traffic.hour[rows] = rng.choice(24, len(rows), p=hour_weights / hour_weights.sum())
    traffic.second_of_hour = rng.integers(0, 3600, n)
    return traffic


def _road_offices() -> list[tuple[str, str, str, float]]:
    """(office, country, route, weight) for every road route and each office on it."""
    pairs: list[tuple[str, str, str, float]] = []
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
    return pairs


def _draw_road_traffic(rng: np.random.Generator, traffic: Traffic) -> None:
    """Road declarations: a route, then one of the offices on it (border or inland)."""
    pairs = _road_offices()
    pair_office = np.array([p[0] for p in pairs], dtype=object)
    pair_country = np.array([p[1] for p in pairs], dtype=object)
    pair_route = np.array([p[2] for p in pairs], dtype=object)
    pair_weight = np.array([p[3] for p in pairs])
    rows = np.flatnonzero(traffic.is_segment(*_ROAD_SEGMENTS))
    pick = rng.choice(len(pairs), len(rows), p=pair_weight / pair_weight.sum())
    traffic.office[rows] = pair_office[pick]
    traffic.office_country[rows] = pair_country[pick]
    traffic.route[rows] = pair_route[pick]
    first = np.array([r.split(">")[0] for r in pair_route], dtype=object)
    last = np.array([r.split(">")[-1] for r in pair_route], dtype=object)
    traffic.dispatch[rows] = first[pick]
    traffic.destination[rows] = last[pick]
    flow = np.full(len(rows), TRANSIT, dtype=np.int8)
    flow[traffic.office_country[rows] == traffic.destination[rows]] = IMPORT
    flow[traffic.office_country[rows] == traffic.dispatch[rows]] = EXPORT
    traffic.flow[rows] = flow
    itinerary = pair_route[pick].copy()
    itinerary[rng.random(len(rows)) < 0.05] = None  # some declarants leave it empty
    traffic.itinerary[rows] = itinerary


def _draw_other_traffic(rng: np.random.Generator, traffic: Traffic) -> None:
    """Ports, rail, airports and postal centres: imports mostly, some exports."""
    for segment, table in _DISPATCH_TABLES.items():
        rows = np.flatnonzero(traffic.segment == SEGMENT[segment])
        kind = cat.SEGMENTS[SEGMENT[segment]].office_kind
        offices = [office for office in cat.OFFICES if office.kind == kind]
        weights = np.array([office.weight for office in offices])
        pick = rng.choice(len(offices), len(rows), p=weights / weights.sum())
        office_ids = np.array([office.office_id for office in offices], dtype=object)
        countries = np.array([office.country for office in offices], dtype=object)
        neighbours = np.array([office.neighbour or "" for office in offices], dtype=object)
        traffic.office[rows] = office_ids[pick]
        home = countries[pick]
        traffic.office_country[rows] = home
        dispatch = weighted_choice(rng, table, len(rows))
        destination = home.copy()
        exported = rng.random(len(rows)) < _EXPORT_SHARE[segment]
        destination[exported] = weighted_choice(rng, cat.EXPORT_DESTINATIONS, int(exported.sum()))
        dispatch[exported] = home[exported]
        traffic.flow[rows[exported]] = EXPORT
        traffic.dispatch[rows] = dispatch
        traffic.destination[rows] = destination
        if segment == "rail":
            via = neighbours[pick]
            itinerary = np.where(
                dispatch == via, dispatch + ">" + home, dispatch + ">" + via + ">" + home
            )
        else:
            itinerary = dispatch + ">" + destination
        itinerary = itinerary.astype(object)
        itinerary[rng.random(len(rows)) >= _ITINERARY_SHARE[segment]] = None
        traffic.itinerary[rows] = itinerary
