"""The entities whose history we track, and how each declaration names them.

Trader and vehicle ids are ids, but sources type them by hand: "ACME " and "acme" are one
importer. Every id is normalised the same way (trimmed, inner whitespace collapsed, case
folded) before it becomes a key, in training and serving alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# Joins the parts of a composite key (route, HS heading with origin), as in itineraries.
KEY_SEPARATOR = ">"


@dataclass(frozen=True)
class EntityKind:
    """One kind of entity: its feature prefix and the canonical fields its key is made of."""

    name: str
    fields: tuple[str, ...]


# Order matters only for feature order in the output matrix.
ENTITY_KINDS: tuple[EntityKind, ...] = (
    EntityKind("importer", ("importer_id",)),
    EntityKind("declarant", ("declarant_id",)),
    EntityKind("exporter", ("exporter_id",)),
    EntityKind("carrier", ("carrier_id",)),
    EntityKind("vehicle", ("vehicle_id",)),
    EntityKind("route", ("origin_country", "dispatch_country", "office_id")),
    EntityKind("hs4_origin", ("hs_code", "origin_country")),
)

# Pseudo-entity of the route features: each country an itinerary passes through.
TRANSIT_COUNTRY = "transit_country"


def normalise_ids(ids: pd.Series) -> pd.Series:
    """Trim, collapse inner whitespace and case-fold ids; blank ids become missing (NaN).

    Ids repeat across declarations, so the work is done once per distinct id.
    """
    codes, distinct = pd.factorize(ids.astype("str"))
    text = pd.Series(distinct, dtype="str")
    text = text.str.strip().str.replace(r"\s+", " ", regex=True).str.casefold()
    text = text.where(text.str.len() > 0)
    values = np.full(len(codes), None, dtype=object)
    values[codes >= 0] = text.to_numpy(dtype=object)[codes[codes >= 0]]
    return pd.Series(values, index=ids.index, dtype="str")


def entity_keys(declarations: pd.DataFrame) -> pd.DataFrame:
    """The history key of every entity kind for each declaration (NaN when a part is missing).

    Route is origin > dispatch > office; the commodity-origin pair is the HS heading (first
    four digits) with the origin country.
    """
    keys: dict[str, pd.Series] = {}
    for kind in ENTITY_KINDS:
        if kind.name == "route":
            parts = [
                declarations["origin_country"].astype("str"),
                declarations["dispatch_country"].astype("str"),
                normalise_ids(declarations["office_id"]),
            ]
        elif kind.name == "hs4_origin":
            parts = [
                declarations["hs_code"].astype("str").str.slice(0, 4),
                declarations["origin_country"].astype("str"),
            ]
        else:
            parts = [normalise_ids(declarations[kind.fields[0]])]
        key = parts[0]
        for part in parts[1:]:
            key = key + KEY_SEPARATOR + part  # NaN in any part propagates
        keys[kind.name] = key
    return pd.DataFrame(keys, index=declarations.index)
