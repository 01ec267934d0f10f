"""Someone who holds the database tampers with the consultation log: verify names it.

Each attack goes through SQL, as a database administrator or a stolen copy would, on SQLite
and on PostgreSQL when configured. The attacker knows the code (the hash functions) but not
the audit key, and cannot reach the checkpoint file kept outside the database.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from typer.testing import CliRunner

from serving.audit.boundary import BY_OPERATOR
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
from serving.audit.reading import query_records, read_chain, store_id
from serving.audit.records import AuditLog
from serving.store.database import MIGRATIONS, Store, create_store_engine
from shiprisk.cli import app
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


def identity_of(store: Store) -> str | None:
    with store.sessions() as session:
        return store_id(session)


def verdict_of(store: Store, checkpoints: Sequence[tuple[str, Checkpoint]] = ()) -> ChainVerdict:
    with store.sessions() as session:
        return verify_log(read_chain(session), KEY, checkpoints, store_id=store_id(session))


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


def upgraded_store(store_url: str, legacy: int = 3) -> Store:  # noqa: F811
    """A store whose first ``legacy`` records were written before migration 0003, migrated."""
    upgrade(store_url, "0002")
    old = Store.open(store_url, migrate=False)
    link = GENESIS
    for sequence in range(1, legacy + 1):
        link = write_unkeyed(old, sequence, link, scheme=None)
    old.close()
    return Store.open(store_url)  # migrates to the keyed scheme


def unkeyed_from(store: Store, sequence: int) -> None:
    """Rewrite records from ``sequence`` on in the unkeyed scheme, marked so, as an attacker
    with the database and the code (not the key) can."""
    rewrite_from(
        store, sequence, lambda r, link: unkeyed_hash(r.sequence, r.event, link), justification="x"
    )
    with store.engine.begin() as connection:
        connection.execute(
            text("UPDATE audit_records SET hash_scheme = 'sha256' WHERE sequence >= :n"),
            {"n": sequence},
        )


@pytest.fixture
def upgraded(store_url: str, tmp_path: Path) -> Iterator[tuple[Store, AuditLog, Path]]:  # noqa: F811
    """An upgraded store (3 unkeyed records), its log declaring into a checkpoint file."""
    store = upgraded_store(store_url)
    path = tmp_path / "kept" / "checkpoints.jsonl"
    yield store, AuditLog(KEY, path), path
    store.close()


REWRITE = "an unkeyed rewrite (the chain was rewritten without the audit key)"


def test_a_chain_from_before_the_migration_verifies_up_to_its_boundary_and_a_downgrade_is_caught(
    upgraded: tuple[Store, AuditLog, Path],
) -> None:
    store, log, path = upgraded
    assert [r.scheme for r in chain_of(store)] == [LEGACY_SCHEME] * 3
    log.append(store, event(10, ids=("D10",)))  # the first keyed record: boundary first
    log.append(store, event(11))
    records = chain_of(store)
    assert [(r.sequence, r.scheme, r.event.route) for r in records[3:]] == [
        (4, "hmac-sha256", "audit legacy boundary"),
        (5, "hmac-sha256", event(10).route),
        (6, "hmac-sha256", event(11).route),
    ]
    ((_, boundary),) = read_file(path)
    assert (boundary.legacy_through, boundary.head_sequence, boundary.record_count) == (3, 3, 3)
    assert (boundary.head_hash, boundary.store_id) == (
        records[2].record_hash,
        identity_of(store),
    )
    assert boundary.signed_by(KEY) and not boundary.signed_by(GUESS)
    assert dict(records[3].event.detail)["signature"] == boundary.signature
    verdict = verdict_of(store, read_file(path))
    assert (verdict.intact, verdict.head_sequence, verdict.legacy_through) == (True, 6, 3)

    # The boundary counts only from outside the database: its record alone does not.
    verdict = verdict_of(store)
    assert verdict.broken_sequence == 1
    assert str(verdict.problem).startswith(
        "record 1 is unkeyed (sha256) and no signed legacy boundary of this store was found"
    )

    # A writer without the key appends in the old scheme (the column's default).
    write_unkeyed(store, 7, records[-1].record_hash, scheme=None)
    verdict = verdict_of(store, read_file(path))
    assert (verdict.broken_sequence, verdict.problem) == (
        7,
        "record 7 is unkeyed (sha256) but follows keyed record 4: the chain was "
        "downgraded (rewritten without the audit key)",
    )


def test_keyed_records_rewritten_unkeyed_beyond_the_boundary_are_named(
    upgraded: tuple[Store, AuditLog, Path],
) -> None:
    store, log, path = upgraded
    for minute in (10, 11, 12):
        log.append(store, event(minute, ids=(f"D{minute}",)))
    unkeyed_from(store, 4)  # the boundary's record and every keyed one after it
    assert {r.scheme for r in chain_of(store)} == {LEGACY_SCHEME}
    problem = (
        f"record 4 is unkeyed (sha256) and this store's signed legacy boundary accepts them "
        f"through record 3: {REWRITE}"
    )
    verdict = verdict_of(store, read_file(path))
    assert (verdict.broken_sequence, verdict.problem) == (4, problem)

    # The service's next record finds an unkeyed head: it must not declare a new boundary.
    log.append(store, event(20))
    assert [c.legacy_through for _, c in read_file(path)] == [3]
    verdict = verdict_of(store, read_file(path))
    assert (verdict.broken_sequence, verdict.problem) == (4, problem)


def test_a_fresh_store_rewritten_whole_in_the_unkeyed_scheme_is_named_at_its_first_record(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "checkpoints.jsonl"
    log = AuditLog(KEY, path)
    for minute in range(5):
        log.append(store, event(minute, ids=(f"D{minute}",)))
    ((_, fresh),) = read_file(path)  # declared at its first record: no unkeyed records
    assert (fresh.legacy_through, fresh.head_sequence, fresh.store_id) == (0, 0, identity_of(store))
    assert [r.event.route for r in chain_of(store)] == [event(0).route] * 5  # no record for it
    assert verdict_of(store, read_file(path)).intact

    unkeyed_from(store, 1)
    verdict = verdict_of(store, read_file(path))
    assert (verdict.broken_sequence, verdict.problem) == (
        1,
        f"record 1 is unkeyed (sha256) and this store's signed legacy boundary says it never "
        f"held any: {REWRITE}",
    )
    verdict = verdict_of(store)  # and with no checkpoint file at all
    assert verdict.broken_sequence == 1
    assert str(verdict.problem).startswith(
        f"record 1 is unkeyed (sha256) and no signed legacy boundary of this store was found: "
        f"{REWRITE} (a store upgraded"
    )

    log.append(store, event(9))  # the next record does not make the rewrite a legacy prefix
    assert len(read_file(path)) == 1
    assert verdict_of(store, read_file(path)).broken_sequence == 1


def test_a_purge_may_remove_the_legacy_prefix(upgraded: tuple[Store, AuditLog, Path]) -> None:
    store, log, path = upgraded
    log.append(store, event(10))  # records 4 (boundary) and 5
    result = log.purge(
        store,
        before=T0 + timedelta(minutes=5),  # the unkeyed records 1..3
        now=T0 + timedelta(days=400),
        retention_days=365,
        actor="cli:ops",
    )
    assert (result.purged, result.record.sequence) == (3, 6)
    assert {r.scheme for r in chain_of(store)} == {"hmac-sha256"}
    verdict = verdict_of(store, read_file(path))
    assert (verdict.intact, verdict.head_sequence, verdict.legacy_through) == (True, 6, 3)
    assert verdict_of(store).intact  # no unkeyed record is left to accept


def test_checkpoints_of_another_store_in_a_shared_file_are_set_aside_not_breaks(
    store: Store, tmp_path: Path
) -> None:
    shared = tmp_path / "shared" / "checkpoints.jsonl"
    other = Store.open(f"sqlite:///{tmp_path / 'other' / 'shiprisk.db'}")
    try:
        other_log = AuditLog(KEY, shared)
        for minute in range(8):
            other_log.append(other, event(minute))
        checkpointed(other, other_log, shared)  # vouches for its record 8
        other_id = identity_of(other)
    finally:
        other.close()
    assert other_id is not None and other_id != identity_of(store)

    log = AuditLog(KEY, shared)
    for minute in range(5):  # its first record declares nothing into the other store's file
        log.append(store, event(minute))
    assert [c.store_id for _, c in read_file(shared)] == [other_id, other_id]
    verdict = verdict_of(store, read_file(shared))
    assert (verdict.intact, verdict.checkpoints, verdict.vouched_sequence) == (True, 0, None)
    assert verdict.foreign_checkpoints == ((other_id, 2),)

    made, _ = log.checkpoint(store, now=T0 + timedelta(hours=2), actor="cli:ops")
    verdict = verdict_of(store, [*read_file(shared), ("own copy", made)])
    assert (verdict.intact, verdict.checkpoints, verdict.vouched_sequence) == (True, 2, 5)


def test_a_changed_store_id_makes_its_checkpoints_foreign_and_its_checkpoint_records_break(
    store: Store, tmp_path: Path
) -> None:
    log = filled(store)
    path = tmp_path / "checkpoints.jsonl"
    made, record = checkpointed(store, log, path)
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE store_identity SET store_id = :id"), {"id": "f" * 32})
    verdict = verdict_of(store, read_file(path))
    assert verdict.foreign_checkpoints == ((made.store_id, 1),)
    assert (verdict.broken_sequence, verdict.problem) == (
        6,
        f"checkpoint record 6 was signed for store {made.store_id}, but this store is "
        f"{'f' * 32}: the store's id was changed (or the record was copied from another store)",
    )
    with store.engine.begin() as connection:
        connection.execute(text("DELETE FROM store_identity"))
    verdict = verdict_of(store, read_file(path))
    assert verdict.broken_sequence == record.sequence
    assert "but this store has no id" in str(verdict.problem)


def test_an_operator_declares_a_lost_boundary_again_as_a_recorded_trust_decision(
    store_url: str,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHIPRISK_DATABASE_URL", store_url)
    monkeypatch.setenv("SHIPRISK_DATA_DIR", str(tmp_path / "data"))
    upgraded_store(store_url).close()
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args))
        return result.exit_code, " ".join(result.output.split())

    assert invoke("keys", "create", "--role", "admin", "--name", "ops")[0] == 0  # records 4, 5
    kept = tmp_path / "data" / "audit-checkpoints.jsonl"
    assert [json.loads(line)["legacy_through"] for line in kept.read_text().splitlines()] == [3]
    assert invoke("audit", "verify")[0] == 0

    kept.unlink()  # the boundary line is lost
    code, output = invoke("audit", "verify")
    assert code == 1
    assert output.startswith(
        "error: consultation log broken at record 1: record 1 is unkeyed (sha256) and no "
        "signed legacy boundary of this store was found"
    )
    code, output = invoke("audit", "checkpoint")
    assert (code, output[:60]) == (
        1,
        "error: not checkpointed: consultation log broken at record 1",
    )
    code, output = invoke("audit", "checkpoint", "--legacy-through", "4")
    assert (code, output) == (
        2,
        "error: record 4 is keyed: a legacy boundary names the last record written in the "
        "unkeyed scheme (sha256)",
    )
    code, output = invoke("audit", "checkpoint", "--legacy-through", "2")
    assert code == 1
    assert output.startswith(
        "error: not checkpointed: consultation log broken at record 3: record 3 is unkeyed"
    )
    assert not kept.exists()

    code, output = invoke("audit", "checkpoint", "--legacy-through", "3")
    assert code == 0, output
    assert output.startswith(
        "legacy boundary: unkeyed records accepted through record 3, declared by cli:"
    )
    boundary, checkpoint = (json.loads(line) for line in kept.read_text().splitlines())
    assert (boundary["legacy_through"], checkpoint["head_sequence"]) == (3, 6)
    store = Store.open(store_url)
    try:
        declared = chain_of(store)[5]
        assert (declared.event.route, declared.event.key_id) == ("audit legacy boundary", "cli")
        assert dict(declared.event.detail)["declared"] == BY_OPERATOR
    finally:
        store.close()
    code, output = invoke("audit", "verify")
    assert code == 0, output
    assert "unkeyed records accepted through record 3 (the signed legacy boundary" in output
