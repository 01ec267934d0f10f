"""Keys and the consultation log in a real store (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from serving.access.key_store import add_key, all_keys, find_key, revoke_key
from serving.access.keys import Role, new_key
from serving.audit.chain import AuditEvent, AuditKey, verify_chain
from serving.audit.reading import query_records, read_chain
from serving.audit.records import AuditLog, RetentionError
from serving.store.database import Store
from tests.serving.store_backends import operational_store, store_url  # noqa: F401

PEPPER = b"p" * 32
T0 = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)
KEY = AuditKey(b"test audit key, at least 32 bytes")


@pytest.fixture
def store(operational_store: Store) -> Store:  # noqa: F811
    """The open, empty store of each backend, by the name these tests use."""
    return operational_store


def event(minute: int, *, key_id: str = "0123456789ab", ids: tuple[str, ...] = ()) -> AuditEvent:
    return AuditEvent(
        recorded_at=T0 + timedelta(minutes=minute),
        key_id=key_id,
        key_name="desk",
        role="officer",
        route="GET /v1/worklist",
        declaration_ids=ids,
        justification="case 1",
        model_version="shiprisk/1",
        status=200,
        detail={"office_id": "RS01"},
    )


def chain_of(store: Store) -> list[int]:
    with store.sessions() as session:
        return [record.sequence for record in read_chain(session)]


def verdict_of(store: Store) -> tuple[int | None, str | None]:
    with store.sessions() as session:
        verdict = verify_chain(read_chain(session), KEY)
    return verdict.broken_sequence, verdict.problem


def test_keys_round_trip_and_revoke(store: Store) -> None:
    _, key = new_key("desk", Role.OFFICER, pepper=PEPPER, created_at=T0, offices=["RS01"])
    with store.transaction() as session:
        add_key(session, key)
    with store.sessions() as session:
        assert find_key(session, key.key_id) == key
        assert find_key(session, "ffffffffffff") is None
    with store.transaction() as session:
        revoked = revoke_key(session, key.key_id, T0 + timedelta(days=1))
        again = revoke_key(session, key.key_id, T0 + timedelta(days=2))
    assert revoked.revoked_at == again.revoked_at == T0 + timedelta(days=1)
    with store.sessions() as session:
        assert [k.revoked for k in all_keys(session)] == [True]
    with pytest.raises(KeyError), store.transaction() as session:
        revoke_key(session, "ffffffffffff", T0)


def test_appended_records_form_an_intact_chain(store: Store) -> None:
    log = AuditLog(KEY)
    written = [log.append(store, event(minute, ids=(f"D{minute}",))) for minute in range(4)]
    assert [r.sequence for r in written] == [1, 2, 3, 4]
    with store.sessions() as session:
        stored = list(read_chain(session))
    assert [dataclasses.replace(r, links=None) for r in stored] == written
    assert [r.links for r in stored] == [(f"D{minute}",) for minute in range(4)]
    assert verify_chain(stored, KEY).intact


def test_queries_filter_by_time_key_and_declaration(store: Store) -> None:
    log = AuditLog(KEY)
    log.append(store, event(0, ids=("D1", "D2")))
    log.append(store, event(1, key_id="aaaaaaaaaaaa", ids=("D2",)))
    log.append(store, event(2, ids=("D3",)))
    with store.sessions() as session:
        assert [r.sequence for r in query_records(session, declaration_id="D2")] == [2, 1]
        assert [r.sequence for r in query_records(session, key_id="aaaaaaaaaaaa")] == [2]
        since = query_records(session, since=T0 + timedelta(minutes=1))
        assert [r.sequence for r in since] == [3, 2]
        until = query_records(session, until=T0 + timedelta(minutes=1))
        assert [r.sequence for r in until] == [1]
        assert [r.sequence for r in query_records(session, limit=1)] == [3]


@pytest.mark.parametrize(
    ("tampering", "broken", "problem"),
    [
        (
            "UPDATE audit_records SET justification = 'curiosity' WHERE sequence = 2",
            2,
            "record 2 does not match its hash: it was edited (or the audit key is not the one "
            "it was written with)",
        ),
        (
            "DELETE FROM audit_records WHERE sequence = 2",
            2,
            "record 2 is missing after record 1: deleted or moved",
        ),
        (
            # Reorder: records 2 and 3 trade places (contents swapped, numbers kept).
            "UPDATE audit_records SET sequence = CASE sequence WHEN 2 THEN 3 ELSE 2 END "
            "WHERE sequence IN (2, 3)",
            2,
            "record 2 does not link to record 1: records were deleted, inserted or reordered",
        ),
        (
            "DELETE FROM audit_records WHERE sequence = 1",
            2,
            "record 2 is the first, but records before it were removed without an audited "
            "purge (or its link was changed)",
        ),
    ],
    ids=["edited", "deleted", "reordered", "oldest-deleted"],
)
def test_tampering_in_the_store_is_named(
    store: Store, tampering: str, broken: int, problem: str
) -> None:
    log = AuditLog(KEY)
    for minute in range(4):
        log.append(store, event(minute))
    with store.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_declarations"))
        if "CASE" in tampering:  # move one out of the way first: the sequence is the key
            connection.execute(text("UPDATE audit_records SET sequence = 99 WHERE sequence = 2"))
            connection.execute(text("UPDATE audit_records SET sequence = 2 WHERE sequence = 3"))
            connection.execute(text("UPDATE audit_records SET sequence = 3 WHERE sequence = 99"))
        else:
            connection.execute(text(tampering))
    assert verdict_of(store) == (broken, problem)


def test_purge_respects_retention_and_leaves_a_verifiable_chain(store: Store) -> None:
    log = AuditLog(KEY)
    for day in range(4):
        log.append(store, event(day * 24 * 60))
    now = T0 + timedelta(days=400)
    with pytest.raises(RetentionError) as refused:
        log.purge(store, before=T0 + timedelta(days=40), now=now, retention_days=365, actor="cli:x")
    assert str(refused.value) == (
        "records are kept 365 days (SHIPRISK_AUDIT_RETENTION_DAYS): --before must be on or "
        "before 2025-02-05"
    )
    assert chain_of(store) == [1, 2, 3, 4]

    result = log.purge(
        store, before=T0 + timedelta(days=2), now=now, retention_days=365, actor="cli:x"
    )
    assert result.purged == 2
    assert chain_of(store) == [3, 4, 5]
    assert result.record.sequence == 5
    assert result.record.event.route == "audit purge"
    assert result.record.event.key_name == "cli:x"
    assert dict(result.record.event.detail)["purged_through_sequence"] == 2
    assert verdict_of(store) == (None, None)

    # Nothing older left: the purge is still recorded, without an anchor.
    empty = log.purge(store, before=T0, now=now, retention_days=365, actor="cli:x")
    assert (empty.purged, chain_of(store)) == (0, [3, 4, 5, 6])
    assert verdict_of(store) == (None, None)


def test_a_store_that_refuses_writes_is_reported_not_writable(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'shiprisk.db'}")
    log = AuditLog(KEY)
    assert log.writable(store)
    with store.engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TRIGGER refuse BEFORE INSERT ON audit_records "
                "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            )
        )
    assert not log.writable(store)
    from serving.audit.records import AuditWriteError

    with pytest.raises(AuditWriteError) as failed:
        log.append(store, event(0))
    assert str(failed.value) == "consultation log not writable (IntegrityError)"
    assert chain_of(store) == []
    store.close()
