"""Watchlist writes left to the request's record: ids chosen before the write, an edit
checked again inside it (on SQLite and PostgreSQL)."""

from __future__ import annotations

import threading

import pandas as pd
import pytest
from sqlalchemy import func, select

from serving.intelligence import service
from serving.store import intelligence
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
            planned.append(intelligence.reserve_watchlist_ids(session, 5))

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
