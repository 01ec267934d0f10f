"""Partner-agency watchlist hits: entries that match a declaration at its scoring moment.

The watchlist is live: it lives in the operational store and is read at scoring time, and
training rebuilds the same hits point in time. One function decides a hit for both
(:func:`watchlist_hits`), given candidate entries and each declaration's scoring moment.

An entry hits a declaration when all of these hold:

* its key matches (:func:`watchlist_key` / :func:`declaration_watchlist_keys`): an id entry
  the normalised id of that field; an ``itinerary`` entry ("GR>MK") a run of consecutive
  countries of the declaration's itinerary; an ``hs_code`` entry (2-10 digits) a prefix of
  the declaration's HS code;
* it is valid at lodging: ``valid_from <= lodged_at <= valid_to`` (no ``valid_to``: open);
* it was known at the scoring moment ``t``: ``added_at < t`` and not withdrawn before,
  ``withdrawn_at`` missing or ``>= t`` (missing ``added_at``, as in a watchlist file, means
  known all along).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.columns import NAT_NS, DeclarationColumns, as_nanoseconds, normalised_id
from features.schema import WATCHLIST_ENTITY_TYPES

# Longest itinerary run an entry may name (also bounds the keys looked up per declaration).
MAX_ROUTE_COUNTRIES = 8
ROUTE_SEPARATOR = ">"

# Columns of the candidate entries `watchlist_hits` reads (the store's rows, or a file's).
WATCHLIST_ENTRY_COLUMNS: tuple[str, ...] = (
    "entity_type",
    "key",
    "threat",
    "valid_from",
    "valid_to",
    "added_at",
    "withdrawn_at",
)


def watchlist_key(entity_type: str, value: str | None) -> str | None:
    """The lookup key of an entry's value: ids normalised, itineraries as upper-case codes
    joined by ``>``, HS codes as their digits; None when nothing is left."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value)
    if entity_type == "itinerary":
        countries = [part.strip().upper() for part in text.replace(",", ">").split(">")]
        countries = [country for country in countries if country]
        return ROUTE_SEPARATOR.join(countries) or None
    if entity_type == "hs_code":
        digits = "".join(character for character in text if character.isdigit())
        return digits or None
    return normalised_id(text)


def watchlist_keys(entity_types: pd.Series, values: pd.Series) -> pd.Series:
    """:func:`watchlist_key` of every entry (entity type and value aligned)."""
    return pd.Series(
        [
            watchlist_key(str(entity_type), value)
            for entity_type, value in zip(entity_types.tolist(), values.tolist(), strict=True)
        ],
        index=values.index,
        dtype="object",
    )


def _route_runs(itinerary: str) -> list[str]:
    """Every run of up to ``MAX_ROUTE_COUNTRIES`` consecutive countries of an itinerary."""
    countries = itinerary.split(ROUTE_SEPARATOR)
    return [
        ROUTE_SEPARATOR.join(countries[start:end])
        for start in range(len(countries))
        for end in range(start + 1, min(len(countries), start + MAX_ROUTE_COUNTRIES) + 1)
    ]


def _hs_prefixes(code: str) -> list[str]:
    """Every prefix of two digits or more of an HS code."""
    return [code[:length] for length in range(2, len(code) + 1)]


