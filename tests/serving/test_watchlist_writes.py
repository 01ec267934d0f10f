"""Watchlist writes: left to the request's record with ids chosen before the write and an
edit checked again inside it (on SQLite and PostgreSQL); entry ids read as their type, as
the OpenAPI schema states."""

from __future__ import annotations

import threading

import jsonschema_rs
import pandas as pd
import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from features.validation import DataValidationError
from serving.intelligence import service
from serving.intelligence.schemas import WatchlistRequest, entries_frame
from serving.store import watchlist
from serving.store.database import Store
from serving.store.tables import WatchlistEntry
from tests.serving.store_backends import operational_store, store_url  # noqa: F401


def entry(entity_id: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "entity_type": "importer_id",
                "entity_id": entity_id,
                "threat": "weapons",
                "valid_from": "2024-01-01",
            }
        ]
    )


def stored_ids(store: Store) -> list[int]:
    with store.transaction() as session:
        return list(session.scalars(select(WatchlistEntry.id).order_by(WatchlistEntry.id)))


def test_planned_entries_store_nothing_until_written_and_then_under_their_ids(
    operational_store: Store,  # noqa: F811
) -> None:
    first = service.planned_entries(operational_store, entry("IMP-1"), added_by="rm")
    second = service.planned_entries(operational_store, entry("IMP-2"), added_by="rm")
    assert stored_ids(operational_store) == []  # planning wrote nothing
    assert len({*first.ids, *second.ids}) == 2  # planned apart, never the same id
    with operational_store.transaction() as session:  # written in the other order
        second.write(session)
        first.write(session)
    assert stored_ids(operational_store) == sorted([*first.ids, *second.ids])
    # an id whose write never ran stays unused: the next entries get new ones
    unused = service.planned_entries(operational_store, entry("IMP-3"), added_by="rm")
    later = service.add_entries(operational_store, entry("IMP-4"), added_by="rm")
    assert set(later).isdisjoint([*first.ids, *second.ids, *unused.ids])


def test_ids_planned_by_concurrent_requests_never_collide(
    operational_store: Store,  # noqa: F811
) -> None:
    planned: list[list[int]] = []
    start = threading.Barrier(4)

    def plan() -> None:
        start.wait()
        with operational_store.transaction() as session:
            planned.append(watchlist.reserve_watchlist_ids(session, 5))

    threads = [threading.Thread(target=plan) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [i for block in planned for i in block]
    assert len(ids) == len(set(ids)) == 20


def test_an_edit_of_an_entry_withdrawn_before_its_write_stores_nothing(
    operational_store: Store,  # noqa: F811
) -> None:
    [original] = service.add_entries(operational_store, entry("IMP-1"), added_by="rm")
    late = service.planned_entries(
        operational_store, entry("IMP-1b"), added_by="rm", replaces=[original]
    )
    service.add_entries(operational_store, entry("IMP-1c"), added_by="rm", replaces=[original])
    with pytest.raises(service.UnknownEntry) as caught, operational_store.transaction() as session:
        late.write(session)
    assert caught.value.positions == [0]
    with operational_store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(WatchlistEntry)) == 2
    with pytest.raises(service.UnknownEntry):  # and planned now, it is refused at once
        service.planned_entries(
            operational_store, entry("IMP-1d"), added_by="rm", replaces=[original]
        )


@pytest.mark.parametrize(
    ("entity_type", "entity_id", "kept"),
    [
        ("hs_code", "93", True),
        ("hs_code", "9305.10", True),
        ("hs_code", "9", False),  # one digit would flag a whole section
        ("hs_code", "93051000001", False),
        ("hs_code", "93A5", False),
        ("itinerary", "GR>MK", True),
        ("itinerary", "gr, mk", True),
        ("itinerary", "GREECE>MK", False),
        ("importer_id", "IMP 1", True),
    ],
)
def test_an_entry_id_must_read_as_its_type(entity_type: str, entity_id: str, kept: bool) -> None:
    raw = entry(entity_id).assign(entity_type=entity_type)
    if kept:
        assert len(watchlist.checked_watchlist(raw, source="t")[1]) == 1
    else:
        with pytest.raises(DataValidationError) as caught:
            watchlist.checked_watchlist(raw, source="t")
        assert [p.column for p in caught.value.problems] == ["entity_id"]


def schema_valid(entry: dict[str, object]) -> bool:
    schema = WatchlistRequest.model_json_schema()
    return bool(jsonschema_rs.validator_for(schema).is_valid({"entries": [entry]}))


@pytest.mark.parametrize(
    ("changes", "valid"),
    [
        ({}, True),
        ({"entity_type": "hs_code", "entity_id": "9305"}, True),
        ({"entity_type": "hs_code", "entity_id": "IMP-1"}, False),
        ({"entity_type": "itinerary", "entity_id": "GR>MK>RS"}, True),
        ({"entity_type": "itinerary", "entity_id": "GREECE"}, False),
        ({"handling_code": "h3"}, False),  # an H3 entry states its restrictions
        ({"handling_code": "h3", "handling_note": "no court use"}, True),
        ({"handling_code": "h2"}, True),
    ],
)
def test_the_openapi_schema_states_the_entry_rules(changes: dict[str, str], valid: bool) -> None:
    """What the schema calls valid is stored, what it refuses is refused (the fuzz test holds
    the first over generated entries)."""
    body = {
        "entity_type": "importer_id",
        "entity_id": "IMP-1",
        "threat": "weapons",
        "valid_from": "2024-01-01T00:00:00Z",
        **changes,
    }
    assert schema_valid(body) is valid
    try:
        checked = WatchlistRequest.model_validate({"entries": [body]})
        watchlist.checked_watchlist(entries_frame(checked.entries), source="t")
        accepted = True
    except (ValidationError, DataValidationError):
        accepted = False
    assert accepted is valid
