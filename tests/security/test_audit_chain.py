"""The keyed hash chain: hand-computed hashes, and every kind of tampering named at its record."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from serving.audit.chain import (
    GENESIS,
    LEGACY_SCHEME,
    AuditEvent,
    AuditKey,
    AuditRecord,
    canonical_json,
    chained,
    keyed_json,
    purge_event,
    record_hash,
    unkeyed_hash,
    verify_chain,
)

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
SECRET = b"k" * 32
KEY = AuditKey(SECRET)
EDITED = (
    "does not match its hash: it was edited (or the audit key is not the one it was written with)"
)


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
            chained(KEY, event(minute, ids=(f"D{minute}",)), records[-1] if records else None)
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
        unkeyed_hash(1, event(0), GENESIS) == hashlib.sha256((text + "0" * 64).encode()).hexdigest()
    )


def test_the_keyed_hash_is_an_hmac_under_a_derived_key_and_covers_the_links() -> None:
    text = keyed_json(1, event(0, ids=("D2", "D1", "D2")), ["D2", "D1"])
    assert text == (
        '{"declaration_ids":["D2","D1","D2"],"detail":{},"justification":"case 7",'
        '"key_id":"0123456789ab","key_name":"desk 3","links":["D1","D2"],'
        '"model_version":"shiprisk/4","recorded_at":"2025-03-01T08:00:00.000000+00:00",'
        '"role":"officer","route":"GET /v1/declarations/{declaration_id}","sequence":1,'
        '"status":200}'
    )
    record_key = hmac.digest(SECRET, b"shiprisk audit record hash v1", "sha256")
    expected = hmac.new(record_key, (text + GENESIS).encode(), "sha256").hexdigest()
    named = event(0, ids=("D2", "D1", "D2"))
    assert record_hash(KEY, 1, named, GENESIS, ["D2", "D1"]) == expected
    assert record_hash(KEY, 1, named, GENESIS) == expected  # links default to the event's ids
    assert record_hash(KEY, 1, named, GENESIS, ["D1"]) != expected
    assert record_hash(AuditKey(b"x" * 32), 1, named, GENESIS) != expected
    assert "k" * 32 not in repr(KEY)


def test_records_link_to_the_one_before() -> None:
    first, second = chain(2)
    assert (first.sequence, first.previous_hash) == (1, GENESIS)
    assert (second.sequence, second.previous_hash) == (2, first.record_hash)


def test_an_intact_chain_verifies_and_reports_its_head() -> None:
    records = chain(5)
    verdict = verify_chain(records, KEY)
    assert verdict.intact
    assert (verdict.checked, verdict.head_sequence, verdict.head_hash) == (
        5,
        5,
        records[-1].record_hash,
    )
    assert verify_chain([], KEY).intact


def test_an_edited_record_is_named() -> None:
    records = chain(5)
    edited = dataclasses.replace(records[2].event, justification="something else")
    records[2] = dataclasses.replace(records[2], event=edited)
    verdict = verify_chain(records, KEY)
    assert (verdict.broken_sequence, verdict.problem) == (
        3,
        f"record 3 {EDITED}",
    )


def test_an_edited_status_or_time_is_named() -> None:
    records = chain(3)
    records[1] = dataclasses.replace(
        records[1], event=dataclasses.replace(records[1].event, status=403)
    )
    assert verify_chain(records, KEY).broken_sequence == 2
    records = chain(3)
    later = records[0].event.recorded_at + timedelta(microseconds=1)
    records[0] = dataclasses.replace(
        records[0], event=dataclasses.replace(records[0].event, recorded_at=later)
    )
    assert verify_chain(records, KEY).broken_sequence == 1


def test_a_deleted_record_is_named() -> None:
    records = chain(5)
    del records[2]
    verdict = verify_chain(records, KEY)
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
            record_hash(KEY, index + 1, moved.event, moved.previous_hash),
        )
    verdict = verify_chain(records, KEY)
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
    verdict = verify_chain(records, KEY)
    assert (verdict.broken_sequence, verdict.problem) == (
        2,
        "record 2 does not link to record 1: records were deleted, inserted or reordered",
    )


def test_records_read_out_of_order_are_named() -> None:
    records = chain(4)
    records[1], records[2] = records[2], records[1]
    verdict = verify_chain(records, KEY)
    assert (verdict.broken_sequence, verdict.problem) == (
        2,
        "record 2 is missing after record 1: deleted or moved",
    )


def test_deleting_the_oldest_records_without_a_purge_is_named() -> None:
    records = chain(4)[2:]
    verdict = verify_chain(records, KEY)
    assert verdict.broken_sequence == 3
    assert verdict.problem == (
        "record 3 is the first, but records before it were removed without an audited purge "
        "(or its link was changed)"
    )


def test_an_audited_purge_vouches_for_the_new_first_record() -> None:
    records = chain(4)
    purge = chained(
        KEY,
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
    assert verify_chain(remaining, KEY).intact
    # The anchor is inside the chained purge record: changing it breaks that record's hash.
    forged_detail = {**purge.event.detail, "purged_through_sequence": 1}
    forged = dataclasses.replace(
        purge, event=dataclasses.replace(purge.event, detail=forged_detail)
    )
    verdict = verify_chain([*records[2:], forged], KEY)
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


def rewritten_from(
    records: list[AuditRecord],
    start: int,
    hashing: Callable[[AuditRecord, str], str],
    **change: Any,
) -> list[AuditRecord]:
    """The chain with record ``start`` (index) edited and every hash from there recomputed."""
    out = records[:start]
    for index in range(start, len(records)):
        record = records[index]
        event_now = dataclasses.replace(record.event, **change) if index == start else record.event
        link = out[-1].record_hash if out else GENESIS
        moved = dataclasses.replace(record, event=event_now, previous_hash=link)
        out.append(dataclasses.replace(moved, record_hash=hashing(moved, link)))
    return out


def test_an_edit_rehashed_with_plain_sha256_is_named() -> None:
    records = chain(5)
    forged = rewritten_from(
        records, 2, lambda r, link: unkeyed_hash(r.sequence, r.event, link), justification="x"
    )
    verdict = verify_chain(forged, KEY)
    assert (verdict.broken_sequence, verdict.problem) == (3, f"record 3 {EDITED}")


def test_an_edit_rehashed_with_our_own_functions_but_another_key_is_named() -> None:
    other = AuditKey(b"a guess at the audit key, 32+ bytes long")
    records = chain(5)
    forged = rewritten_from(
        records, 2, lambda r, link: record_hash(other, r.sequence, r.event, link), status=404
    )
    verdict = verify_chain(forged, KEY)
    assert (verdict.broken_sequence, verdict.problem) == (3, f"record 3 {EDITED}")
    assert verify_chain(forged, other).broken_sequence == 1  # and the real records fail it


def test_an_edit_rehashed_and_relabelled_unkeyed_is_named_as_a_downgrade() -> None:
    records = chain(5)
    forged = rewritten_from(
        records, 2, lambda r, link: unkeyed_hash(r.sequence, r.event, link), justification="x"
    )
    forged = [*forged[:2], *(dataclasses.replace(r, scheme=LEGACY_SCHEME) for r in forged[2:])]
    verdict = verify_chain(forged, KEY)
    assert (verdict.broken_sequence, verdict.problem) == (
        3,
        "record 3 is unkeyed (sha256) but follows keyed record 1: the chain was downgraded "
        "(rewritten without the audit key)",
    )


def test_links_removed_from_the_index_are_named_at_their_record() -> None:
    records = [dataclasses.replace(r, links=r.event.declaration_ids) for r in chain(4)]
    assert verify_chain(records, KEY).intact
    records[1] = dataclasses.replace(records[1], links=())
    verdict = verify_chain(records, KEY)
    assert (verdict.broken_sequence, verdict.problem) == (
        2,
        "record 2's declaration links (audit_declarations) were changed: index rows deleted "
        "or added",
    )
    records = [dataclasses.replace(r, links=r.event.declaration_ids) for r in chain(4)]
    records[2] = dataclasses.replace(records[2], links=("D2", "D-other"))
    assert verify_chain(records, KEY).broken_sequence == 3


def legacy_chain(n: int) -> list[AuditRecord]:
    """Records as the unkeyed scheme wrote them before migration 0003."""
    records: list[AuditRecord] = []
    for minute in range(n):
        link = records[-1].record_hash if records else GENESIS
        happened = event(minute)
        digest = unkeyed_hash(minute + 1, happened, link)
        records.append(AuditRecord(minute + 1, happened, link, digest, LEGACY_SCHEME))
    return records


def test_an_unkeyed_chain_verifies_up_to_its_boundary_and_keyed_records_may_follow_it() -> None:
    records = legacy_chain(3)
    assert verify_chain(records, KEY, legacy_through=3).intact
    records.append(chained(KEY, event(9), records[-1]))
    records.append(chained(KEY, event(10), records[-1]))
    verdict = verify_chain(records, KEY, legacy_through=3)
    assert (verdict.intact, verdict.head_sequence) == (True, 5)
    # An unkeyed record is still checked: editing one is named.
    edited = list(records)
    edited[1] = dataclasses.replace(
        records[1], event=dataclasses.replace(records[1].event, status=500)
    )
    verdict = verify_chain(edited, KEY, legacy_through=3)
    assert verdict.problem == "record 2 does not match its hash: it was edited"


def test_unkeyed_records_without_a_boundary_or_beyond_it_are_an_unkeyed_rewrite() -> None:
    records = legacy_chain(3)
    verdict = verify_chain(records, KEY)
    assert verdict.broken_sequence == 1
    assert verdict.problem is not None
    assert verdict.problem.startswith(
        "record 1 is unkeyed (sha256) and no signed legacy boundary of this store was found: "
        "an unkeyed rewrite"
    )
    verdict = verify_chain(records, KEY, legacy_through=2)
    assert (verdict.broken_sequence, verdict.problem) == (
        3,
        "record 3 is unkeyed (sha256) and this store's signed legacy boundary accepts them "
        "through record 2: an unkeyed rewrite (the chain was rewritten without the audit key)",
    )
    verdict = verify_chain(records, KEY, legacy_through=0)
    assert (verdict.broken_sequence, verdict.problem) == (
        1,
        "record 1 is unkeyed (sha256) and this store's signed legacy boundary says it never "
        "held any: an unkeyed rewrite (the chain was rewritten without the audit key)",
    )


def test_an_unknown_scheme_is_named() -> None:
    records = chain(2)
    records[1] = dataclasses.replace(records[1], scheme="md5")
    assert verify_chain(records, KEY).problem == "record 2 names an unknown hash scheme 'md5'"
