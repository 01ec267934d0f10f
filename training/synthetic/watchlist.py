"""Step 5, watchlist: entities flagged by partner agencies, with validity windows.

Most entries name the bad actors the threat steps recorded in `Truth` (repeat vehicles,
smugglers' hauliers, online sellers, repeat offenders), some name innocent traders.
`build_watchlist` reads the generator, `Traffic` (days), `Parties` and `Truth`, and returns
the watchlist table and, per declaration, whether it names a listed entity on its day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from features.schema import WATCHLIST_COLUMNS
from training.synthetic import catalogue as cat
from training.synthetic.parties import Parties
from training.synthetic.traffic import SEGMENT, Traffic
from training.synthetic.truth import Truth

# Watchlist entity types, and the party role whose identifier each one lists.
_ENTITY_ROLES: dict[str, str] = {
    "vehicle_id": "vehicle",
    "carrier_id": "carrier",
    "exporter_id": "exporter",
    "importer_id": "importer",
}


@dataclass(frozen=True)
class Watchlist:
    """The watchlist in canonical shape, and which declarations it names on their day."""

    entries: pd.DataFrame
    hit: np.ndarray


def build_watchlist(
    rng: np.random.Generator,
    start: date,
    days: int,
    traffic: Traffic,
    parties: Parties,
    truth: Truth,
) -> Watchlist:
    """List bad actors and some innocent entities for windows around the `days` from `start`."""
    listed_from = {
        entity_type: np.full(max(parties.registries[role].size, 1), np.inf)
        for entity_type, role in _ENTITY_ROLES.items()
    }
    listed_to = {
        entity_type: np.full(max(parties.registries[role].size, 1), -np.inf)
        for entity_type, role in _ENTITY_ROLES.items()
    }
    rows: list[dict[str, object]] = []
    for entity_type, keys, threat in _entries(rng, traffic, parties, truth):
        keys = np.unique(keys)
        valid_from = rng.integers(-200, max(1, int(days * 0.9)), len(keys))
        duration = rng.integers(60, 500, len(keys))
        open_ended = rng.random(len(keys)) < 0.25
        source = rng.choice(np.array(cat.WATCHLIST_SOURCES, dtype=object), len(keys))
        names = parties.registries[_ENTITY_ROLES[entity_type]].names()[keys]
        listed_from[entity_type][keys] = np.minimum(listed_from[entity_type][keys], valid_from)
        listed_to[entity_type][keys] = np.maximum(
            listed_to[entity_type][keys],
            np.where(open_ended, np.inf, valid_from + duration),
        )
        for name, first_day, length, is_open, agency in zip(
            names, valid_from, duration, open_ended, source, strict=True
        ):
            rows.append(
                {
                    "entity_type": entity_type,
                    "entity_id": name,
                    "threat": threat,
                    "valid_from": int(first_day),
                    "valid_to": None if is_open else int(first_day + length),
                    "source": agency,
                    # fixed, not drawn: the seed's other tables stay byte for byte
                    "source_agency": agency,
                    "source_country": None,
                    "handling_code": "h0",
                    "handling_note": None,
                    "source_reliability": "b",
                    "information_accuracy": "2",
                }
            )
    frame = pd.DataFrame(rows, columns=list(WATCHLIST_COLUMNS))
    frame = frame.drop_duplicates(["entity_type", "entity_id", "threat"]).sort_values(
        ["valid_from", "entity_type", "entity_id"], kind="stable"
    )
    origin = pd.Timestamp(start, tz="UTC")
    frame["valid_from"] = origin + pd.to_timedelta(frame["valid_from"].astype("int64"), unit="D")
    frame["valid_to"] = origin + pd.to_timedelta(frame["valid_to"].astype("float64"), unit="D")
    for column in ("valid_from", "valid_to"):
        frame[column] = frame[column].astype("datetime64[us, UTC]")
    for column in ("source_agency", "source_country", "handling_note"):
        frame[column] = frame[column].astype("str")

    hit = np.zeros(traffic.n, dtype=bool)
    for entity_type, role in _ENTITY_ROLES.items():
        keys = parties.keys[role]
        known = np.maximum(keys, 0)
        inside = (traffic.day >= listed_from[entity_type][known]) & (
            traffic.day <= listed_to[entity_type][known]
        )
        hit |= (keys >= 0) & inside
    return Watchlist(frame.reset_index(drop=True), hit)


def _entries(
    rng: np.random.Generator, traffic: Traffic, parties: Parties, truth: Truth
) -> list[tuple[str, np.ndarray, str]]:
    """(entity type, registry keys, threat) groups to list: a share of the bad actors of each
    threat, and a few innocent vehicles, hauliers, exporters and importers."""

    def share(keys: np.ndarray, fraction: float) -> np.ndarray:
        return keys[rng.random(len(keys)) < fraction]

    def innocent(candidates: np.ndarray, count: int) -> np.ndarray:
        return rng.choice(candidates, min(len(candidates), count), replace=False)

    vehicle, carrier = parties.keys["vehicle"], parties.keys["carrier"]
    is_truck = traffic.segment == SEGMENT["truck"]
    trucks = np.unique(vehicle[is_truck & (vehicle >= 0)])
    cars = np.unique(vehicle[(traffic.segment == SEGMENT["car"]) & (vehicle >= 0)])
    importers = np.arange(parties.business_importers)
    all_exporters = np.arange(parties.registries["exporter"].size)
    hauliers = np.unique(carrier[is_truck & (carrier >= 0)])
    smuggler_vehicles = truth.bad_vehicles["migrants"]
    weapon_vehicles = truth.bad_vehicles["weapons"]
    # A small run may have no parcel from any country weapon parts are shipped from.
    sellers = np.concatenate([np.empty(0, dtype=np.int64), *truth.bad_sellers.values()])
    # share() and innocent() draw from the generator: the order of this list is part of
    # reproducibility.
    return [
        ("vehicle_id", share(smuggler_vehicles, 0.7), "migrants"),
        ("vehicle_id", innocent(trucks, max(3, len(smuggler_vehicles) // 2)), "migrants"),
        ("carrier_id", share(truth.smuggler_hauliers, 0.6), "migrants"),
        ("carrier_id", innocent(hauliers, 3), "migrants"),
        ("vehicle_id", share(weapon_vehicles, 0.5), "weapons"),
        ("vehicle_id", innocent(cars, max(3, len(weapon_vehicles) // 2)), "weapons"),
        ("exporter_id", share(sellers, 0.5), "weapons"),
        ("exporter_id", innocent(all_exporters, 3), "weapons"),
        ("importer_id", share(truth.bad_importers, 0.4), "revenue"),
        ("importer_id", innocent(importers, max(3, len(truth.bad_importers) // 4)), "revenue"),
    ]
