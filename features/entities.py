"""The entities whose history we track, and how each declaration names them.

Trader and vehicle ids are ids, but sources type them by hand: "ACME " and "acme" are one
importer. Every id is normalised the same way (trimmed, inner whitespace collapsed, case
folded; :func:`features.columns.normalised_id`) before it becomes a key, in training and
serving alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.columns import DeclarationColumns, normalised_ids, prefixes

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
    """Trim, collapse inner whitespace and case-fold ids; blank ids become missing (NaN)."""
    values = DeclarationColumns(pd.DataFrame({"ids": ids})).strings("ids")
    return pd.Series(normalised_ids(values), index=ids.index, dtype="str")


def entity_keys(columns: DeclarationColumns) -> dict[str, np.ndarray]:
    """The history key of every entity kind for each declaration (``None`` when a part is
    missing), as object arrays aligned with the declarations.

    Route is origin > dispatch > office; the commodity-origin pair is the HS heading (first
    four digits) with the origin country.
    """
    keys: dict[str, np.ndarray] = {}
    for kind in ENTITY_KINDS:
        if kind.name == "route":
            parts = [
                columns.strings("origin_country"),
                columns.strings("dispatch_country"),
                columns.ids("office_id"),
            ]
        elif kind.name == "hs4_origin":
            parts = [prefixes(columns.strings("hs_code"), 4), columns.strings("origin_country")]
        else:
            parts = [columns.ids(kind.fields[0])]
        keys[kind.name] = parts[0] if len(parts) == 1 else joined_keys(parts)
    return keys


def joined_keys(parts: list[np.ndarray]) -> np.ndarray:
    """Parts joined by :data:`KEY_SEPARATOR` row by row; ``None`` when any part is missing."""
    joined = [
        None if None in values else KEY_SEPARATOR.join(values)
        for values in zip(*(part.tolist() for part in parts), strict=True)
    ]
    return np.array(joined, dtype=object)
