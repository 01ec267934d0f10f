"""Point-in-time entity history: what was known about an entity at a declaration's scoring moment.

Two kinds of events feed an entity's history: its declarations (at the moment each was first
recorded: in the store its first scoring, in a training file its ``lodged_at``) and the
outcomes of their inspections (at ``known_at``: when the store recorded the outcome, or the
file's ``inspected_at``). A declaration scored at ``t`` sees only events strictly before
``t``: declarations recorded at the same instant do not see each other, and an outcome known
at the very instant of scoring is not yet known. An entity's ``first_seen`` is the earliest
``lodged_at`` among its visible declarations.

Training computes this for every row at once with one sort per entity kind and cumulative
sums (no per-row loop). Serving reads the same counts from the store's per-entity table,
which holds exactly the events committed before the scoring moment
(:class:`HistoryTable`). Both pass the counts through :func:`entity_history_features`, so a
declaration gets identical features either way (features.live).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat

import numpy as np
import pandas as pd

from features.columns import NAT_NS, as_nanoseconds, missing
from features.schema import label_column

NANOSECONDS_PER_DAY = 86_400 * 10**9


def count_columns(threats: Sequence[str]) -> list[str]:
    """Event count columns of a history table, in order."""
    return [
        "declarations",
        "inspections",
        *[f"labelled_{threat}" for threat in threats],
        *[f"hits_{threat}" for threat in threats],
    ]


@dataclass(frozen=True)
class EventLog:
    """Events of one entity kind: key, time (ns), count increments, whether a declaration,
    and (declarations) the ``lodged_at`` that ``first_seen`` reads."""

    keys: np.ndarray  # object array of str keys (no missing keys)
    times: np.ndarray  # int64 ns
    values: np.ndarray  # float64, one column per count_columns()
    is_declaration: np.ndarray  # bool
    lodged: np.ndarray  # int64 ns: lodged_at of declaration events (NAT_NS for outcomes)


def declaration_events(
    keys: np.ndarray,
    lodged_ns: np.ndarray,
    threats: Sequence[str],
    recorded_ns: np.ndarray | None = None,
) -> EventLog:
    """One event per declaration with a key, at the moment it was recorded (``recorded_ns``,
    default its ``lodged_at``): one more declaration seen."""
    has_key = ~missing(keys)
    values = np.zeros((int(has_key.sum()), len(count_columns(threats))))
    values[:, 0] = 1.0
    times = lodged_ns if recorded_ns is None else recorded_ns
    return EventLog(
        keys=keys[has_key],
        times=times[has_key],
        values=values,
        is_declaration=np.ones(len(values), dtype=bool),
        lodged=lodged_ns[has_key],
    )


def outcome_events(keys: np.ndarray, labels: pd.DataFrame, threats: Sequence[str]) -> EventLog:
    """One event per inspected row with a key and a ``known_at``, at that time.

    ``keys`` is aligned with the rows of ``labels``. An event adds one inspection, one
    labelled outcome per threat whose label is known, and one hit per threat whose label is
    positive.
    """
    inspected = labels["inspected"].fillna(False).astype(bool).to_numpy()
    known_ns = as_nanoseconds(labels["known_at"])
    rows = ~missing(keys) & inspected & (known_ns != NAT_NS)
    label_values = np.column_stack(
        [labels[label_column(threat)].to_numpy(dtype=np.float64) for threat in threats]
    ).reshape(len(labels), len(threats))[rows]
    values = np.column_stack(
        [
            np.zeros(int(rows.sum())),
            np.ones(int(rows.sum())),
            (~np.isnan(label_values)).astype(np.float64),
            (label_values >= 0.5).astype(np.float64),
        ]
    )
    return EventLog(
        keys=keys[rows],
        times=known_ns[rows],
        values=values,
        is_declaration=np.zeros(len(values), dtype=bool),
        lodged=np.full(len(values), NAT_NS, dtype=np.int64),
    )


def concat_events(*logs: EventLog) -> EventLog:
    """All events of several logs in one."""
    return EventLog(
        keys=np.concatenate([log.keys for log in logs]),
        times=np.concatenate([log.times for log in logs]),
        values=np.concatenate([log.values for log in logs]),
        is_declaration=np.concatenate([log.is_declaration for log in logs]),
        lodged=np.concatenate([log.lodged for log in logs]),
    )


@dataclass(frozen=True)
class EntityCounts:
    """Per query row: what was known about its entity (the counts of :func:`count_columns`)
    and when the entity was first declared.

    Rows without a key have NaN counts: unknown, not zero.
    """

    columns: tuple[str, ...]
    values: np.ndarray  # float64, one row per query, one column per count column
    first_seen_ns: np.ndarray  # int64, NAT_NS when never declared before (or no key)

    def __getitem__(self, column: str) -> np.ndarray:
        return self.values[:, self.columns.index(column)]

    def __len__(self) -> int:
        return len(self.first_seen_ns)


def counts_before(
    query_keys: np.ndarray, query_times: np.ndarray, events: EventLog, columns: Sequence[str]
) -> EntityCounts:
    """Per query: sums of the events with the same key strictly before the query time.

    Queries and events are sorted together by (key, time, query-before-event), so a
    cumulative sum read at a query's position counts exactly the earlier events of its key.
    Also returns ``first_seen_ns``: the earliest ``lodged_at`` of the key's declaration events
    before the query (``NAT_NS`` when there is none). Queries without a key (``None``) get NaN counts.
    """
    n_query = len(query_keys)
    codes, _ = pd.factorize(np.concatenate([query_keys, events.keys]), use_na_sentinel=True)
    query_codes, event_codes = codes[:n_query], codes[n_query:]

    all_codes = np.concatenate([query_codes, event_codes])
    all_times = np.concatenate([query_times, events.times])
    is_event = np.concatenate(
        [np.zeros(n_query, dtype=bool), np.ones(len(event_codes), dtype=bool)]
    )
    order = np.lexsort((is_event, all_times, all_codes))

    sorted_codes = all_codes[order]
    values = np.zeros((len(order), len(columns)))
    values[n_query:] = events.values
    cumulative = np.cumsum(values[order], axis=0)

    positions = np.arange(len(order))
    new_group = np.ones(len(order), dtype=bool)
    new_group[1:] = sorted_codes[1:] != sorted_codes[:-1]
    group_start = np.maximum.accumulate(np.where(new_group, positions, 0))
    before_group = np.zeros_like(cumulative)
    before_group[1:] = cumulative[:-1]
    sums_sorted = cumulative - before_group[group_start]

    group_id = np.cumsum(new_group) - 1
    is_declaration = np.concatenate([np.zeros(n_query, dtype=bool), events.is_declaration])[order]
    lodged = np.concatenate([np.full(n_query, NAT_NS, dtype=np.int64), events.lodged])[order]
    # the earliest lodged_at up to each position of its group (events sorted by record time)
    first_running = np.where(is_declaration, lodged, np.iinfo(np.int64).max)
    first_running = pd.Series(first_running).groupby(group_id).cummin().to_numpy()
    inverse = np.empty(len(order), dtype=np.int64)
    inverse[order] = positions
    query_position = inverse[:n_query]
    sums = sums_sorted[query_position]
    first_seen = first_running[query_position]
    first_seen = np.where(
        (sums[:, 0] > 0) & (first_seen != np.iinfo(np.int64).max), first_seen, NAT_NS
    )

    missing = query_codes < 0
    sums[missing] = np.nan
    first_seen[missing] = NAT_NS
    return EntityCounts(tuple(columns), sums, first_seen)


class HistoryTable:
    """One entity kind's history rows indexed by key: a lookup is a dictionary read.

    Built from a state table (``key``, count columns, ``first_seen``): the rows the store
    returned for one scoring batch's keys.
    """

    def __init__(
        self,
        keys: Sequence[str],
        values: np.ndarray,
        first_seen_ns: np.ndarray,
        columns: Sequence[str],
    ) -> None:
        self.columns = tuple(columns)
        self.positions = {key: position for position, key in enumerate(keys)}
        self.values = values.reshape(len(keys), len(self.columns))
        self.first_seen_ns = first_seen_ns

    @classmethod
    def of(cls, state: pd.DataFrame, columns: Sequence[str]) -> HistoryTable:
        """The table of a state frame (``key``, the count columns, ``first_seen``)."""
        return cls(
            state["key"].tolist(),
            state[list(columns)].to_numpy(dtype=np.float64),
            as_nanoseconds(state["first_seen"]),
            columns,
        )

    @classmethod
    def empty(cls, columns: Sequence[str]) -> HistoryTable:
        """A table that knows no entity."""
        return cls([], np.zeros((0, len(columns))), np.zeros(0, dtype=np.int64), columns)

    def lookup(self, query_keys: np.ndarray) -> EntityCounts:
        """Counts of each query's key; unseen keys count zero, no key (``None``) is NaN."""
        positions = np.fromiter(
            map(self.positions.get, query_keys.tolist(), repeat(-1)),
            dtype=np.int64,
            count=len(query_keys),
        )
        found = positions >= 0
        sums = np.zeros((len(query_keys), len(self.columns)))
        sums[found] = self.values[positions[found]]
        first_seen = np.full(len(query_keys), NAT_NS, dtype=np.int64)
        first_seen[found] = self.first_seen_ns[positions[found]]
        sums[missing(query_keys)] = np.nan
        return EntityCounts(self.columns, sums, first_seen)


