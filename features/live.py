"""Live inputs: what the operational store knew about a batch of declarations when it was scored.

The bundle keeps only what training learned. Entity history (per importer, declarant,
exporter, carrier, vehicle, route, HS heading with origin, transit country: declarations,
inspections, labelled outcomes and hits per threat, first seen) and watchlist hits change
every day; the feature builder reads them as a :class:`LiveInputs` for each batch.

Two producers, one meaning ("as of the scoring moment", docs/internals.md):

* serving: :func:`live_from_state` from the rows the store returned for the batch's keys
  (``history_keys`` / ``features.watchlist.declaration_watchlist_keys`` name them);
* training: :func:`live_point_in_time` from declarations, labels and the watchlist, each row
  seeing only events recorded strictly before its own scoring moment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.columns import NAT_NS, DeclarationColumns, as_nanoseconds
from features.entities import ENTITY_KINDS, TRANSIT_COUNTRY, entity_keys
from features.history import (
    EntityCounts,
    EventLog,
    HistoryTable,
    concat_events,
    count_columns,
    counts_before,
    declaration_events,
    outcome_events,
)
from features.route import transit_countries
from features.watchlist import (
    WatchlistCandidates,
    WatchlistHits,
    watchlist_entries,
    watchlist_hits,
)

# Every history "entity kind" the store keeps: the ENTITY_KINDS plus transit countries.
HISTORY_KINDS: tuple[str, ...] = (*[kind.name for kind in ENTITY_KINDS], TRANSIT_COUNTRY)


@dataclass(frozen=True)
class LiveInputs:
    """Per declaration of a batch: entity history counts and watchlist hits at scoring time.

    ``counts`` holds one `EntityCounts` per entity kind, row for row with the batch;
    ``transit`` one row per (declaration, transit country) of
    ``features.route.transit_countries``, with ``transit_rows`` naming the declaration.
    """

    counts: dict[str, EntityCounts]
    transit: EntityCounts
    transit_rows: np.ndarray
    watchlist: WatchlistHits

    def take(self, positions: np.ndarray) -> LiveInputs:
        """The inputs of the declarations at ``positions``, in that order."""
        positions = np.asarray(positions, dtype=np.int64)
        counts = {
            name: EntityCounts(c.columns, c.values[positions], c.first_seen_ns[positions])
            for name, c in self.counts.items()
        }
        order: list[int] = []
        transit_rows: list[int] = []
        by_row: dict[int, list[int]] = {}
        for position, row in enumerate(self.transit_rows.tolist()):
            by_row.setdefault(row, []).append(position)
        for new, old in enumerate(positions.tolist()):
            found = by_row.get(old, [])
            order.extend(found)
            transit_rows.extend([new] * len(found))
        picked = np.array(order, dtype=np.int64)
        transit = EntityCounts(
            self.transit.columns, self.transit.values[picked], self.transit.first_seen_ns[picked]
        )
        return LiveInputs(
            counts, transit, np.array(transit_rows, dtype=np.int64), self.watchlist.take(positions)
        )

    @classmethod
    def concat(cls, parts: Sequence[LiveInputs]) -> LiveInputs:
        """The inputs of several batches, their rows one batch after the other (batches of
        one table cut apart, each built with the same threats and watchlist entries)."""
        if not parts:
            raise ValueError("no live inputs to concatenate")
        first = parts[0]
        offsets = np.cumsum([0, *(len(next(iter(p.counts.values()))) for p in parts)])[:-1]

        def joined(counts: Sequence[EntityCounts]) -> EntityCounts:
            return EntityCounts(
                counts[0].columns,
                np.concatenate([c.values for c in counts]),
                np.concatenate([c.first_seen_ns for c in counts]),
            )

        hits = [p.watchlist for p in parts]
        return cls(
            {name: joined([p.counts[name] for p in parts]) for name in first.counts},
            joined([p.transit for p in parts]),
            np.concatenate(
                [p.transit_rows + offset for p, offset in zip(parts, offsets, strict=True)]
            ).astype(np.int64),
            WatchlistHits(
                np.concatenate(
                    [h.rows + offset for h, offset in zip(hits, offsets, strict=True)]
                ).astype(np.int64),
                np.concatenate([h.entries for h in hits]).astype(np.int64),
                np.concatenate([h.entity_types for h in hits]).astype(object),
                np.concatenate([h.threats for h in hits]).astype(object),
            ),
        )


def history_keys(columns: DeclarationColumns) -> dict[str, list[str]]:
    """The distinct history keys of a batch per entity kind: what the store looks up."""
    keys = entity_keys(columns)
    found = {
        name: sorted({str(key) for key in keys[name].tolist() if key is not None}) for name in keys
    }
    transit = transit_countries(columns)
    found[TRANSIT_COUNTRY] = sorted({str(country) for country in transit.countries.tolist()})
    return found


def empty_history_state(threats: Sequence[str]) -> pd.DataFrame:
    """A history state with no entity: columns ``entity``, ``key``, counts, ``first_seen``."""
    return pd.DataFrame(
        {
            "entity": pd.Series([], dtype="str"),
            "key": pd.Series([], dtype="str"),
            **{column: pd.Series([], dtype=np.float64) for column in count_columns(threats)},
            "first_seen": pd.Series([], dtype="datetime64[ns, UTC]"),
        }
    )


def history_tables(history: pd.DataFrame | None, threats: Sequence[str]) -> dict[str, HistoryTable]:
    """Per history kind, the rows of a state frame (``entity``, ``key``, the count columns of
    ``threats``, ``first_seen``; missing counts are zero) as a lookup table."""
    names = count_columns(threats)
    if history is None or len(history) == 0:
        return {name: HistoryTable.empty(names) for name in HISTORY_KINDS}
    state = history.reindex(columns=["entity", "key", *names, "first_seen"])
    state[names] = state[names].astype(np.float64).fillna(0.0)
    kinds = state["entity"].to_numpy(dtype=object)
    return {name: HistoryTable.of(state[kinds == name], names) for name in HISTORY_KINDS}


def live_from_state(
    columns: DeclarationColumns,
    threats: Sequence[str],
    history: pd.DataFrame | Mapping[str, HistoryTable] | None,
    watchlist: pd.DataFrame | WatchlistCandidates | None,
    scored_ns: np.ndarray,
    watchlist_keys: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> LiveInputs:
    """Live inputs from store rows: ``history`` (a state frame for `history_tables`, or the
    tables themselves) and candidate watchlist entries
    (``features.watchlist.WATCHLIST_ENTRY_COLUMNS``, as a frame or its arrays). No rows means
    an empty store: every entity is new and nothing is listed. ``watchlist_keys``: the batch's
    ``declaration_watchlist_keys`` when the caller already computed them."""
    names = count_columns(threats)
    tables = (
        history_tables(history, threats)
        if history is None or isinstance(history, pd.DataFrame)
        else history
    )
    empty = HistoryTable.empty(names)
    keys = entity_keys(columns)
    counts = {
        kind.name: tables.get(kind.name, empty).lookup(keys[kind.name]) for kind in ENTITY_KINDS
    }
    transit = transit_countries(columns)
    transit_counts = tables.get(TRANSIT_COUNTRY, empty).lookup(transit.countries)
    hits = (
        WatchlistHits.none()
        if watchlist is None or len(watchlist) == 0
        else watchlist_hits(columns, watchlist, scored_ns, watchlist_keys)
    )
    return LiveInputs(counts, transit_counts, transit.rows, hits)


def no_live(columns: DeclarationColumns, threats: Sequence[str]) -> LiveInputs:
    """The inputs of an empty store (nothing known, nothing listed)."""
    scored = np.full(len(columns), NAT_NS, dtype=np.int64)
    return live_from_state(columns, threats, {}, None, scored)


HistoryEvents = dict[str, EventLog]
"""History events per entity kind name (and ``transit_country``), as `counts_before` reads them."""


def point_in_time_events(
    columns: DeclarationColumns,
    labels: pd.DataFrame,
    threats: Sequence[str],
    scored_ns: np.ndarray | None = None,
) -> HistoryEvents:
    """Every history event of these declarations and their outcomes, per history kind.

    ``labels`` is aligned with the declarations by position. A declaration counts at its
    scoring moment (``scored_ns``, default its ``lodged_at``: when it was recorded), an
    outcome at its ``known_at``; transit countries count outcomes only.
    """
    labels = labels.reset_index(drop=True)
    lodged_ns = columns.nanoseconds("lodged_at")
    moment = lodged_ns if scored_ns is None else np.asarray(scored_ns, dtype=np.int64)
    keys = entity_keys(columns)
    events = {
        kind.name: concat_events(
            declaration_events(keys[kind.name], lodged_ns, threats, moment),
            outcome_events(keys[kind.name], labels, threats),
        )
        for kind in ENTITY_KINDS
    }
    transit = transit_countries(columns)
    events[TRANSIT_COUNTRY] = outcome_events(
        transit.countries, labels.iloc[transit.rows].reset_index(drop=True), threats
    )
    return events


def live_point_in_time(
    columns: DeclarationColumns,
    labels: pd.DataFrame,
    threats: Sequence[str],
    watchlist: pd.DataFrame | None = None,
    scored_ns: np.ndarray | None = None,
    events: HistoryEvents | None = None,
) -> LiveInputs:
    """Training's live inputs: each row sees the events recorded strictly before its scoring
    moment.

    Args:
        columns: the declarations, every one of them an event of its entities' history.
        labels: aligned row for row (features.sources); ``known_at`` is when each outcome
            became known (a store export gives the moment the store recorded it).
        watchlist: canonical watchlist, with ``added_at``/``withdrawn_at`` when known.
        scored_ns: each declaration's scoring moment (int64 ns), which is also when it was
            recorded; default its ``lodged_at`` (training files: scored when lodged).
        events: the history these rows read, when it is not theirs alone: one scoring-time
            range of a larger table (`features.partitions.time_partitions`); default
            `point_in_time_events` of these rows.
    """
    lodged_ns = columns.nanoseconds("lodged_at")
    moment = lodged_ns if scored_ns is None else np.asarray(scored_ns, dtype=np.int64)
    if events is None:
        events = point_in_time_events(columns, labels, threats, moment)
    names = count_columns(threats)
    keys = entity_keys(columns)
    counts = {
        kind.name: counts_before(keys[kind.name], moment, events[kind.name], names)
        for kind in ENTITY_KINDS
    }
    transit = transit_countries(columns)
    transit_counts = counts_before(
        transit.countries, moment[transit.rows], events[TRANSIT_COUNTRY], names
    )
    hits = watchlist_hits(columns, watchlist_entries(watchlist), moment)
    return LiveInputs(counts, transit_counts, transit.rows, hits)


def scored_nanoseconds(scored_at: pd.Series | Sequence[object]) -> np.ndarray:
    """Scoring moments as int64 ns (missing ones stay ``NAT_NS``)."""
    series = scored_at if isinstance(scored_at, pd.Series) else pd.Series(list(scored_at))
    return as_nanoseconds(pd.Series(pd.to_datetime(series, utc=True)))


def as_served(
    declarations: pd.DataFrame, labels: pd.DataFrame, timeline: pd.DataFrame
) -> tuple[pd.DataFrame, pd.Series]:
    """Labels and scoring moments of a store export (`shiprisk export`'s ``timeline``), for
    `live_point_in_time`: each outcome known when the store recorded the declaration's first
    outcome, each declaration scored when the store first scored it.

    Declarations missing from the timeline keep ``known_at`` and are scored at lodging.
    """
    by_id = timeline.set_index(timeline["declaration_id"].astype("str"))
    ids = declarations["declaration_id"].astype("str").to_numpy()
    recorded = pd.to_datetime(by_id["outcome_recorded_at"], utc=True).reindex(ids)
    scored = pd.to_datetime(by_id["scored_at"], utc=True).reindex(ids)
    known = labels["known_at"].astype("datetime64[ns, UTC]").reset_index(drop=True)
    recorded_series = recorded.astype("datetime64[ns, UTC]").reset_index(drop=True)
    served = labels.copy()
    served["known_at"] = recorded_series.fillna(known).to_numpy()
    scored_at = pd.Series(
        scored.to_numpy(), index=declarations.index, dtype="datetime64[ns, UTC]"
    ).fillna(declarations["lodged_at"].astype("datetime64[ns, UTC]"))
    return served, scored_at
