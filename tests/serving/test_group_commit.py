"""Group commit: concurrent writes share one transaction, each acknowledged after its commit.

Also: the consultation records of concurrent requests still form one sequential chain, and the
scores kept from the scoring queue's canonical declarations are those a second validation
would give.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from features.records import canonical_records
from features.validation import validate_declarations
from serving.audit.chain import AuditEvent, AuditKey, verify_chain
from serving.audit.reading import read_chain
from serving.audit.records import AuditLog
from serving.scoring.queue import CanonicalScores, ScoringQueue
from serving.scoring.schemas import declarations_frame
from serving.scoring.service import store_scores
from serving.store import scores
from serving.store.database import Store
from serving.store.group_commit import GroupCommit, group_commit
from tests.serving.store_backends import operational_store, store_url  # noqa: F401
from tests.serving.test_scoring_queue import RecordingBundle, declarations, submit_while_busy

T0 = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)
KEY = AuditKey(b"test audit key, at least 32 bytes")


@pytest.fixture
def store(operational_store: Store) -> Store:  # noqa: F811
    """The open, empty store of each backend, by the name these tests use."""
    return operational_store


def insert_note(session: Session, sequence: int) -> int:
    """A write: one audit-index row (the table with the fewest required columns)."""
    session.execute(
        text("INSERT INTO audit_declarations (sequence, declaration_id) VALUES (:s, :d)"),
        {"s": sequence, "d": f"D{sequence}"},
    )
    return sequence


def committed_ids(store: Store) -> list[str]:
    """What another connection sees: only committed rows."""
    with store.engine.connect() as connection:
        return sorted(
            connection.scalars(text("SELECT declaration_id FROM audit_declarations")).all()
        )


def with_parent_records(store: Store, count: int) -> None:
    """Records 1..count, so that index rows may point at them (foreign key)."""
    log = AuditLog(KEY)
    for minute in range(count):
        log.append(store, event(minute))


def event(minute: int, ids: tuple[str, ...] = ()) -> AuditEvent:
    return AuditEvent(
        recorded_at=T0 + timedelta(minutes=minute),
        key_id="0123456789ab",
        key_name="desk 4",
        role="officer",
        route="POST /v1/scores",
        declaration_ids=ids,
        status=200,
    )


def while_first_write_runs(
    writer: GroupCommit, first: Any, others: list[Any]
) -> tuple[list[Any], list[BaseException | None]]:
    """Submit ``first`` (which must block until released), then ``others`` while it runs."""
    results: list[Any] = [None] * (1 + len(others))
    errors: list[BaseException | None] = [None] * (1 + len(others))
    started, release = threading.Event(), threading.Event()

    def blocking_first(session: Session) -> Any:
        started.set()
        release.wait(timeout=30)
        return first(session)

    def send(k: int, write: Any) -> None:
        try:
            results[k] = writer.submit(write)
        except BaseException as error:  # kept for the assertion
            errors[k] = error

    threads = [threading.Thread(target=send, args=(0, blocking_first))]
    threads[0].start()
    assert started.wait(timeout=30)
    for k, write in enumerate(others, start=1):
        threads.append(threading.Thread(target=send, args=(k, write)))
        threads[-1].start()
    while len(writer._pending) < len(others):
        time.sleep(0.01)
    release.set()
    for thread in threads:
        thread.join(timeout=30)
    return results, errors


def test_writes_waiting_for_a_commit_share_the_next_one(store: Store) -> None:
    with_parent_records(store, 4)
    writer = GroupCommit(store.sessions)
    results, errors = while_first_write_runs(
        writer,
        lambda s: insert_note(s, 1),
        [lambda s, k=k: insert_note(s, k) for k in (2, 3, 4)],
    )
    assert (results, errors) == ([1, 2, 3, 4], [None] * 4)
    assert (writer.commits, writer.writes) == (2, 4)  # the first alone, then three together
    assert committed_ids(store) == ["D1", "D2", "D3", "D4"]


def test_a_failing_write_fails_alone_and_the_others_are_committed(store: Store) -> None:
    with_parent_records(store, 4)
    writer = GroupCommit(store.sessions)

    def duplicate_key(session: Session) -> int:
        session.execute(
            text("INSERT INTO audit_declarations (id, sequence, declaration_id) VALUES (1, 1, 'X')")
        )
        return 0

    results, errors = while_first_write_runs(
        writer,
        lambda s: insert_note(s, 1),
        [lambda s: insert_note(s, 2), duplicate_key, lambda s: insert_note(s, 4)],
    )
    assert results == [1, 2, None, 4]
    assert [type(e).__name__ if e else None for e in errors] == [
        None,
        None,
        "IntegrityError",
        None,
    ]
    # The shared transaction was rolled back, then each write ran alone: 1 + 2 commits.
    assert (writer.commits, writer.writes) == (3, 3)
    assert committed_ids(store) == ["D1", "D2", "D4"]


def test_submit_returns_only_after_the_write_is_committed(store: Store) -> None:
    with_parent_records(store, 1)
    seen_inside: list[list[str]] = []

    def write_and_look(session: Session) -> int:
        insert_note(session, 1)
        seen_inside.append(committed_ids(store))  # another connection: not yet committed
        return 1

    assert group_commit(store).submit(write_and_look) == 1
    assert seen_inside == [[]]
    assert committed_ids(store) == ["D1"]


def test_one_writer_per_open_store(store: Store, store_url: str) -> None:  # noqa: F811
    other = Store.open(store_url, migrate=False)
    try:
        assert group_commit(store) is group_commit(store)
        assert group_commit(other) is not group_commit(store)
    finally:
        other.close()


def test_concurrent_appends_form_one_sequential_chain(store: Store) -> None:
    log = AuditLog(KEY)
    written: list[int] = []
    lock = threading.Lock()

    def append(minute: int) -> None:
        record = log.append(store, event(minute, ids=(f"D{minute}", f"D{minute}")))
        with lock:
            written.append(record.sequence)

    threads = [threading.Thread(target=append, args=(m,)) for m in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(written) == list(range(1, 13))
    with store.sessions() as session:
        chain = list(read_chain(session))
    assert [r.sequence for r in chain] == list(range(1, 13))
    verdict = verify_chain(chain, KEY)
    assert (verdict.intact, verdict.checked, verdict.head_sequence) == (True, 12, 12)
    assert committed_ids(store) == sorted(f"D{m}" for m in range(12))  # duplicates once


def test_scores_batched_by_the_queue_keep_what_a_second_validation_gives(store: Store) -> None:
    scoring = ScoringQueue(num_threads=1, max_rows=1000)
    scoring.start()
    try:
        payloads = [
            declarations("A"),
            declarations("B1", "B2", office_id="MK-SKP"),
            declarations("C", packages=7),
        ]
        requests = [(canonical_records([dict(d) for d in payload]), 1) for payload in payloads]
        assert all(request is not None for request, _ in requests)
        answers = submit_while_busy(scoring, RecordingBundle(), requests)  # type: ignore[arg-type]
    finally:
        scoring.stop()
    assert all(isinstance(answer, CanonicalScores) for answer in answers)
    at = T0
    for payload, answer in zip(payloads, answers, strict=True):
        from_queue = scores.score_rows(
            answer.declarations.rows, answer, model_name="shiprisk", model_version="1", scored_at=at
        )
        revalidated = scores.score_rows(
            validate_declarations(declarations_frame(payload), source="request"),
            list(answer),
            model_name="shiprisk",
            model_version="1",
            scored_at=at,
        )
        assert from_queue == revalidated
        stored = store_scores(store, answer, model_name="shiprisk", model_version="1")
        assert stored == len(payload)
    with store.engine.connect() as connection:
        kept = connection.execute(
            text("SELECT declaration_id, office_id FROM scored_declarations ORDER BY id")
        ).all()
    assert [tuple(row) for row in kept] == [
        ("A", "MK-TAB"),
        ("B1", "MK-SKP"),
        ("B2", "MK-SKP"),
        ("C", "MK-TAB"),
    ]


def test_a_leader_gathers_as_many_writes_as_recent_groups_had(store: Store) -> None:
    with_parent_records(store, 4)
    writer = GroupCommit(store.sessions, max_wait_seconds=30)
    # The first write leads alone (nothing recent says more are coming); the two submitted
    # while it runs commit together: the writer learns that requests write in twos.
    _, errors = while_first_write_runs(
        writer,
        lambda s: insert_note(s, 1),
        [lambda s: insert_note(s, 2), lambda s: insert_note(s, 3)],
    )
    assert errors == [None, None, None]
    assert writer.commits == 2

    # Now a lone write waits for a second one (here 0.3 s later) and they share one commit.
    started = time.perf_counter()
    leader = threading.Thread(target=writer.submit, args=(lambda s: insert_note(s, 4),))
    leader.start()
    time.sleep(0.3)
    assert writer.commits == 2  # still gathering
    with_parent_records(store, 1)  # record 5, outside the writer
    assert writer.submit(lambda s: insert_note(s, 5)) == 5
    leader.join(timeout=30)
    assert writer.commits == 3
    assert time.perf_counter() - started < 10
    assert committed_ids(store) == ["D1", "D2", "D3", "D4", "D5"]
