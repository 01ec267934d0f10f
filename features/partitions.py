"""Point-in-time history split by time, so partitions of declarations can be featurised apart.

A declaration's entity history needs every earlier event of each of its entities (importer,
exporter, declarant, carrier, vehicle, route, ..., transit countries): several entities per
row, so no partition by entity hash keeps a row's history whole. Time does: the rows are cut
into consecutive lodging-time ranges, and partition k (rows lodged in [t_k, t_k+1)) is given

* every event before t_k, aggregated per entity key into one event (the state carried
  forward: counts summed, placed at the key's first declaration, or just before t_k when it
  has none), and
* every event inside [t_k, t_k+1) as it is (from any row: an outcome of an older
  declaration becomes known inside the range, and its own rows' declarations).

Events after the range cannot be seen by its rows. Counts are sums of whole numbers, so a
row gets exactly the features it gets when the whole table is featurised at once
(`FeatureBuilder.transform_point_in_time(..., events=...)`; tests/features/test_partitions.py).
The carried state of each range is the previous one plus that range's events: one
aggregation per range, never a rescan of all earlier rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.columns import NAT_NS, DeclarationColumns, as_nanoseconds
from features.entities import ENTITY_KINDS, TRANSIT_COUNTRY, entity_keys
from features.history import (
    EventLog,
    aggregate_events,
    concat_events,
    count_columns,
    declaration_events,
    merge_states,
    outcome_events,
)
from features.route import TransitCountries, transit_countries

HistoryEvents = dict[str, EventLog]
"""Events per entity kind name (and ``transit_country``), as the history counts read them."""


def point_in_time_events(
    keys: Mapping[str, np.ndarray],
    transit: TransitCountries,
    lodged_ns: np.ndarray,
    labels: pd.DataFrame,
    threats: Sequence[str],
) -> HistoryEvents:
    """Every history event of these declarations and their outcomes, per entity kind.

    ``labels`` is aligned with the declarations by position. Declarations count at their
    ``lodged_at``, outcomes at their ``known_at``; transit countries count outcomes only.
    """
    events = {
        kind.name: concat_events(
            declaration_events(keys[kind.name], lodged_ns, threats),
            outcome_events(keys[kind.name], labels, threats),
        )
        for kind in ENTITY_KINDS
    }
    events[TRANSIT_COUNTRY] = outcome_events(
        transit.countries, labels.iloc[transit.rows].reset_index(drop=True), threats
    )
    return events


@dataclass(frozen=True)
class TimePartitions:
    """Rows cut by lodging time, with the events each range's rows may see."""

    starts: np.ndarray  # int64 ns: where ranges 1.. start (range 0 starts at the beginning)
    rows: list[np.ndarray]  # positions of the rows lodged in each range, in input order
    events: list[HistoryEvents]  # the carried state plus the range's own events


def range_starts(lodged_ns: np.ndarray, count: int) -> np.ndarray:
    """Up to ``count - 1`` range starts at lodging-time quantiles: rows lodged at the same
    instant always share a range."""
    distinct = np.unique(lodged_ns)
    if count <= 1 or len(distinct) <= 1:
        return np.array([], dtype=np.int64)
    cuts = np.linspace(0, len(distinct), min(count, len(distinct)) + 1)[1:-1].astype(np.int64)
    return np.unique(distinct[cuts]).astype(np.int64)


def _state_events(state: pd.DataFrame, columns: Sequence[str], before_ns: int) -> EventLog:
    """An aggregated state as one event per key, all strictly before ``before_ns``."""
    first_ns = as_nanoseconds(state["first_seen"])
    declared = first_ns != NAT_NS
    return EventLog(
        keys=state["key"].to_numpy(dtype=object),
        times=np.where(declared, first_ns, before_ns - 1).astype(np.int64),
        values=state[list(columns)].to_numpy(dtype=np.float64),
        is_declaration=declared,
    )


def _select(log: EventLog, mask: np.ndarray) -> EventLog:
    return EventLog(log.keys[mask], log.times[mask], log.values[mask], log.is_declaration[mask])


def time_partitions(
    declarations: pd.DataFrame, labels: pd.DataFrame, threats: Sequence[str], count: int
) -> TimePartitions:
    """Cut ``declarations`` (with ``labels``, aligned by position) into about ``count``
    lodging-time ranges, each with the events its rows' point-in-time history reads."""
    columns = DeclarationColumns(declarations)
    lodged_ns = columns.nanoseconds("lodged_at")
    starts = range_starts(lodged_ns, count)
    names = count_columns(threats)
    events = point_in_time_events(
        entity_keys(columns),
        transit_countries(columns),
        lodged_ns,
        labels.reset_index(drop=True),
        threats,
    )
    ranges = len(starts) + 1
    row_range = np.searchsorted(starts, lodged_ns, side="right")
    event_range = {
        name: np.searchsorted(starts, log.times, side="right") for name, log in events.items()
    }
    carried: dict[str, pd.DataFrame | None] = dict.fromkeys(events)
    partitions: list[HistoryEvents] = []
    for index in range(ranges):
        seen: HistoryEvents = {}
        for name, log in events.items():
            own = _select(log, event_range[name] == index)
            state = carried[name]
            seen[name] = (
                own
                if state is None or state.empty
                else concat_events(_state_events(state, names, int(starts[index - 1])), own)
            )
            update = aggregate_events(own, names) if len(own.keys) else None
            if update is not None:
                carried[name] = update if state is None else merge_states(state, update, names)
        partitions.append(seen)
    rows = [np.flatnonzero(row_range == index) for index in range(ranges)]
    return TimePartitions(starts=starts, rows=rows, events=partitions)
