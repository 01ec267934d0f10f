"""Risk profiles: what matching 1,000 profiles in force adds to a score.

A SQLite store (a temporary file, WAL, as the service opens it) holds 1,000 profiles in force,
a mix of every operator (HS prefixes with offices or origins, importer ids, keywords in Latin
and Cyrillic, value-per-kg ranges, routes, watchlist hits, bounded patterns, any/not trees).
The bench times what a scoring batch does for profiles (`serving.scoring.profiles`): the
store's one-query check for a change (`profiles_in_force`, warm), then matching, draws,
reasons and lanes (`decide`), for one declaration and for a batch of 10,000. Every
declaration has a description never seen before, so the per-text memory never helps.
python -m bench profiles
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.machine import describe_machine
from features.profiles import RiskProfile
from features.watchlist import WatchlistHits
from models.declarations import DeclarationBatch
from serving.scoring.profiles import decide
from serving.store.database import Store
from serving.store.profiles import add_revision, profiles_in_force
from tests.features.builder_frames import declarations_frame

PROFILES = 1000
BATCH = 10_000
SINGLE_REPEATS = 200
BATCH_REPEATS = 3
OFFICES = [f"OFF-{i}" for i in range(40)]
COUNTRIES = ["TR", "CN", "GR", "MK", "RS", "BA", "AL", "ME", "XK", "HR", "DE", "IT"]
RARE_COUNTRIES = ["AF", "IR", "SY", "LY", "PK", "IQ", "YE", "SD"]
WORDS = ["pištolj*", "делови", "steel pins", "toy parts", "filament", "spare parts", "samples"]
VOCABULARY = ["parts", "steel", "toy", "pistolj", "delovi", "machine", "samples", "filament"]


def _criteria(i: int, rng: np.random.Generator) -> dict[str, Any]:
    hs = f"{int(rng.integers(1, 98)):02d}{int(rng.integers(0, 99)):02d}"
    kind = i % 20
    if kind < 6:
        return {
            "op": "all",
            "of": [
                {"op": "hs_prefix", "prefixes": [hs, hs[:2]]},
                {"op": "in", "field": "origin_country", "values": list(rng.choice(COUNTRIES, 3))},
            ],
        }
    if kind < 10:
        return {
            "op": "equals",
            "field": "importer_id",
            "value": f"IMP-{int(rng.integers(0, 5000))}",
        }
    if kind < 13:
        return {
            "op": "all",
            "of": [
                {"op": "keywords", "words": list(rng.choice(WORDS, 2, replace=False))},
                {"op": "in", "field": "origin_country", "values": list(rng.choice(COUNTRIES, 2))},
                {"op": "range", "field": "packages", "max": float(rng.integers(1, 4))},
            ],
        }
    if kind < 15:
        return {
            "op": "all",
            "of": [
                {"op": "hs_prefix", "prefixes": [hs]},
                {"op": "range", "field": "value_per_kg", "max": float(rng.uniform(0.5, 5))},
            ],
        }
    if kind < 17:
        return {
            "op": "all",
            "of": [
                {"op": "itinerary", "countries": list(rng.choice(RARE_COUNTRIES, 2))},
                {"op": "in", "field": "transport_mode", "values": ["road"]},
                {"op": "range", "field": "gross_mass_kg", "min": float(rng.uniform(100, 20000))},
            ],
        }
    if kind == 17:
        return {"op": "watchlist", "entity_type": "vehicle_id"}
    if kind == 18:
        return {"op": "regex", "pattern": r"\b(pin|pins|part)s? \d{1,3}"}
    return {
        "op": "all",
        "of": [
            {"op": "not", "criterion": {"op": "office", "offices": list(rng.choice(OFFICES, 30))}},
            {
                "op": "any",
                "of": [
                    {"op": "keywords", "words": ["toy parts", "samples"], "match": "all"},
                    {"op": "hs_prefix", "prefixes": [hs]},
                ],
            },
        ],
    }


def _profiles(rng: np.random.Generator) -> list[RiskProfile]:
    return [
        RiskProfile.model_validate(
            {
                "id": f"P-{i:04d}",
                "title": f"bench profile {i}",
                "threat": ["weapons", "migrants", "revenue"][i % 3],
                "criteria": _criteria(i, rng),
                "action": {"lane": "red" if i % 3 else "yellow", "percent": [100, 30, 5][i % 3]},
                "rationale": "bench",
                "owner": "bench",
                "offices": [] if i % 4 else list(rng.choice(OFFICES, 5)),
                "valid_from": "2024-01-01T00:00:00Z",
            }
        )
        for i in range(PROFILES)
    ]


def _batch(n: int, rng: np.random.Generator, tag: str) -> DeclarationBatch:
    rows = [
        {
            "declaration_id": f"{tag}{i}",
            "lodged_at": "2026-11-30T10:00Z",
            "office_id": OFFICES[int(rng.integers(0, len(OFFICES)))],
            "importer_id": f"IMP-{int(rng.integers(0, 20000))}",
            "origin_country": COUNTRIES[int(rng.integers(0, len(COUNTRIES)))],
            "hs_code": f"{int(rng.integers(10, 98))}{int(rng.integers(0, 9999)):04d}",
            "itinerary": ">".join(rng.choice(RARE_COUNTRIES if i % 50 == 0 else COUNTRIES, 3)),
            "customs_value_eur": float(rng.uniform(10, 50000)),
            "packages": float(rng.integers(1, 60)),
            "goods_description": " ".join(rng.choice(VOCABULARY, 3)) + f" {tag}{i} {i * 7} pcs",
        }
        for i in range(n)
    ]
    batch = DeclarationBatch.of(declarations_frame(rows))
    _read_as_scoring_does(batch)
    return batch


def _read_as_scoring_does(batch: DeclarationBatch) -> None:
    """Read the columns the feature builder reads from the same batch before profiles do, so
    the bench times what profiles add, not the first conversion of a pandas column."""
    columns = batch.columns
    for name in ("declaration_id", "office_id", "transport_mode", "origin_country"):
        columns.strings(name)
    for name in ("importer_id", "vehicle_id"):
        columns.ids(name)
    for name in ("hs_code", "itinerary", "goods_description", "dispatch_country"):
        columns.strings(name)
    columns.strings("destination_country")
    for name in ("net_mass_kg", "gross_mass_kg", "customs_value_eur", "packages"):
        columns.numbers(name)


def _hits(n: int, rng: np.random.Generator) -> WatchlistHits:
    rows = np.sort(rng.choice(n, max(1, n // 20), replace=False)).astype(np.int64)
    return WatchlistHits(
        rows,
        np.zeros(len(rows), dtype=np.int64),
        np.array(["vehicle_id"] * len(rows), dtype=object),
        np.array(["migrants"] * len(rows), dtype=object),
    )


def main() -> None:
    rng = np.random.default_rng(0)
    profiles = _profiles(rng)
    with tempfile.TemporaryDirectory() as directory:
        store = Store.open(f"sqlite:///{Path(directory) / 'bench.db'}")
        now = datetime.now(UTC)
        with store.transaction() as session:
            for profile in profiles:
                add_revision(session, profile, change="created", by="bench", at=now, expected=None)
        start = time.perf_counter()
        profiles_in_force(store)  # the first read: loads and compiles every profile
        load_ms = (time.perf_counter() - start) * 1e3

        singles = [_batch(1, rng, f"S{r}-") for r in range(SINGLE_REPEATS)]
        single_hits = WatchlistHits.none()
        times, matched = [], 0
        cpu_started = time.process_time()
        for batch in singles:
            started = time.perf_counter()
            found = decide(profiles_in_force(store), batch, single_hits, datetime.now(UTC))
            times.append(time.perf_counter() - started)
            matched += sum(len(r) for r in found.reasons)
        single_cpu_ms = (time.process_time() - cpu_started) * 1e3 / len(singles)
        single_ms = statistics.median(times) * 1e3
        p99_ms = float(np.quantile(times, 0.99)) * 1e3

        batch_times, batch_cpu, batch_matches, selected = [], [], 0, 0
        for r in range(BATCH_REPEATS):
            batch = _batch(BATCH, rng, f"B{r}-")
            hits = _hits(BATCH, rng)
            started, cpu_started = time.perf_counter(), time.process_time()
            found = decide(profiles_in_force(store), batch, hits, datetime.now(UTC))
            batch_times.append(time.perf_counter() - started)
            batch_cpu.append(time.process_time() - cpu_started)
            batch_matches = sum(len(reasons) for reasons in found.reasons)
            selected = sum(lane is not None for lane in found.lanes)
        batch_ms = statistics.median(batch_times) * 1e3
        batch_cpu_ms = statistics.median(batch_cpu) * 1e3
        store.close()
    print(
        f"## Risk profiles: {PROFILES:,} in force (bench_profiles, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC)\n\n{describe_machine()}\n"
        f"first read and compile of the {PROFILES:,} profiles: {load_ms:.0f} ms (once per change)\n\n"
        "| declarations per batch | added, wall (median) | added, CPU | CPU per declaration | "
        "target | profile matches | selected by a profile |\n|---|---|---|---|---|---|---|\n"
        f"| 1 | {single_ms:.2f} ms (p99 {p99_ms:.2f}) | {single_cpu_ms:.2f} ms | "
        f"{single_cpu_ms:.3f} ms | 1 ms | {matched / SINGLE_REPEATS:.1f} per declaration | - |\n"
        f"| {BATCH:,} | {batch_ms:.0f} ms | {batch_cpu_ms:.0f} ms | "
        f"{batch_cpu_ms / BATCH:.4f} ms | 0.1 ms | {batch_matches:,} | {selected:,} |"
    )


if __name__ == "__main__":
    main()
