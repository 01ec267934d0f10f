"""Partner-agency watchlist hits: entities of a declaration flagged for a threat at lodging.

An entry counts only inside its validity window, ``valid_from <= lodged_at <= valid_to``,
with a missing ``valid_to`` meaning the entry is still open.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from features.entities import normalise_ids
from features.history import NAT_NS, as_nanoseconds
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


def watchlist_features(
    declarations: pd.DataFrame, state: pd.DataFrame, threats: Sequence[str]
) -> pd.DataFrame:
    """Valid entries per (entity type, threat) at ``lodged_at``, and their total per threat."""
    n = len(declarations)
    features = {name: np.zeros(n) for name in watchlist_feature_names(threats)}
    lodged_ns = as_nanoseconds(declarations["lodged_at"])
    positions = np.arange(n)
    for entity_type in WATCHLIST_ENTITY_TYPES:
        entries = state[state["entity_type"] == entity_type]
        if entries.empty:
            continue
        ids = pd.DataFrame(
            {"entity_id": normalise_ids(declarations[entity_type]), "row": positions}
        )
        matched = ids.dropna(subset=["entity_id"]).merge(
            entries[["entity_id", "threat", "valid_from", "valid_to"]], on="entity_id"
        )
        at = lodged_ns[matched["row"].to_numpy()]
        valid_from = as_nanoseconds(matched["valid_from"])
        valid_to = as_nanoseconds(matched["valid_to"])
        inside = (valid_from <= at) & ((valid_to == NAT_NS) | (at <= valid_to))
        matched = matched[inside]
        for threat in threats:
            rows = matched.loc[matched["threat"] == threat.casefold(), "row"].to_numpy()
            counts = np.bincount(rows, minlength=n).astype(np.float64)
            features[f"watchlist_{entity_type.removesuffix('_id')}_{threat}"] = counts
            features[f"watchlist_hits_{threat}"] = features[f"watchlist_hits_{threat}"] + counts
    return pd.DataFrame(features, index=declarations.index, dtype=np.float64)


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
