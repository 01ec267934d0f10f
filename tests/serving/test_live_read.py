"""`read_live` on both backends: the counts it reads and the hits it decides.

The read path builds its watchlist arrays and history tables from the rows without frames;
these tests hold it to what the frame path (training's, `features.watchlist.watchlist_hits`
on a frame) and the stored counts say, across several statements per batch too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import insert

from features.columns import DeclarationColumns
from features.entities import entity_keys
from features.watchlist import watchlist_hits
from serving.intelligence.service import add_entries
from serving.store import Store, intelligence
from serving.store.tables import EntityHistory, EntityThreatHistory
from tests.features.builder_frames import declarations_frame
from tests.serving.store_backends import operational_store, store_url  # noqa: F401

THREATS = ["weapons", "revenue"]


def _declarations() -> DeclarationColumns:
    return DeclarationColumns(
        declarations_frame(
            [
                {"declaration_id": "D0", "lodged_at": "2024-03-10T12:00Z"},
                {
                    "declaration_id": "D1",
                    "lodged_at": "2024-03-20T12:00Z",
                    "importer_id": "IMP-2",
                    "itinerary": "TR>BG>RS",
                    "hs_code": "930100",
                },
                {
                    "declaration_id": "D2",
                    "lodged_at": "2024-05-02T08:30Z",
                    "importer_id": "IMP-3",
                    "itinerary": None,
                },
            ]
        )
    )


def _entries() -> pd.DataFrame:
    return pd.DataFrame(
        [
            # hits D0 (importer IMP-1) inside March only
            {
                "entity_type": "importer_id",
                "entity_id": "imp-1",
                "threat": "Revenue",
                "valid_from": "2024-03-01T00:00:00.123456Z",
                "valid_to": "2024-03-31T00:00:00Z",
                "source_agency": "PARTNER-A",
            },
            # a run of D1's itinerary
            {
                "entity_type": "itinerary",
                "entity_id": "bg > rs",
                "threat": "migrants",
                "valid_from": "2024-01-01T00:00:00Z",
                "handling_code": "H2",
            },
            # a prefix of D1's HS code
            {
                "entity_type": "hs_code",
                "entity_id": "9301",
                "threat": "weapons",
                "valid_from": "2024-01-01T00:00:00Z",
            },
            # IMP-3 listed only from June: D2 (May) is outside the window
            {
                "entity_type": "importer_id",
                "entity_id": "IMP-3",
                "threat": "weapons",
                "valid_from": "2024-06-01T00:00:00Z",
            },
        ]
    )


def test_hits_from_the_stores_rows_equal_the_frame_rule(
    operational_store: Store,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_entries(operational_store, _entries(), added_by="test")
    columns = _declarations()
    scored_at = datetime.now(UTC) + timedelta(seconds=1)
    for chunk in (intelligence.CHUNK, 2):  # one statement per table, then several
        monkeypatch.setattr(intelligence, "CHUNK", chunk)
        with operational_store.sessions() as session:
            read = intelligence.read_live(session, columns, THREATS, scored_at)
        hits = read.live.watchlist
        found = sorted(
            zip(hits.rows.tolist(), hits.entity_types.tolist(), hits.threats.tolist(), strict=True)
        )
        assert found == [
            (0, "importer_id", "revenue"),
            (1, "hs_code", "weapons"),
            (1, "itinerary", "migrants"),
        ]
        # the candidates come in id order whatever the chunks, and the frame rule agrees
        ids = [row[intelligence.CANDIDATE_COLUMNS.index("id")] for row in read.candidates]
        assert ids == sorted(ids) and len(ids) == 4
        moment = np.full(len(columns), pd.Timestamp(scored_at).value, dtype=np.int64)
        by_frame = watchlist_hits(columns, read.entries, moment)
        for name in ("rows", "entries", "entity_types", "threats"):
            assert getattr(hits, name).tolist() == getattr(by_frame, name).tolist()

    # an entry added after the scoring moment is not known to it
    with operational_store.sessions() as session:
        earlier = intelligence.read_live(session, columns, THREATS, scored_at - timedelta(days=1))
    assert len(earlier.candidates) == 0 and len(earlier.live.watchlist.rows) == 0


def test_history_counts_are_read_per_kind_and_threat(
    operational_store: Store,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    columns = _declarations()
    importer = entity_keys(columns)["importer"].tolist()
    first_seen = datetime(2023, 7, 1, 9, 30, 0, 250_001, tzinfo=UTC)
    with operational_store.transaction() as session:
        session.execute(
            insert(EntityHistory),
            [
                {
                    "entity": "importer",
                    "key": importer[0],
                    "declarations": 7,
                    "inspections": 3,
                    "first_seen": first_seen,
                    "last_seen": first_seen,
                },
                # the same key under another kind: counted for that kind only
                {
                    "entity": "exporter",
                    "key": importer[0],
                    "declarations": 50,
                    "inspections": 9,
                    "first_seen": None,
                    "last_seen": None,
                },
            ],
        )
        session.execute(
            insert(EntityThreatHistory),
            [
                {"entity": "importer", "key": importer[0], "threat": t, "labelled": n, "hits": h}
                for t, n, h in (("revenue", 3, 2), ("weapons", 2, 1), ("migrants", 3, 3))
            ],
        )
    for chunk in (intelligence.CHUNK, 1):
        monkeypatch.setattr(intelligence, "CHUNK", chunk)
        with operational_store.sessions() as session:
            read = intelligence.read_live(session, columns, THREATS, datetime.now(UTC))
        counts = read.live.counts["importer"]
        assert counts.columns == (
            "declarations",
            "inspections",
            "labelled_weapons",
            "labelled_revenue",
            "hits_weapons",
            "hits_revenue",
        )
        # migrants is not a threat of this model: not read into any column
        assert counts.values.tolist() == [[7, 3, 2, 3, 1, 2], [0] * 6, [0] * 6]
        assert counts.first_seen_ns[0] == pd.Timestamp(first_seen).value
        assert (counts.first_seen_ns[1:] == np.iinfo(np.int64).min).all()
        assert read.live.counts["exporter"].values[:, 0].tolist() == [0, 0, 0]
