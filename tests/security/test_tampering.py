"""Someone who holds the database tampers with the consultation log: verify names it.

Each attack goes through SQL, as a database administrator or a stolen copy would, on SQLite
and on PostgreSQL when configured. The attacker knows the code (the hash functions) but not
the audit key, and cannot reach the checkpoint file kept outside the database.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from serving.audit.chain import (
    GENESIS,
    LEGACY_SCHEME,
    AuditEvent,
    AuditKey,
    AuditRecord,
    ChainVerdict,
    record_hash,
    unkeyed_hash,
)
from serving.audit.checkpoints import (
    Checkpoint,
    append_to_file,
    read_file,
    verify_log,
)
from serving.audit.records import AuditLog, query_records, read_chain
from serving.store.database import MIGRATIONS, Store, create_store_engine
from tests.serving.store_backends import operational_store, store_url  # noqa: F401

KEY = AuditKey(b"the real audit key, kept off the database")
GUESS = AuditKey(b"an attacker's guess at the audit key....")
T0 = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)
EDITED = (
    "does not match its hash: it was edited (or the audit key is not the one it was written with)"
)


@pytest.fixture
def store(operational_store: Store) -> Store:  # noqa: F811
    """The open, empty store of each backend, by the name these tests use."""
    return operational_store


def event(minute: int, ids: tuple[str, ...] = ()) -> AuditEvent:
    return AuditEvent(
        recorded_at=T0 + timedelta(minutes=minute),
        key_id="0123456789ab",
        key_name="desk 2",
        role="officer",
        route="GET /v1/declarations/{declaration_id}",
        declaration_ids=ids,
        justification="case 12",
        model_version="shiprisk/3",
        status=200,
    )


def filled(store: Store, count: int = 5) -> AuditLog:
    log = AuditLog(KEY)
    for minute in range(count):
        log.append(store, event(minute, ids=(f"D{minute}", "D-shared")))
    return log


def chain_of(store: Store) -> list[AuditRecord]:
    with store.sessions() as session:
        return list(read_chain(session))


def verdict_of(store: Store, checkpoints: Sequence[tuple[str, Checkpoint]] = ()) -> ChainVerdict:
    with store.sessions() as session:
        return verify_log(read_chain(session), KEY, checkpoints)


def rewrite_from(
    store: Store, sequence: int, hashing: Callable[[AuditRecord, str], str], **change: object
) -> None:
    """Edit record ``sequence`` and recompute its hash and every later one, in SQL."""
    records = chain_of(store)
    link = GENESIS if sequence == 1 else records[sequence - 2].record_hash
    with store.engine.begin() as connection:
        for record in records[sequence - 1 :]:
            edited = (
                dataclasses.replace(record.event, **change)
                if record.sequence == sequence
                else record.event
            )
            digest = hashing(dataclasses.replace(record, event=edited), link)
            connection.execute(
                text(
                    "UPDATE audit_records SET justification = :j, status = :s, "
                    "previous_hash = :p, record_hash = :h WHERE sequence = :n"
                ),
                {
                    "j": edited.justification,
                    "s": edited.status,
                    "p": link,
                    "h": digest,
                    "n": record.sequence,
                },
            )
            link = digest


def test_an_edit_rehashed_with_unkeyed_sha256_is_named(store: Store) -> None:
    filled(store)
    rewrite_from(
        store, 3, lambda r, link: unkeyed_hash(r.sequence, r.event, link), justification="none"
    )
    verdict = verdict_of(store)
    assert (verdict.broken_sequence, verdict.problem) == (3, f"record 3 {EDITED}")


def test_an_edit_rehashed_with_our_functions_and_a_guessed_key_is_named(store: Store) -> None:
    filled(store)
    rewrite_from(
        store,
        2,
        lambda r, link: record_hash(GUESS, r.sequence, r.event, link, r.links),
        status=404,
    )
    verdict = verdict_of(store)
    assert (verdict.broken_sequence, verdict.problem) == (2, f"record 2 {EDITED}")


def test_an_edit_rehashed_unkeyed_and_marked_unkeyed_is_named_as_a_downgrade(
    store: Store,
) -> None:
    filled(store)
    rewrite_from(
        store, 4, lambda r, link: unkeyed_hash(r.sequence, r.event, link), justification="none"
    )
    with store.engine.begin() as connection:
        connection.execute(
            text("UPDATE audit_records SET hash_scheme = 'sha256' WHERE sequence >= 4")
        )
    verdict = verdict_of(store)
    assert (verdict.broken_sequence, verdict.problem) == (
        4,
        "record 4 is unkeyed (sha256) but follows keyed record 1: the chain was downgraded "
        "(rewritten without the audit key)",
    )


def test_deleted_declaration_links_are_named_at_their_record(store: Store) -> None:
    filled(store)
    with store.sessions() as session:
        assert [r.sequence for r in query_records(session, declaration_id="D2")] == [3]
    with store.engine.begin() as connection:
        connection.execute(
            text("DELETE FROM audit_declarations WHERE declaration_id = 'D2' AND sequence = 3")
        )
    with store.sessions() as session:
        assert query_records(session, declaration_id="D2") == []  # what the attacker wanted
    verdict = verdict_of(store)
    assert (verdict.broken_sequence, verdict.problem) == (
        3,
        "record 3's declaration links (audit_declarations) were changed: index rows deleted "
        "or added",
    )


def test_a_declaration_link_added_to_another_record_is_named(store: Store) -> None:
    filled(store)
    with store.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO audit_declarations (sequence, declaration_id) VALUES (2, 'D4')")
        )
    assert verdict_of(store).broken_sequence == 2


def checkpointed(store: Store, log: AuditLog, path: Path) -> tuple[Checkpoint, AuditRecord]:
    made, record = log.checkpoint(store, now=T0 + timedelta(hours=1), actor="cli:ops")
    append_to_file(path, made)
    return made, record


def test_a_checkpoint_is_a_signed_record_and_a_file_line(store: Store, tmp_path: Path) -> None:
    log = filled(store)
    path = tmp_path / "kept" / "checkpoints.jsonl"
    made, record = checkpointed(store, log, path)
    assert (made.head_sequence, made.record_count, record.sequence) == (5, 5, 6)
    assert made.head_hash == chain_of(store)[4].record_hash
    assert made.signed_by(KEY) and not made.signed_by(GUESS)
    assert record.event.route == "audit checkpoint"
    assert dict(record.event.detail)["signature"] == made.signature
    assert read_file(path) == [("checkpoints.jsonl line 1", made)]
    log.append(store, event(99))
    verdict = verdict_of(store, read_file(path))
    assert (verdict.intact, verdict.checkpoints, verdict.vouched_sequence) == (True, 2, 5)


def test_deleting_the_last_records_after_a_checkpoint_is_named(
    store: Store, tmp_path: Path
) -> None:
    log = filled(store)
    path = tmp_path / "checkpoints.jsonl"
    checkpointed(store, log, path)
    with store.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_records WHERE sequence >= 5"))
    assert verdict_of(store).intact  # inside the database alone, nothing shows
    verdict = verdict_of(store, read_file(path))
    assert verdict.broken_sequence == 5
    assert verdict.problem == (
        "record 5 was cut off the end: checkpoint checkpoints.jsonl line 1 of "
        "2025-01-01T09:00:00+00:00 vouches for record 5, the chain ends at record 4"
    )


def test_a_rewritten_checkpointed_record_and_a_forged_checkpoint_are_named(
    store: Store, tmp_path: Path
) -> None:
    log = filled(store)
    path = tmp_path / "checkpoints.jsonl"
    made, _ = checkpointed(store, log, path)
    forged = dataclasses.replace(made, head_sequence=9)
    verdict = verdict_of(store, [("copy line 1", forged)])
    assert verdict.problem == (
        f"checkpoint copy line 1 is not signed by the audit key: forged or edited (it names "
        f"key {KEY.fingerprint}, the audit key is {KEY.fingerprint})"
    )
    other = dataclasses.replace(made, head_hash="f" * 64)
    assert verdict_of(store, [("copy", other)]).broken_sequence == 5


def test_a_purge_after_a_checkpoint_still_verifies(store: Store, tmp_path: Path) -> None:
    log = filled(store)
    path = tmp_path / "checkpoints.jsonl"
    checkpointed(store, log, path)
    result = log.purge(
        store,
        before=T0 + timedelta(minutes=5),  # records 1..5, the checkpointed one included
        now=T0 + timedelta(days=400),
        retention_days=365,
        actor="cli:ops",
    )
    assert result.purged == 5
    verdict = verdict_of(store, read_file(path))
    assert (verdict.intact, verdict.head_sequence) == (True, 7)


def upgrade(store_url: str, revision: str) -> None:  # noqa: F811
    engine = create_store_engine(store_url)
    with engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    engine.dispose()


def write_unkeyed(store: Store, sequence: int, previous: str, scheme: str | None) -> str:
    """Insert a record as the unkeyed scheme made them (``scheme`` None: column absent)."""
    happened = event(sequence)
    digest = unkeyed_hash(sequence, happened, previous)
    columns = "sequence, recorded_at, key_id, key_name, role, route, declaration_ids, "
    columns += "justification, model_version, status, detail, previous_hash, record_hash"
    values = ":n, :t, :k, :kn, :r, :route, '[]', :j, :m, :s, '{}', :p, :h"
    if scheme is not None:
        columns, values = columns + ", hash_scheme", values + ", :scheme"
    with store.engine.begin() as connection:
        connection.execute(
            text(f"INSERT INTO audit_records ({columns}) VALUES ({values})"),
            {
                "n": sequence,
                "t": happened.recorded_at,
                "k": happened.key_id,
                "kn": happened.key_name,
                "r": happened.role,
                "route": happened.route,
                "j": happened.justification,
                "m": happened.model_version,
                "s": happened.status,
                "p": previous,
                "h": digest,
                "scheme": scheme,
            },
        )
    return digest


def test_a_chain_from_before_the_migration_verifies_and_a_downgrade_is_caught(
    store_url: str,  # noqa: F811
) -> None:
    upgrade(store_url, "0002")
    old = Store.open(store_url, migrate=False)
    link = GENESIS
    for sequence in (1, 2, 3):
        link = write_unkeyed(old, sequence, link, scheme=None)
    old.close()

    store = Store.open(store_url)  # migrates to the keyed scheme
    try:
        assert [r.scheme for r in chain_of(store)] == [LEGACY_SCHEME] * 3
        assert verdict_of(store).intact
        log = AuditLog(KEY)
        log.append(store, event(10, ids=("D10",)))
        log.append(store, event(11))
        assert [r.scheme for r in chain_of(store)][-2:] == ["hmac-sha256"] * 2
        verdict = verdict_of(store)
        assert (verdict.intact, verdict.head_sequence) == (True, 5)

        # A writer without the key appends in the old scheme (the column's default).
        write_unkeyed(store, 6, chain_of(store)[-1].record_hash, scheme=None)
        verdict = verdict_of(store)
        assert (verdict.broken_sequence, verdict.problem) == (
            6,
            "record 6 is unkeyed (sha256) but follows keyed record 4: the chain was "
            "downgraded (rewritten without the audit key)",
        )
    finally:
        store.close()
