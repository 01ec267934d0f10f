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
    codes = itinerary.str.split(ITINERARY_SEPARATOR)
    first = codes.str[0]
    last = codes.str[-1]
    length = codes.str.len().to_numpy(dtype=np.float64, na_value=np.nan)
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
    codes = declarations["itinerary"].astype("str").str.split(ITINERARY_SEPARATOR)
    codes = codes[codes.str.len() > 2]
    exploded = codes.explode()
    position = exploded.groupby(level=0).cumcount().to_numpy()
    length = codes.str.len().reindex(exploded.index).to_numpy()
    return exploded[(position > 0) & (position < length - 1)].astype("str")


def _mismatch(left: pd.Series, right: pd.Series, known: pd.Series) -> np.ndarray:
    differs = (left != right).to_numpy(dtype=np.float64)
    return np.where(known.to_numpy(dtype=bool), differs, np.nan)
