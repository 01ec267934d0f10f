"""The consultation log as a hash chain: append-only records whose tampering can be proven.

Each record's hash is SHA-256 over its canonical JSON (every field but the hash, keys sorted,
no spaces) followed by the previous record's hash; the first record follows ``GENESIS``. So
editing a record breaks its own hash, and deleting, inserting or reordering records breaks
the link of the record after. `verify_chain` walks the records in sequence order and names
the first broken one.

Records are only removed by `shiprisk audit purge`, which first appends a purge record
carrying the sequence number and hash of the last record it removes (its anchor): the
remaining chain then starts at a record whose link that (itself chained) anchor vouches for.
Cutting records off the end cannot be seen from inside the store; `verify_chain` returns the
head so that it can be compared with a copy kept elsewhere.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
PURGE_ACTION = "audit purge"  # the `route` of a purge's own record
ANCHOR_SEQUENCE = "purged_through_sequence"
ANCHOR_HASH = "purged_through_hash"


@dataclass(frozen=True)
class AuditEvent:
    """What happened, as the consultation log records it (before it is chained).

    Attributes:
        recorded_at: when (UTC).
        key_id, key_name, role: who — the API key, or ``cli`` and the operating-system
            user for commands run on the server.
        route: what — ``METHOD /template`` of the request, or the command.
        declaration_ids: declarations named in the request or returned by it.
        justification: the caller's stated reason (``X-Justification``), when given.
        model_version: the model that answered, when one did.
        status: the HTTP status sent (commands: 0 for success).
        detail: small structured facts: query filters, office, purge bounds. Never
            declaration contents.
    """

    recorded_at: datetime
    key_id: str
    key_name: str
    role: str
    route: str
    declaration_ids: tuple[str, ...] = ()
    justification: str | None = None
    model_version: str | None = None
    status: int = 0
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditRecord:
    """An event at its place in the chain: sequence number, link and own hash."""

    sequence: int
    event: AuditEvent
    previous_hash: str
    record_hash: str


def _timestamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_json(sequence: int, event: AuditEvent) -> str:
    """The text that is hashed: every field of the record but the hashes, keys sorted."""
    # Field by field, not dataclasses.asdict: that deep-copies every value, on every request.
    body = {item.name: getattr(event, item.name) for item in fields(event)}
    body["recorded_at"] = _timestamp(event.recorded_at)
    body["declaration_ids"] = list(event.declaration_ids)
    body["detail"] = dict(event.detail)
    body["sequence"] = sequence
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(sequence: int, event: AuditEvent, previous_hash: str) -> str:
    """SHA-256 (hex) of the canonical JSON followed by the previous record's hash."""
    text = canonical_json(sequence, event) + previous_hash
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chained(event: AuditEvent, previous: AuditRecord | None) -> AuditRecord:
    """The record that appends ``event`` after ``previous`` (None: the first record)."""
    sequence = 1 if previous is None else previous.sequence + 1
    link = GENESIS if previous is None else previous.record_hash
    return AuditRecord(sequence, event, link, record_hash(sequence, event, link))


@dataclass(frozen=True)
class ChainVerdict:
    """The result of checking a chain: intact, or the first broken record and why."""

    checked: int
    head_sequence: int | None
    head_hash: str | None
    broken_sequence: int | None = None
    problem: str | None = None

    @property
    def intact(self) -> bool:
        """Whether every record checked out."""
        return self.problem is None


def _anchors(records: list[AuditRecord]) -> dict[int, str]:
    """Purge anchors: last purged sequence -> its hash, from purge records still present."""
    anchors: dict[int, str] = {}
    for record in records:
        if record.event.route != PURGE_ACTION:
            continue
        sequence = record.event.detail.get(ANCHOR_SEQUENCE)
        digest = record.event.detail.get(ANCHOR_HASH)
        if isinstance(sequence, int) and isinstance(digest, str):
            anchors[sequence] = digest
    return anchors


def verify_chain(records: Iterable[AuditRecord]) -> ChainVerdict:
    """Check every hash and link, in sequence order; name the first broken record.

    The records are taken in the order given (the store reads them by sequence number).
    """
    ordered = list(records)
    anchors = _anchors(ordered)
    previous: AuditRecord | None = None
    for record in ordered:
        if previous is None:
            expected_link = GENESIS if record.sequence == 1 else anchors.get(record.sequence - 1)
            if expected_link is None or record.previous_hash != expected_link:
                return _broken(
                    ordered,
                    record,
                    f"record {record.sequence} is the first, but records before it were removed "
                    "without an audited purge (or its link was changed)",
                )
        else:
            if record.sequence != previous.sequence + 1:
                expected = previous.sequence + 1
                if record.sequence > expected:
                    problem = (
                        f"record {expected} is missing after record {previous.sequence}: "
                        "deleted or moved"
                    )
                else:
                    problem = (
                        f"record {record.sequence} comes after record {previous.sequence}: "
                        "records were reordered or duplicated"
                    )
                return _broken(ordered, record, problem, sequence=expected)
            if record.previous_hash != previous.record_hash:
                return _broken(
                    ordered,
                    record,
                    f"record {record.sequence} does not link to record {previous.sequence}: "
                    "records were deleted, inserted or reordered",
                )
        if record_hash(record.sequence, record.event, record.previous_hash) != record.record_hash:
            return _broken(
                ordered,
                record,
                f"record {record.sequence} does not match its hash: it was edited",
            )
        previous = record
    return ChainVerdict(
        checked=len(ordered),
        head_sequence=None if previous is None else previous.sequence,
        head_hash=None if previous is None else previous.record_hash,
    )


def _broken(
    ordered: list[AuditRecord], record: AuditRecord, problem: str, *, sequence: int | None = None
) -> ChainVerdict:
    head = ordered[-1]
    return ChainVerdict(
        checked=len(ordered),
        head_sequence=head.sequence,
        head_hash=head.record_hash,
        broken_sequence=record.sequence if sequence is None else sequence,
        problem=problem,
    )


def purge_event(
    *,
    recorded_at: datetime,
    actor: str,
    before: datetime,
    last_purged: AuditRecord | None,
    purged_count: int,
) -> AuditEvent:
    """The record a purge appends before it removes records up to ``last_purged``.

    A purge that finds nothing to remove is recorded too, without an anchor.
    """
    detail: dict[str, Any] = {"before": _timestamp(before), "purged_count": purged_count}
    if last_purged is not None:
        detail[ANCHOR_SEQUENCE] = last_purged.sequence
        detail[ANCHOR_HASH] = last_purged.record_hash
    return AuditEvent(
        recorded_at=recorded_at,
        key_id="cli",
        key_name=actor,
        role="admin",
        route=PURGE_ACTION,
        detail=detail,
    )