def declaration_watchlist_keys(
    columns: DeclarationColumns,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per entity type, the (row, key) pairs of the batch that an entry may match.

    An id field gives one key per row; an itinerary every run of up to
    ``MAX_ROUTE_COUNTRIES`` consecutive countries; an HS code each of its prefixes of two
    digits or more. The store looks up exactly these keys, in one query per batch.
    """
    keys: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for entity_type in WATCHLIST_ENTITY_TYPES:
        rows: list[int] = []
        found: list[str] = []
        if entity_type in ("itinerary", "hs_code"):
            # a batch repeats few routes and codes: each value's keys are built once
            of_value = _route_runs if entity_type == "itinerary" else _hs_prefixes
            known: dict[str, list[str]] = {}
            for row, value in enumerate(columns.strings(entity_type).tolist()):
                if value is None:
                    continue
                value_keys = known.get(value)
                if value_keys is None:
                    value_keys = known[value] = of_value(str(value))
                rows.extend([row] * len(value_keys))
                found.extend(value_keys)
        else:
            for row, identifier in enumerate(columns.ids(entity_type).tolist()):
                if identifier is not None:
                    rows.append(row)
                    found.append(identifier)
        keys[entity_type] = (np.array(rows, dtype=np.int64), np.array(found, dtype=object))
    return keys


def watchlist_feature_name(entity_type: str, threat: str) -> str:
    """The feature counting one entity type's hits for one threat."""
    return f"watchlist_{entity_type.removesuffix('_id')}_{threat}"


def watchlist_feature_names(threats: Sequence[str]) -> list[str]:
    """Output columns of :func:`watchlist_features`, in order."""
    per_entity = [
        watchlist_feature_name(entity_type, threat)
        for entity_type in WATCHLIST_ENTITY_TYPES
        for threat in threats
    ]
    return [*per_entity, *[f"watchlist_hits_{threat}" for threat in threats]]


@dataclass(frozen=True)
class WatchlistHits:
    """Which entry hit which declaration: ``rows`` into the batch, ``entries`` into the
    candidate entries' table, with the entry's entity type and threat."""

    rows: np.ndarray  # int64
    entries: np.ndarray  # int64, positions in the entries table given to watchlist_hits
    entity_types: np.ndarray  # object
    threats: np.ndarray  # object

    @classmethod
    def none(cls) -> WatchlistHits:
        empty = np.array([], dtype=np.int64)
        return cls(empty, empty, np.array([], dtype=object), np.array([], dtype=object))

    def take(self, positions: np.ndarray) -> WatchlistHits:
        """The hits of the rows at ``positions``, renumbered in that order."""
        new_row = {int(old): new for new, old in enumerate(positions.tolist())}
        keep = np.array([row in new_row for row in self.rows.tolist()], dtype=bool)
        rows = np.array([new_row[row] for row in self.rows[keep].tolist()], dtype=np.int64)
        return WatchlistHits(rows, self.entries[keep], self.entity_types[keep], self.threats[keep])


@dataclass(frozen=True)
class WatchlistCandidates:
    """Candidate entries as aligned arrays: what :func:`watchlist_hits` decides on. Times are
    int64 ns, ``NAT_NS`` when missing; threats case-folded. Serving builds them straight from
    the store's rows (no frame on the scoring path), training from a frame (:meth:`of`)."""

    entity_types: np.ndarray  # object
    keys: np.ndarray  # object
    threats: np.ndarray  # object
    valid_from_ns: np.ndarray
    valid_to_ns: np.ndarray
    added_ns: np.ndarray
    withdrawn_ns: np.ndarray

    def __len__(self) -> int:
        return len(self.keys)

    @classmethod
    def of(cls, entries: pd.DataFrame) -> WatchlistCandidates:
        """The arrays of a frame of ``WATCHLIST_ENTRY_COLUMNS`` (``added_at`` and
        ``withdrawn_at`` may be absent: known all along, never withdrawn)."""
        missing = np.full(len(entries), NAT_NS, dtype=np.int64)
        return cls(
            entries["entity_type"].astype("str").to_numpy(dtype=object),
            entries["key"].to_numpy(dtype=object),
            entries["threat"].astype("str").str.casefold().to_numpy(dtype=object),
            as_nanoseconds(entries["valid_from"]),
            as_nanoseconds(entries["valid_to"]),
            as_nanoseconds(entries["added_at"]) if "added_at" in entries else missing,
            as_nanoseconds(entries["withdrawn_at"]) if "withdrawn_at" in entries else missing,
        )


def watchlist_hits(
    columns: DeclarationColumns,
    entries: pd.DataFrame | WatchlistCandidates,
    scored_ns: np.ndarray,
    keys: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> WatchlistHits:
    """The hits of ``entries`` (a frame of ``WATCHLIST_ENTRY_COLUMNS`` or its arrays) on the
    declarations, each row scored at ``scored_ns`` (int64 ns), by the rule of this module's
    docstring. ``keys``: the batch's :func:`declaration_watchlist_keys`, when already known."""
    if len(entries) == 0 or len(columns) == 0:
        return WatchlistHits.none()
    candidates = (
        entries if isinstance(entries, WatchlistCandidates) else WatchlistCandidates.of(entries)
    )
    lodged_ns = columns.nanoseconds("lodged_at")
    entry_types = candidates.entity_types
    by_key: dict[tuple[str, str], list[int]] = {}
    for position, key in enumerate(
        zip(entry_types.tolist(), candidates.keys.tolist(), strict=True)
    ):
        by_key.setdefault(key, []).append(position)
    rows: list[int] = []
    found: list[int] = []
    if keys is None:
        keys = declaration_watchlist_keys(columns)
    for entity_type, (key_rows, row_keys) in keys.items():
        for row, key in zip(key_rows.tolist(), row_keys.tolist(), strict=True):
            for position in by_key.get((entity_type, key), ()):
                rows.append(row)
                found.append(position)
    if not rows:
        return WatchlistHits.none()
    row_array = np.array(rows, dtype=np.int64)
    entry_array = np.array(found, dtype=np.int64)
    at, moment = lodged_ns[row_array], scored_ns[row_array]
    to = candidates.valid_to_ns[entry_array]
    known = candidates.added_ns[entry_array]
    gone = candidates.withdrawn_ns[entry_array]
    keep = (
        (candidates.valid_from_ns[entry_array] <= at)
        & ((to == NAT_NS) | (at <= to))
        & ((known == NAT_NS) | (known < moment))
        & ((gone == NAT_NS) | (gone >= moment))
    )
    row_array, entry_array = row_array[keep], entry_array[keep]
    return WatchlistHits(
        row_array, entry_array, entry_types[entry_array], candidates.threats[entry_array]
    )


def watchlist_features(
    rows: int, hits: WatchlistHits, threats: Sequence[str]
) -> dict[str, np.ndarray]:
    """Hits per (entity type, threat) and their total per threat, for ``rows`` declarations."""
    features = {name: np.zeros(rows) for name in watchlist_feature_names(threats)}
    if len(hits.rows) == 0:  # the usual case: nobody listed, every count stays 0
        return features
    for entity_type in WATCHLIST_ENTITY_TYPES:
        for threat in threats:
            chosen = (hits.entity_types == entity_type) & (hits.threats == threat.casefold())
            if not chosen.any():
                continue
            counts = np.bincount(hits.rows[chosen], minlength=rows).astype(np.float64)
            features[watchlist_feature_name(entity_type, threat)] = counts
            features[f"watchlist_hits_{threat}"] = features[f"watchlist_hits_{threat}"] + counts
    return features


def watchlist_entries(watchlist: pd.DataFrame | None) -> pd.DataFrame:
    """A canonical watchlist (features.validation) as the entries `watchlist_hits` reads:
    keys computed, ``added_at`` / ``withdrawn_at`` kept when the table has them (a store
    export does; a partner's file does not, and its entries count as known all along)."""
    if watchlist is None or len(watchlist) == 0:
        return pd.DataFrame(
            {name: pd.Series([], dtype="object") for name in WATCHLIST_ENTRY_COLUMNS}
        )
    nat = pd.Series(pd.NaT, index=watchlist.index, dtype="datetime64[ns, UTC]")
    return pd.DataFrame(
        {
            "entity_type": watchlist["entity_type"].astype("str"),
            "key": watchlist_keys(watchlist["entity_type"].astype("str"), watchlist["entity_id"]),
            "threat": watchlist["threat"].astype("str").str.strip().str.casefold(),
            "valid_from": watchlist["valid_from"],
            "valid_to": watchlist["valid_to"],
            "added_at": watchlist.get("added_at", nat),
            "withdrawn_at": watchlist.get("withdrawn_at", nat),
        }
    ).reset_index(drop=True)
