"""Live lookups: what reading entity history and the watchlist from the store adds to a score.

A SQLite store (a temporary file, WAL, as the service opens it) holds 100,000 watchlist
entries and the history of 200,000 entities (each with three threats' counts); the bench
times `serving.store.intelligence.read_live` plus the live features it feeds
(`features.live.live_from_state`), against the same features from an empty store, for one
declaration and for batches of 1,000 and 10,000 (issue 13's bar: at most 1 ms added for one,
at most 0.1 ms per declaration for 10,000). python -m bench live
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import insert

from bench.machine import describe_machine
from features.columns import DeclarationColumns
from features.entities import ENTITY_KINDS
from features.live import no_live
from features.schema import DEFAULT_THREATS
from serving.store.database import Store
from serving.store.intelligence import read_live
from serving.store.tables import EntityHistory, EntityThreatHistory, WatchlistEntry
from tests.features.builder_frames import declarations_frame

ENTRIES = 100_000
ENTITIES = 200_000
REPEATS = 300


def _fill(store: Store, rng: np.random.Generator) -> None:
    now = datetime.now(UTC)
    types = ["importer_id", "exporter_id", "carrier_id", "vehicle_id", "declarant_id"]
    entries = [
        {
            "entity_type": types[i % len(types)],
            "entity_id": f"E{i}",
            "key": f"e{i}",
            "threat": DEFAULT_THREATS[i % 3],
            "valid_from": now - timedelta(days=400),
            "valid_to": None,
            "source": None,
            "source_agency": "AGENCY",
            "source_country": "RS",
            "handling_code": "h0",
            "handling_note": None,
            "source_reliability": "b",
            "information_accuracy": "2",
            "added_by": "bench",
            "added_at": now - timedelta(days=1),
            "withdrawn_at": None,
            "replaces": None,
        }
        for i in range(ENTRIES)
    ]
    kinds = [kind.name for kind in ENTITY_KINDS]
    history = [
        {
            "entity": kinds[i % len(kinds)],
            "key": f"k{i}",
            "declarations": int(rng.integers(1, 500)),
            "inspections": int(rng.integers(0, 20)),
            "first_seen": now - timedelta(days=int(rng.integers(1, 900))),
            "last_seen": now,
        }
        for i in range(ENTITIES)
    ]
    threats = [
        {
            "entity": row["entity"],
            "key": row["key"],
            "threat": threat,
            "labelled": row["inspections"],
            "hits": int(rng.integers(0, 3)),
        }
        for row in history
        for threat in DEFAULT_THREATS
    ]
    with store.transaction() as session:
        for table, rows in (
            (WatchlistEntry.__table__, entries),
            (EntityHistory.__table__, history),
            (EntityThreatHistory.__table__, threats),
        ):
            for start in range(0, len(rows), 20_000):
                session.execute(insert(table), rows[start : start + 20_000])  # type: ignore[arg-type]


def _queries(n: int) -> pd.DataFrame:
    """Declarations whose importer, carrier and vehicle are known and one in ten listed."""
    kinds = len(ENTITY_KINDS)
    return declarations_frame(
        [
            {
                "declaration_id": f"Q{i}",
                "lodged_at": "2026-11-30T10:00Z",
                "importer_id": f"k{(i * kinds) % ENTITIES}",  # importer is kind 0
                "carrier_id": f"e{(i * 5 + 2) % ENTRIES}" if i % 10 == 0 else f"c{i}",
            }
            for i in range(n)
        ]
    )


def _median_ms(work: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as directory:
        store = Store.open(f"sqlite:///{Path(directory) / 'bench.db'}")
        fill_start = time.perf_counter()
        _fill(store, rng)
        fill_s = time.perf_counter() - fill_start
        results = {}
        for rows, repeats in ((1, REPEATS), (1_000, 20), (10_000, 5)):
            columns = DeclarationColumns(_queries(rows))

            def live(columns: DeclarationColumns = columns) -> object:
                with store.sessions() as session:
                    return read_live(session, columns, DEFAULT_THREATS, datetime.now(UTC))

            def empty(columns: DeclarationColumns = columns) -> object:
                return no_live(columns, DEFAULT_THREATS)

            hits = len(live().live.watchlist.rows)  # type: ignore[attr-defined]
            results[rows] = (_median_ms(live, repeats), _median_ms(empty, repeats), hits)
        store.close()
    print(
        f"## Live lookups: {ENTRIES:,} watchlist entries, {ENTITIES:,} entities "
        f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)\n\n{describe_machine()}\n"
        f"store filled in {fill_s:.1f} s (SQLite file, WAL)\n\n"
        "| declarations per batch | live read + features | empty store | added | per declaration | watchlist hits |\n"
        "|---|---|---|---|---|---|"
    )
    for rows, (live_ms, empty_ms, hits) in results.items():
        print(
            f"| {rows:,} | {live_ms:.2f} ms | {empty_ms:.2f} ms | {live_ms - empty_ms:.2f} ms | "
            f"{(live_ms - empty_ms) / rows:.3f} ms | {hits} |"
        )


if __name__ == "__main__":
    main()
