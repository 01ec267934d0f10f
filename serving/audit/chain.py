"""The consultation log as a keyed hash chain: records whose tampering can be proven.

Each record's hash is HMAC-SHA256, under a key derived from the audit key (a secret the
database does not hold, `serving.access.settings.AccessSettings.audit_key`), of its
canonical JSON (every field but the hash, keys sorted, no spaces, plus the declaration ids
its index rows link it to) followed by the previous record's hash; the first record follows
``GENESIS``. So editing a record breaks its own hash, deleting, inserting or reordering
records breaks the link of the record after, and deleting or adding rows of the declaration
index (``audit_declarations``) breaks the record they point to. Without the key, nobody can
compute a hash that verifies: not even someone who can rewrite the whole table.

Records written before the keyed scheme (Alembic migration 0003) carry ``LEGACY_SCHEME``:
plain SHA-256 of the canonical JSON and the previous hash, declaration links not covered.
Anyone can compute those, so they verify only up to the store's signed legacy boundary,
kept outside the database (``legacy_through``, `serving.audit.boundary`): an unkeyed record
beyond it, or any unkeyed record when there is none (a store that never held unkeyed
records), is an unkeyed rewrite and is named; so is an unkeyed record after a keyed one (a
downgrade).

Records are only removed by `shiprisk audit purge`, which first appends a purge record
carrying the sequence number and hash of the last record it removes (its anchor): the
remaining chain then starts at a record whose link that (itself chained) anchor vouches for.
Cutting records off the end cannot be seen from inside the store: signed checkpoints kept
elsewhere do that (`serving.audit.checkpoints`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from serving.store.rows import from_row, row_values

GENESIS = "0" * 64
PURGE_ACTION = "audit purge"  # the `route` of a purge's own record
ANCHOR_SEQUENCE = "purged_through_sequence"
ANCHOR_HASH = "purged_through_hash"
LEGACY_SCHEME = "sha256"  # before migration 0003: unkeyed, declaration links not covered
KEYED_SCHEME = "hmac-sha256"  # HMAC under the audit key, declaration links covered
MIN_KEY_BYTES = 32
_RECORD_LABEL = b"shiprisk audit record hash v1"
_CHECKPOINT_LABEL = b"shiprisk audit checkpoint signature v1"
_FINGERPRINT_LABEL = b"shiprisk audit key fingerprint v1"


class AuditKey:
    """The audit key, as the HMAC keys it gives: one for record hashes, one for checkpoints.

    The two are derived with distinct labels, so a record hash can never pass for a checkpoint
    signature. Each is keyed once here; a hash then costs one copy of the keyed state and one
    digest. The fingerprint names the key (in checkpoints) without revealing it.
    """

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_KEY_BYTES:
            raise ValueError(f"the audit key must be at least {MIN_KEY_BYTES} bytes")

        def derived(label: bytes) -> hmac.HMAC:
            return hmac.new(hmac.digest(secret, label, "sha256"), digestmod="sha256")

        self._records = derived(_RECORD_LABEL)
        self._checkpoints = derived(_CHECKPOINT_LABEL)
        self.fingerprint = hmac.digest(secret, _FINGERPRINT_LABEL, "sha256").hex()[:16]

    def __repr__(self) -> str:
        return f"AuditKey(fingerprint={self.fingerprint!r})"

    def record_digest(self, text: str) -> str:
        """HMAC-SHA256 (hex) of a record's text."""
        mac = self._records.copy()
        mac.update(text.encode("utf-8"))
        return mac.hexdigest()

    def signature(self, text: str) -> str:
        """HMAC-SHA256 (hex) of a checkpoint's text."""
        mac = self._checkpoints.copy()
        mac.update(text.encode("utf-8"))
        return mac.hexdigest()


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
        issuer, subject, person: who as a person (migration 0005): the identity provider
            and its subject for a signed-in person, and the display name (or a key's owner).
            Hashed when set; left out of the hashed body when None, so records made before
            these fields existed hash as they did (`PERSON_FIELDS`).
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
    issuer: str | None = None
    subject: str | None = None
    person: str | None = None


# Fields added after records were first written: in the hashed body only when set.
PERSON_FIELDS = ("issuer", "subject", "person")


@dataclass(frozen=True)
class AuditRecord:
    """An event at its place in the chain: sequence number, link, own hash and its scheme.

    ``links`` are the declaration ids the store's index rows point from this record, as read
    back (`serving.audit.reading.read_chain`); None for a record not read from a store, whose
    links are then its event's declaration ids.
    """

    sequence: int
    event: AuditEvent
    previous_hash: str
    record_hash: str
    scheme: str = KEYED_SCHEME
    links: tuple[str, ...] | None = None


def _timestamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def event_values(event: AuditEvent) -> dict[str, Any]:
    """The event's fields by name, declaration ids as a list and detail as a plain dict: what
    its stored row, its API view and its hashed body hold.

    """
    return row_values(event, declaration_ids=list(event.declaration_ids), detail=dict(event.detail))


def event_from_row(row: Any) -> AuditEvent:
    """The event a stored row holds (an ORM object or a Core row of ``audit_records``)."""
    return from_row(
        AuditEvent, row, declaration_ids=tuple(row.declaration_ids), detail=dict(row.detail)
    )


def _body(sequence: int, event: AuditEvent) -> dict[str, Any]:
    body = event_values(event)
    body["recorded_at"] = _timestamp(event.recorded_at)
    body["sequence"] = sequence
    for name in PERSON_FIELDS:
        if body[name] is None:
            del body[name]
    return body


def canonical_json(sequence: int, event: AuditEvent) -> str:
    """The text the unkeyed scheme hashed: every field but the hashes, keys sorted."""
    return json.dumps(
        _body(sequence, event), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def linked_ids(declaration_ids: Iterable[str]) -> list[str]:
    """The declaration links a record's hash covers: each id once, sorted."""
    return sorted(set(declaration_ids))


def keyed_json(sequence: int, event: AuditEvent, links: Iterable[str]) -> str:
    """The text the keyed scheme hashes: the canonical JSON plus the record's links.

    ASCII-escaped, so any string a request carried (a lone surrogate too) can be hashed.
    """
    body = _body(sequence, event)
    body["links"] = linked_ids(links)
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def unkeyed_hash(sequence: int, event: AuditEvent, previous_hash: str) -> str:
    """The legacy scheme: SHA-256 (hex) of the canonical JSON followed by the previous hash."""
    text = canonical_json(sequence, event) + previous_hash
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_hash(
    key: AuditKey,
    sequence: int,
    event: AuditEvent,
    previous_hash: str,
    links: Iterable[str] | None = None,
) -> str:
    """The keyed scheme: HMAC of the keyed JSON followed by the previous record's hash.

    ``links`` default to the event's declaration ids (what the index rows will hold).
    """
    named = event.declaration_ids if links is None else links
    return key.record_digest(keyed_json(sequence, event, named) + previous_hash)


def chained(key: AuditKey, event: AuditEvent, previous: AuditRecord | None) -> AuditRecord:
    """The record that appends ``event`` after ``previous`` (None: the first record)."""
    sequence = 1 if previous is None else previous.sequence + 1
    link = GENESIS if previous is None else previous.record_hash
    return AuditRecord(sequence, event, link, record_hash(key, sequence, event, link))


@dataclass(frozen=True)
class ChainVerdict:
    """The result of checking a chain: intact, or the first broken record and why."""

    checked: int
    head_sequence: int | None
    head_hash: str | None
    broken_sequence: int | None = None
    problem: str | None = None
    checkpoints: int = 0  # checkpoints that held (serving.audit.checkpoints.verify_log)
    vouched_sequence: int | None = None  # the newest record a checkpoint vouches for
    legacy_through: int | None = None  # unkeyed records accepted up to here (signed boundary)
    foreign_checkpoints: tuple[tuple[str, int], ...] = ()  # (other store's id, its lines)

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


def verify_chain(
    records: Iterable[AuditRecord], key: AuditKey, *, legacy_through: int | None = None
) -> ChainVerdict:
    """Check every hash and link, in sequence order; name the first broken record.

    The records are taken in the order given (the store reads them by sequence number). A
    keyed record's hash is recomputed from its links as the store's index gives them, so
    index rows deleted or added break the record they point to. Unkeyed records are accepted
    only up to ``legacy_through``, the sequence number a validly signed legacy boundary
    names (None: no boundary, so no unkeyed record is accepted).
    """
    ordered = list(records)
    anchors = _anchors(ordered)
    previous: AuditRecord | None = None
    first_keyed: int | None = None
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
        mismatch = _own_hash_problem(record, key, first_keyed, legacy_through)
        if mismatch is not None:
            return _broken(ordered, record, mismatch)
        if first_keyed is None and record.scheme == KEYED_SCHEME:
            first_keyed = record.sequence
        previous = record
    return ChainVerdict(
        checked=len(ordered),
        head_sequence=None if previous is None else previous.sequence,
        head_hash=None if previous is None else previous.record_hash,
    )


def _own_hash_problem(
    record: AuditRecord, key: AuditKey, first_keyed: int | None, legacy_through: int | None
) -> str | None:
    """Why ``record`` does not match its own hash under its scheme, or None."""
    sequence, event, link = record.sequence, record.event, record.previous_hash
    if record.scheme == LEGACY_SCHEME:
        if first_keyed is not None:
            return (
                f"record {sequence} is unkeyed ({LEGACY_SCHEME}) but follows keyed record "
                f"{first_keyed}: the chain was downgraded (rewritten without the audit key)"
            )
        if legacy_through is None or sequence > legacy_through:
            return _unkeyed_rewrite(sequence, legacy_through)
        if unkeyed_hash(sequence, event, link) != record.record_hash:
            return f"record {sequence} does not match its hash: it was edited"
        return None
    if record.scheme != KEYED_SCHEME:
        return f"record {sequence} names an unknown hash scheme {record.scheme[:20]!r}"
    links = event.declaration_ids if record.links is None else record.links
    if hmac.compare_digest(record_hash(key, sequence, event, link, links), record.record_hash):
        return None
    links_changed = record.links is not None and linked_ids(links) != linked_ids(
        event.declaration_ids
    )
    # Only on failure: does the record match with the links its own copy names?
    if links_changed and hmac.compare_digest(
        record_hash(key, sequence, event, link), record.record_hash
    ):
        return (
            f"record {sequence}'s declaration links (audit_declarations) were changed: "
            "index rows deleted or added"
        )
    return (
        f"record {sequence} does not match its hash: it was edited (or the audit key is not "
        "the one it was written with)"
    )


def _unkeyed_rewrite(sequence: int, legacy_through: int | None) -> str:
    """What to say of an unkeyed record that no signed legacy boundary accepts."""
    if legacy_through is None:
        accepted = "no signed legacy boundary of this store was found"
        remedy = (
            " (a store upgraded from the unkeyed scheme: give the checkpoint file that holds "
            "its boundary, or see `shiprisk audit checkpoint --legacy-through`)"
        )
    elif legacy_through == 0:
        accepted, remedy = "this store's signed legacy boundary says it never held any", ""
    else:
        accepted = (
            f"this store's signed legacy boundary accepts them through record {legacy_through}"
        )
        remedy = ""
    return (
        f"record {sequence} is unkeyed ({LEGACY_SCHEME}) and {accepted}: an unkeyed rewrite "
        f"(the chain was rewritten without the audit key){remedy}"
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
