"""A scoring batch's live inputs: entity history and watchlist hits read from the store.

`read_batch` runs once per batch in the scoring worker, just before the bundle scores it: one
query per store table for the whole batch (serving.store.intelligence.read_live). The moment
it reads is the batch's ``scored_at``, kept with every score: the "as of" that training's
point-in-time rebuild uses (docs/internals.md). `watchlist_reasons` turns the hits into
reasons of kind ``watchlist``: agency and handling code, never the provider's text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import pandas as pd

from features.records import CanonicalRecords
from models.bundle import ScoredDeclaration
from models.declarations import DeclarationBatch
from models.explain import Reason
from serving.store.database import Store
from serving.store.intelligence import CANDIDATE_COLUMNS, LiveRead, read_live

ENTITY_WORDS = {
    "vehicle_id": "vehicle",
    "importer_id": "importer",
    "exporter_id": "exporter",
    "carrier_id": "carrier",
    "declarant_id": "declarant",
    "itinerary": "route",
    "hs_code": "HS code",
}
_AGENCY = CANDIDATE_COLUMNS.index("source_agency")
_HANDLING = CANDIDATE_COLUMNS.index("handling_code")


def read_batch(
    store: Store, declarations: CanonicalRecords | pd.DataFrame, threats: Sequence[str]
) -> LiveRead:
    """The live inputs of a batch (canonical records or frame) as the store holds them now."""
    columns = DeclarationBatch.of(declarations).columns
    scored_at = datetime.now(UTC)
    with store.sessions() as session:
        return read_live(session, columns, threats, scored_at)


def watchlist_reasons(read: LiveRead, rows: int) -> list[list[Reason]]:
    """Per declaration, one reason per watchlist entry that hit it (entry order)."""
    reasons: list[list[Reason]] = [[] for _ in range(rows)]
    hits = read.live.watchlist
    candidates = read.candidates
    for row, entry, entity_type, threat in zip(
        hits.rows.tolist(),
        hits.entries.tolist(),
        hits.entity_types.tolist(),
        hits.threats.tolist(),
        strict=True,
    ):
        agency = candidates[entry][_AGENCY]
        agency = None if agency is None or agency != agency else str(agency)
        handling = str(candidates[entry][_HANDLING]).upper()
        word = ENTITY_WORDS.get(entity_type, entity_type)
        reasons[row].append(
            Reason(
                threat=str(threat),
                feature=f"watchlist_{entity_type.removesuffix('_id')}_{threat}",
                value=1.0,
                contribution=0.0,
                text=f"{word} is on a partner watchlist for {threat}"
                + (
                    f" (source {agency}, handling {handling})"
                    if agency
                    else f" (handling {handling})"
                ),
                fields=[entity_type],
                kind="watchlist",
                source_agency=agency,
                handling_code=handling,
            )
        )
    return reasons


def with_watchlist_reasons(
    scored: list[ScoredDeclaration], listed: list[list[Reason]], top_k: int | None = None
) -> list[ScoredDeclaration]:
    """Scores with their watchlist reasons first, then (at most ``top_k``) model reasons."""
    return [
        row
        if not found and (top_k is None or len(row.reasons) <= top_k)
        else replace(row, reasons=[*found, *row.reasons[:top_k]])
        for row, found in zip(scored, listed, strict=True)
    ]
