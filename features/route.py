"""Route features: does the itinerary agree with the declared dispatch and destination?

Smuggling routes show as itineraries that start or end somewhere other than declared, long
transit chains, transit through countries where earlier inspections found more, and goods
whose origin differs from where they were dispatched (routing to claim a preference).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.columns import DeclarationColumns, missing, per_distinct

ITINERARY_SEPARATOR = ">"


def itinerary_countries(columns: DeclarationColumns) -> list[list[str] | None]:
    """Each declaration's itinerary split into its countries (``None`` without itinerary);
    itineraries repeat, so each distinct one is split once, and once per transform."""
    split = columns.derived(
        "itinerary_countries",
        lambda: per_distinct(
            columns.strings("itinerary"), lambda itinerary: itinerary.split(ITINERARY_SEPARATOR)
        ),
    )
    return split.tolist()


def itinerary_features(columns: DeclarationColumns) -> dict[str, np.ndarray]:
    """Consistency of the itinerary with dispatch and destination (1.0/0.0, NaN when unknown)."""
    countries = itinerary_countries(columns)
    first = np.array([None if c is None else c[0] for c in countries], dtype=object)
    last = np.array([None if c is None else c[-1] for c in countries], dtype=object)
    length = np.array([np.nan if c is None else len(c) for c in countries], dtype=np.float64)
    has_itinerary = ~np.isnan(length)
    dispatch = columns.strings("dispatch_country")
    destination = columns.strings("destination_country")
    origin = columns.strings("origin_country")
    return {
        "itinerary_starts_elsewhere": _mismatch(first, dispatch, has_itinerary),
        "itinerary_ends_elsewhere": _mismatch(last, destination, has_itinerary),
        "transit_countries": np.maximum(length - 2.0, 0.0),
        "origin_differs_from_dispatch": _mismatch(origin, dispatch, ~missing(origin)),
    }


@dataclass(frozen=True)
class TransitCountries:
    """Countries between the first and last of each itinerary: one entry per (declaration,
    country), in declaration order then itinerary order."""

    rows: np.ndarray  # int64 position of the declaration
    countries: np.ndarray  # object array of country codes


def transit_countries(columns: DeclarationColumns) -> TransitCountries:
    """The transit countries of every declaration; declarations without transit have none."""
    rows: list[int] = []
    countries: list[str] = []
    for row, itinerary in enumerate(itinerary_countries(columns)):
        if itinerary is not None and len(itinerary) > 2:
            middle = itinerary[1:-1]
            rows.extend([row] * len(middle))
            countries.extend(middle)
    return TransitCountries(np.array(rows, dtype=np.int64), np.array(countries, dtype=object))


def _mismatch(left: np.ndarray, right: np.ndarray, known: np.ndarray) -> np.ndarray:
    """1.0 where the values differ, 0.0 where equal, NaN where unknown or ``right`` missing."""
    differs = np.not_equal(left, right).astype(np.float64)
    return np.where(known & ~missing(right), differs, np.nan)
