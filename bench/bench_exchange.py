"""Exchange inbox: one partner message of 10,000 entities, checked and stored (issue 15's bar:
under 10 s on this machine), then listed with what it changed.

Each run makes a fresh SQLite store (a temporary file, WAL, as the service opens it) and times
`serving.exchange.service.receive` (signature, schema of every entity, the watchlist's rules
for the 10,000 entries they make) and `store_received` with its commit (the message, its
entities and their watchlist entries), then `serving.exchange.listing.list_messages` for the
page that shows it (its entries, and the scores they reached: none here). Wall and CPU time,
median of the runs. python -m bench exchange
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.machine import describe_machine
from serving.exchange.listing import list_messages
from serving.exchange.service import receive, store_received
from serving.exchange.signing import sign
from serving.store.database import Store
from tests.serving.exchange.partners import NOW, agency, alert, knowing

ENTITIES = 10_000
RUNS = 3
BAR_SECONDS = 10.0


def _token() -> tuple[str, Any]:
    sender, us = agency("RS-CUSTOMS", "RS"), agency("BA-ITA", "BA")
    entities: list[dict[str, Any]] = [
        {"local_id": f"v{i}", "type": "vehicle", "identifier": f"PL{i:06d}"}
        for i in range(ENTITIES)
    ]
    message = alert(sender, us.organisation, entities=entities)
    return sign(message, sender.signing_key, sender.organisation), knowing(us, sender)


def _run(token: str, config: Any) -> dict[str, tuple[float, float]]:
    """(wall, CPU) seconds of each phase, on a fresh store."""
    timings: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as directory:
        store = Store.open(f"sqlite:///{Path(directory) / 'bench.db'}")
        wall, cpu = time.perf_counter(), time.process_time()
        received = receive(token, config, recorded_by="bench", now=NOW)
        timings["check"] = (time.perf_counter() - wall, time.process_time() - cpu)
        wall, cpu = time.perf_counter(), time.process_time()
        with store.transaction() as session:
            receipt = store_received(session, received)
        timings["store and commit"] = (time.perf_counter() - wall, time.process_time() - cpu)
        assert receipt.watchlist_entries == ENTITIES
        wall, cpu = time.perf_counter(), time.process_time()
        with store.sessions() as session:
            page = list_messages(session, now=datetime.now(UTC))
        timings["list it"] = (time.perf_counter() - wall, time.process_time() - cpu)
        assert len(page.messages[0].watchlist_entries) == ENTITIES
        store.close()
    return timings


def main() -> None:
    token, config = _token()
    runs = [_run(token, config) for _ in range(RUNS)]
    print(
        f"## Exchange inbox: one message of {ENTITIES:,} entities "
        f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)\n\n{describe_machine()}\n"
        f"signed message {len(token) / 2**20:.1f} MiB; median of {RUNS} runs, each on a fresh "
        "SQLite file (WAL)\n\n| phase | wall | CPU |\n|---|---|---|"
    )
    for phase in runs[0]:
        wall = statistics.median(run[phase][0] for run in runs)
        cpu = statistics.median(run[phase][1] for run in runs)
        print(f"| {phase} | {wall:.2f} s | {cpu:.2f} s |")
    imported = statistics.median(run["check"][0] + run["store and commit"][0] for run in runs)
    print(
        f"| **import (check + store)** | **{imported:.2f} s** | bar {BAR_SECONDS:.0f} s: "
        f"{'met' if imported < BAR_SECONDS else 'NOT met'} |"
    )


if __name__ == "__main__":
    main()
