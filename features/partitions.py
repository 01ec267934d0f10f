"""Point-in-time history split by time, so partitions of declarations can be featurised apart.

A declaration's live inputs need every earlier event of each of its entities (importer,
exporter, declarant, carrier, vehicle, route, ..., transit countries): several entities per
row, so no partition by entity hash keeps a row's history whole. Time does: the rows are cut
into consecutive ranges of their scoring moment (``scored_at``, by default ``lodged_at``),
and range k (rows scored in [t_k, t_k+1)) is given

* every event before t_k, collapsed per entity key into one event just before t_k (the state
  carried forward: counts summed, the earliest ``lodged_at`` of its declarations kept for
  ``first_seen``), and
* every event inside [t_k, t_k+1) as it is (from any row: an outcome of an older
  declaration becomes known inside the range, and its own rows' declarations).

Events after the range cannot be seen by its rows, and watchlist hits depend on the row and
the watchlist alone. Counts are sums of whole numbers, so a row gets exactly the features it
gets when the whole table is featurised at once
(`FeatureBuilder.transform_point_in_time(..., events=...)`; tests/features/test_partitions.py).
The carried state of each range is the previous one plus that range's events: one
aggregation per range, never a rescan of all earlier rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.columns import NAT_NS, DeclarationColumns
from features.history import EventLog, concat_events
from features.live import HistoryEvents, point_in_time_events

_NEVER = np.iinfo(np.int64).max


@dataclass(frozen=True)
class TimePartitions:
    """Rows cut by scoring moment, with the events each range's rows may see."""

    starts: np.ndarray  # int64 ns: where ranges 1.. start (range 0 starts at the beginning)
    rows: list[np.ndarray]  # positions of the rows scored in each range, in input order
    events: list[HistoryEvents]  # the carried state plus the range's own events


def range_starts(moments_ns: np.ndarray, count: int) -> np.ndarray:
    """Up to ``count - 1`` range starts at scoring-moment quantiles: rows scored at the same
    instant always share a range."""
    distinct = np.unique(moments_ns)
    if count <= 1 or len(distinct) <= 1:
        return np.array([], dtype=np.int64)
    cuts = np.linspace(0, len(distinct), min(count, len(distinct)) + 1)[1:-1].astype(np.int64)
    return np.unique(distinct[cuts]).astype(np.int64)


def collapsed(log: EventLog, before_ns: int) -> EventLog:
    """The events of ``log`` as one event per key at ``before_ns - 1``: counts summed, a
    declaration event when any was, ``lodged`` the earliest of its declarations."""
    if not len(log.keys):
        return log
    codes, keys = pd.factorize(log.keys, sort=True)
    values = pd.DataFrame(log.values).groupby(codes).sum().to_numpy(dtype=np.float64)
    lodged = (
        pd.Series(np.where(log.is_declaration, log.lodged, _NEVER)).groupby(codes).min().to_numpy()
    )
    declared = lodged != _NEVER
    return EventLog(
        keys=np.asarray(keys, dtype=object),
        times=np.full(len(keys), before_ns - 1, dtype=np.int64),
        values=values,
        is_declaration=declared,
        lodged=np.where(declared, lodged, NAT_NS).astype(np.int64),
    )


def _select(log: EventLog, mask: np.ndarray) -> EventLog:
    return EventLog(
        log.keys[mask],
        log.times[mask],
        log.values[mask],
        log.is_declaration[mask],
        log.lodged[mask],
    )


def time_partitions(
    declarations: pd.DataFrame,
    labels: pd.DataFrame,
    threats: Sequence[str],
    count: int,
    scored_ns: np.ndarray | None = None,
) -> TimePartitions:
    """Cut ``declarations`` (with ``labels``, aligned by position) into about ``count``
    ranges of their scoring moment (``scored_ns``, default ``lodged_at``), each with the
    events its rows' point-in-time history reads."""
    columns = DeclarationColumns(declarations)
    moments = (
        columns.nanoseconds("lodged_at")
        if scored_ns is None
        else np.asarray(scored_ns, dtype=np.int64)
    )
    starts = range_starts(moments, count)
    events = point_in_time_events(columns, labels, threats, moments)
    ranges = len(starts) + 1
    row_range = np.searchsorted(starts, moments, side="right")
    event_range = {
        name: np.searchsorted(starts, log.times, side="right") for name, log in events.items()
    }
    carried: dict[str, EventLog | None] = dict.fromkeys(events)
    partitions: list[HistoryEvents] = []
    for index in range(ranges):
        seen: HistoryEvents = {}
        for name, log in events.items():
            own = _select(log, event_range[name] == index)
            state = carried[name]
            seen[name] = own if state is None else concat_events(state, own)
            if index + 1 < ranges:
                carried[name] = collapsed(seen[name], int(starts[index]))
        partitions.append(seen)
    rows = [np.flatnonzero(row_range == index) for index in range(ranges)]
    return TimePartitions(starts=starts, rows=rows, events=partitions)
