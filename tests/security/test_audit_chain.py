"""The hash chain: hand-computed hashes, and every kind of tampering named at its record."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from serving.audit.chain import (
    GENESIS,
    AuditEvent,
    AuditRecord,
    canonical_json,
    chained,
    purge_event,
    record_hash,
    verify_chain,
)

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def event(minute: int, *, ids: tuple[str, ...] = ("D1",), status: int = 200) -> AuditEvent:
    return AuditEvent(
        recorded_at=T0 + timedelta(minutes=minute),
        key_id="0123456789ab",
        key_name="desk 3",
        role="officer",
        route="GET /v1/declarations/{declaration_id}",
        declaration_ids=ids,
        justification="case 7",
        model_version="shiprisk/4",
        status=status,
        detail={},
    )


def chain(n: int) -> list[AuditRecord]:
    records: list[AuditRecord] = []
    for minute in range(n):
        records.append(
            chained(event(minute, ids=(f"D{minute}",)), records[-1] if records else None)
        )
    return records


def test_canonical_json_and_hash_are_as_written_by_hand() -> None:
    text = canonical_json(1, event(0))
    assert text == (
        '{"declaration_ids":["D1"],"detail":{},"justification":"case 7",'
        '"key_id":"0123456789ab","key_name":"desk 3","model_version":"shiprisk/4",'
        '"recorded_at":"2025-03-01T08:00:00.000000+00:00","role":"officer",'
        '"route":"GET /v1/declarations/{declaration_id}","sequence":1,"status":200}'
    )
    assert (
        record_hash(1, event(0), GENESIS) == hashlib.sha256((text + "0" * 64).encode()).hexdigest()
    )


def test_records_link_to_the_one_before() -> None:
    first, second = chain(2)
    assert (first.sequence, first.previous_hash) == (1, GENESIS)
    assert (second.sequence, second.previous_hash) == (2, first.record_hash)


def test_an_intact_chain_verifies_and_reports_its_head() -> None:
    records = chain(5)
    verdict = verify_chain(records)
    assert verdict.intact
    assert (verdict.checked, verdict.head_sequence, verdict.head_hash) == (
        5,
        5,
        records[-1].record_hash,
    )
    assert verify_chain([]).intact


def test_an_edited_record_is_named() -> None:
    records = chain(5)
    edited = dataclasses.replace(records[2].event, justification="something else")
    records[2] = dataclasses.replace(records[2], event=edited)
    verdict = verify_chain(records)
    assert (verdict.broken_sequence, verdict.problem) == (
        3,
        "record 3 does not match its hash: it was edited",
    )


def test_an_edited_status_or_time_is_named() -> None:
    records = chain(3)
    records[1] = dataclasses.replace(
        records[1], event=dataclasses.replace(records[1].event, status=403)
    )
    assert verify_chain(records).broken_sequence == 2
    records = chain(3)
    later = records[0].event.recorded_at + timedelta(microseconds=1)
    records[0] = dataclasses.replace(
        records[0], event=dataclasses.replace(records[0].event, recorded_at=later)
    )
    assert verify_chain(records).broken_sequence == 1


def test_a_deleted_record_is_named() -> None:
    records = chain(5)
    del records[2]
    verdict = verify_chain(records)
    assert (verdict.broken_sequence, verdict.problem) == (
        3,
        "record 3 is missing after record 2: deleted or moved",
    )


def test_a_deleted_and_renumbered_record_is_named_by_its_broken_link() -> None:
    records = chain(5)
    del records[2]
    # Renumber the rest and recompute their own hashes: the links still give it away.
    for index in range(2, 4):
        moved = records[index]
        records[index] = AuditRecord(
            index + 1,
            moved.event,
            moved.previous_hash,
            record_hash(index + 1, moved.event, moved.previous_hash),
        )
    verdict = verify_chain(records)
    assert (verdict.broken_sequence, verdict.problem) == (
        3,
        "record 3 does not link to record 2: records were deleted, inserted or reordered",
    )


def test_reordered_records_are_named() -> None:
    records = chain(5)
    # Swap the contents of records 2 and 3 but keep their sequence numbers.
    second, third = records[1], records[2]
    records[1] = dataclasses.replace(third, sequence=2)
    records[2] = dataclasses.replace(second, sequence=3)
    verdict = verify_chain(records)
    assert (verdict.broken_sequence, verdict.problem) == (
        2,
        "record 2 does not link to record 1: records were deleted, inserted or reordered",
    )


def test_records_read_out_of_order_are_named() -> None:
    records = chain(4)
    records[1], records[2] = records[2], records[1]
    verdict = verify_chain(records)
    assert (verdict.broken_sequence, verdict.problem) == (
        2,
        "record 2 is missing after record 1: deleted or moved",
    )


def test_deleting_the_oldest_records_without_a_purge_is_named() -> None:
    records = chain(4)[2:]
    verdict = verify_chain(records)
    assert verdict.broken_sequence == 3
    assert verdict.problem == (
        "record 3 is the first, but records before it were removed without an audited purge "
        "(or its link was changed)"
    )


def test_an_audited_purge_vouches_for_the_new_first_record() -> None:
    records = chain(4)
    purge = chained(
        purge_event(
            recorded_at=T0 + timedelta(days=1),
            actor="cli:ops",
            before=T0 + timedelta(minutes=2),
            last_purged=records[1],
            purged_count=2,
        ),
        records[-1],
    )
    remaining = [*records[2:], purge]
    assert verify_chain(remaining).intact
    # The anchor is inside the chained purge record: changing it breaks that record's hash.
    forged_detail = {**purge.event.detail, "purged_through_sequence": 1}
    forged = dataclasses.replace(
        purge, event=dataclasses.replace(purge.event, detail=forged_detail)
    )
    verdict = verify_chain([*records[2:], forged])
    assert verdict.broken_sequence == 3  # the anchor no longer vouches for record 3


def test_a_purge_with_nothing_to_remove_has_no_anchor() -> None:
    purge = purge_event(
        recorded_at=T0, actor="cli:ops", before=T0, last_purged=None, purged_count=0
    )
    assert dict(purge.detail) == {"before": "2025-03-01T08:00:00.000000+00:00", "purged_count": 0}


def test_naive_times_are_refused() -> None:
    naive = dataclasses.replace(event(0), recorded_at=datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        canonical_json(1, naive)