def smoothed_rate(
    hits: np.ndarray, labelled: np.ndarray, prior: float, strength: float
) -> np.ndarray:
    """Hit rate shrunk toward ``prior`` as if ``strength`` outcomes at the prior had been seen."""
    return (hits + strength * prior) / (labelled + strength)


def entity_history_features(
    counts: Mapping[str, EntityCounts],
    lodged_ns: np.ndarray,
    threats: Sequence[str],
    priors: dict[str, float],
    prior_strength: float,
) -> dict[str, np.ndarray]:
    """Feature columns of each entity kind (the keys of ``counts``, used as name prefixes)
    from its counts, identical for training and serving. All kinds are computed together:
    one array operation per quantity instead of one per kind."""
    prefixes = list(counts)
    columns = counts[prefixes[0]].columns
    values = np.stack([counts[prefix].values for prefix in prefixes])  # kind, row, count
    first_ns = np.stack([counts[prefix].first_seen_ns for prefix in prefixes])
    rates = {
        threat: smoothed_rate(
            values[:, :, columns.index(f"hits_{threat}")],
            values[:, :, columns.index(f"labelled_{threat}")],
            priors[threat],
            prior_strength,
        )
        for threat in threats
    }
    seen = first_ns != NAT_NS
    days = np.full(first_ns.shape, np.nan)
    days[seen] = (np.broadcast_to(lodged_ns, first_ns.shape)[seen] - first_ns[seen]) / (
        NANOSECONDS_PER_DAY
    )
    features: dict[str, np.ndarray] = {}
    for kind, prefix in enumerate(prefixes):
        features[f"{prefix}_declarations"] = values[kind, :, columns.index("declarations")]
        features[f"{prefix}_inspections"] = values[kind, :, columns.index("inspections")]
        for threat in threats:
            features[f"{prefix}_hits_{threat}"] = values[kind, :, columns.index(f"hits_{threat}")]
        for threat in threats:
            features[f"{prefix}_hit_rate_{threat}"] = rates[threat][kind]
        features[f"{prefix}_days_since_first_seen"] = days[kind]
    return features


def entity_feature_names(prefix: str, threats: Sequence[str]) -> list[str]:
    """Names produced by :func:`entity_history_features` for ``prefix``, in order."""
    return [
        f"{prefix}_declarations",
        f"{prefix}_inspections",
        *[f"{prefix}_hits_{threat}" for threat in threats],
        *[f"{prefix}_hit_rate_{threat}" for threat in threats],
        f"{prefix}_days_since_first_seen",
    ]
