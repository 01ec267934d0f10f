"""Partner-agency watchlist hits: entities of a declaration flagged for a threat at lodging.

An entry counts only inside its validity window, ``valid_from <= lodged_at <= valid_to``,
with a missing ``valid_to`` meaning the entry is still open.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from features.columns import NAT_NS, DeclarationColumns, as_nanoseconds
from features.entities import normalise_ids
from features.schema import WATCHLIST_ENTITY_TYPES

WATCHLIST_STATE_COLUMNS: tuple[str, ...] = (
    "entity_type",
    "entity_id",
    "threat",
    "valid_from",
    "valid_to",
)


def watchlist_state(watchlist: pd.DataFrame, threats: Sequence[str]) -> pd.DataFrame:
    """The entries that can ever hit: known entity type and threat, ids normalised."""
    if watchlist is None or len(watchlist) == 0:
        return _empty_state()
    state = pd.DataFrame(
        {
            "entity_type": watchlist["entity_type"].astype("str"),
            "entity_id": normalise_ids(watchlist["entity_id"]),
            "threat": watchlist["threat"].astype("str").str.strip().str.casefold(),
            "valid_from": pd.DatetimeIndex(watchlist["valid_from"]).as_unit("ns"),
            "valid_to": pd.DatetimeIndex(watchlist["valid_to"]).as_unit("ns"),
        }
    )
    keep = (
        state["entity_type"].isin(WATCHLIST_ENTITY_TYPES)
        & state["threat"].isin([threat.casefold() for threat in threats])
        & state["entity_id"].notna()
    )
    state = state[keep]
    return state.sort_values(list(WATCHLIST_STATE_COLUMNS), ignore_index=True)


def watchlist_feature_names(threats: Sequence[str]) -> list[str]:
    """Output columns of :func:`watchlist_features`, in order."""
    per_entity = [
        f"watchlist_{entity_type.removesuffix('_id')}_{threat}"
        for entity_type in WATCHLIST_ENTITY_TYPES
        for threat in threats
    ]
    return [*per_entity, *[f"watchlist_hits_{threat}" for threat in threats]]


class WatchlistIndex:
    """The watchlist state arranged for lookups: per entity type, each listed id's entries
    (threat, valid from, valid to in nanoseconds) as one contiguous slice.

    Built once; a declaration then costs one dictionary read per entity type instead of a
    pass over the whole watchlist.
    """

    def __init__(self, state: pd.DataFrame) -> None:
        self.entries: dict[
            str, tuple[dict[str, tuple[int, int]], np.ndarray, np.ndarray, np.ndarray]
        ] = {}
        for entity_type in WATCHLIST_ENTITY_TYPES:
            entries = state[state["entity_type"] == entity_type]
            ids = entries["entity_id"].to_numpy(dtype=object)
            order = np.argsort(ids, kind="stable")
            ids = ids[order]
            slices: dict[str, tuple[int, int]] = {}
            for position, entity_id in enumerate(ids.tolist()):
                start, _ = slices.get(entity_id, (position, position))
                slices[entity_id] = (start, position + 1)
            self.entries[entity_type] = (
                slices,
                entries["threat"].to_numpy(dtype=object)[order],
                as_nanoseconds(entries["valid_from"])[order],
                as_nanoseconds(entries["valid_to"])[order],
            )

    def matches(self, entity_type: str, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, entry) pairs where a declaration's id is listed: rows into ``ids``, entries
        into this entity type's arrays."""
        slices = self.entries[entity_type][0]
        rows: list[int] = []
        entries: list[int] = []
        # ids are None when missing, and None is never a listed id
        for row, found in enumerate(map(slices.get, ids.tolist())):
            if found is not None:
                rows.extend([row] * (found[1] - found[0]))
                entries.extend(range(*found))
        return np.array(rows, dtype=np.int64), np.array(entries, dtype=np.int64)


def watchlist_features(
    columns: DeclarationColumns, index: WatchlistIndex, threats: Sequence[str]
) -> dict[str, np.ndarray]:
    """Valid entries per (entity type, threat) at ``lodged_at``, and their total per threat."""
    n = len(columns)
    features = {name: np.zeros(n) for name in watchlist_feature_names(threats)}
    lodged_ns = columns.nanoseconds("lodged_at")
    for entity_type in WATCHLIST_ENTITY_TYPES:
        _, entry_threats, valid_from, valid_to = index.entries[entity_type]
        if len(entry_threats) == 0:
            continue
        rows, entries = index.matches(entity_type, columns.ids(entity_type))
        if len(rows) == 0:  # the usual case: nobody listed, every count stays 0
            continue
        at = lodged_ns[rows]
        inside = (valid_from[entries] <= at) & (
            (valid_to[entries] == NAT_NS) | (at <= valid_to[entries])
        )
        rows, entries = rows[inside], entries[inside]
        for threat in threats:
            hit_rows = rows[entry_threats[entries] == threat.casefold()]
            counts = np.bincount(hit_rows, minlength=n).astype(np.float64)
            features[f"watchlist_{entity_type.removesuffix('_id')}_{threat}"] = counts
            features[f"watchlist_hits_{threat}"] = features[f"watchlist_hits_{threat}"] + counts
    return features


def _empty_state() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "entity_type": pd.Series([], dtype="str"),
            "entity_id": pd.Series([], dtype="str"),
            "threat": pd.Series([], dtype="str"),
            "valid_from": pd.Series([], dtype="datetime64[ns, UTC]"),
            "valid_to": pd.Series([], dtype="datetime64[ns, UTC]"),
        }
    )
