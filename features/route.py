"""Route features: does the itinerary agree with the declared dispatch and destination?

Smuggling routes show as itineraries that start or end somewhere other than declared, long
transit chains, transit through countries where earlier inspections found more, and goods
whose origin differs from where they were dispatched (routing to claim a preference).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ITINERARY_SEPARATOR = ">"


def itinerary_features(declarations: pd.DataFrame) -> pd.DataFrame:
    """Consistency of the itinerary with dispatch and destination (1.0/0.0, NaN when unknown)."""
    itinerary = declarations["itinerary"].astype("str")
    # itineraries repeat: split each distinct one once
    positions, distinct = pd.factorize(itinerary)
    distinct_codes = pd.Series(distinct, dtype="str").str.split(ITINERARY_SEPARATOR)
    first = _take(distinct_codes.str[0], positions, itinerary.index)
    last = _take(distinct_codes.str[-1], positions, itinerary.index)
    length = _take(distinct_codes.map(len), positions, itinerary.index).to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    has_itinerary = itinerary.notna()
    dispatch = declarations["dispatch_country"].astype("str")
    destination = declarations["destination_country"].astype("str")
    origin = declarations["origin_country"].astype("str")
    return pd.DataFrame(
        {
            "itinerary_starts_elsewhere": _mismatch(
                first, dispatch, has_itinerary & dispatch.notna()
            ),
            "itinerary_ends_elsewhere": _mismatch(
                last, destination, has_itinerary & destination.notna()
            ),
            "transit_countries": np.maximum(length - 2.0, 0.0),
            "origin_differs_from_dispatch": _mismatch(
                origin, dispatch, origin.notna() & dispatch.notna()
            ),
        },
        index=declarations.index,
        dtype=np.float64,
    )


def transit_countries(declarations: pd.DataFrame) -> pd.Series:
    """Countries between the first and last of each itinerary, one row per (declaration, country).

    The index repeats the declaration's index label (which must be unique); declarations
    without transit have no row.
    """
    positions, distinct = pd.factorize(declarations["itinerary"].astype("str"))
    codes = pd.Series(distinct, dtype="str").str.split(ITINERARY_SEPARATOR)
    codes = codes[codes.map(len) > 2]
    exploded = codes.explode()
    place = exploded.groupby(level=0).cumcount().to_numpy()
    length = codes.map(len).reindex(exploded.index).to_numpy()
    middle = exploded[(place > 0) & (place < length - 1)]
    transit = pd.DataFrame({"distinct": middle.index.to_numpy(), "country": middle.to_numpy()})
    rows = pd.DataFrame({"row": np.arange(len(positions)), "distinct": positions})
    pairs = rows.merge(transit, on="distinct", how="inner", sort=False)
    return pd.Series(
        pairs["country"].to_numpy(),
        index=declarations.index[pairs["row"].to_numpy()],
        name="itinerary",
        dtype="str",
    )


def _take(distinct: pd.Series, positions: np.ndarray, index: pd.Index) -> pd.Series:
    """Values per row from values per distinct itinerary (position -1 = no itinerary)."""
    values = distinct.to_numpy(dtype=object)
    taken = np.array([None] * len(positions), dtype=object)
    taken[positions >= 0] = values[positions[positions >= 0]]
    return pd.Series(taken, index=index)


def _mismatch(left: pd.Series, right: pd.Series, known: pd.Series) -> np.ndarray:
    differs = (left != right).to_numpy(dtype=np.float64)
    return np.where(known.to_numpy(dtype=bool), differs, np.nan)
