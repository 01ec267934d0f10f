"""Signed checkpoints of the consultation log: what catches records cut off its end.

A checkpoint names the store (its random id, `serving.store.tables.StoreIdentity`), the
chain's head (sequence number and hash), how many records it held and when, signed with the
audit key (HMAC-SHA256 under a key derived for checkpoints only, see
`serving.audit.chain.AuditKey`). `shiprisk audit checkpoint` appends it to the chain as a
record and to a file outside the database, one JSON line per checkpoint, and prints it, so an
operator can keep copies on write-once storage. `verify_log` checks the chain, then every
checkpoint it is given and every checkpoint record in the chain: a valid signature, the
record it vouches for still present with the same hash, and the chain at least that long.
A line of another store (two stores sharing a file) is set aside and reported, never taken
for a break; a checkpoint record inside this chain naming another store means the store's id
was changed.

A legacy boundary (`serving.audit.boundary`) is a checkpoint too: of the last record written
in the unkeyed scheme, marked ``legacy_through``. Only a boundary line from a file, signed
and of this store, lets unkeyed records verify (`serving.audit.chain.verify_chain`).

HMAC, not a public-key signature: the verifier needs the audit key anyway to check the
records' hashes, so a signature anyone could check would add a second secret without
letting anyone verify more.
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from serving.audit.chain import (
    ANCHOR_HASH,
    ANCHOR_SEQUENCE,
    PURGE_ACTION,
    AuditEvent,
    AuditKey,
    AuditRecord,
    ChainVerdict,
    verify_chain,
)

CHECKPOINT_ACTION = "audit checkpoint"  # the `route` of a checkpoint's own record
BOUNDARY_ACTION = "audit legacy boundary"  # the `route` of a legacy boundary's own record


@dataclass(frozen=True)
class Checkpoint:
    """The chain's head and size at one moment, signed with the audit key.

    ``store_id`` names the store it belongs to; ``legacy_through`` marks a legacy boundary
    (then equal to ``head_sequence``: unkeyed records are accepted up to there; 0 for a store
    that never held any), None for an ordinary checkpoint.
    """

    head_sequence: int
    head_hash: str
    record_count: int
    made_at: datetime
    key_fingerprint: str
    signature: str
    store_id: str = ""
    legacy_through: int | None = None

    def signed_fields(self) -> dict[str, Any]:
        """What the signature covers, JSON-ready."""
        return {
            "head_sequence": self.head_sequence,
            "head_hash": self.head_hash,
            "record_count": self.record_count,
            "made_at": self.made_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "key_fingerprint": self.key_fingerprint,
            "store_id": self.store_id,
            "legacy_through": self.legacy_through,
        }

    def as_json(self) -> str:
        """One line: the signed fields and the signature."""
        return json.dumps({**self.signed_fields(), "signature": self.signature}, sort_keys=True)

    def signed_by(self, key: AuditKey) -> bool:
        """Whether ``key`` made this signature."""
        return hmac.compare_digest(
            key.signature(_signed_text(self.signed_fields())), self.signature
        )


def _signed_text(fields: Mapping[str, Any]) -> str:
    return json.dumps(dict(fields), sort_keys=True, separators=(",", ":"))


def signed_checkpoint(
    key: AuditKey,
    *,
    head_sequence: int,
    head_hash: str,
    record_count: int,
    made_at: datetime,
    store_id: str,
    legacy_through: int | None = None,
) -> Checkpoint:
    """A checkpoint of the chain's head in store ``store_id``, signed with ``key``."""
    unsigned = Checkpoint(
        head_sequence,
        head_hash,
        record_count,
        made_at,
        key.fingerprint,
        "",
        store_id,
        legacy_through,
    )
    return replace(unsigned, signature=key.signature(_signed_text(unsigned.signed_fields())))


def parse_checkpoint(document: Mapping[str, Any]) -> Checkpoint:
    """A checkpoint from its JSON form.

    Raises:
        ValueError: a field is missing or of the wrong type.
    """
    try:
        made_at = datetime.fromisoformat(str(document["made_at"]))
        checkpoint = Checkpoint(
            head_sequence=document["head_sequence"],
            head_hash=document["head_hash"],
            record_count=document["record_count"],
            made_at=made_at,
            key_fingerprint=document["key_fingerprint"],
            signature=document["signature"],
            store_id=document["store_id"],
            legacy_through=document.get("legacy_through"),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"not a checkpoint ({type(error).__name__})") from None
    numbers = (checkpoint.head_sequence, checkpoint.record_count)
    texts = (
        checkpoint.head_hash,
        checkpoint.key_fingerprint,
        checkpoint.signature,
        checkpoint.store_id,
    )
    boundary = checkpoint.legacy_through
    if not all(type(n) is int for n in numbers) or not all(isinstance(t, str) for t in texts):
        raise ValueError("not a checkpoint (a field has the wrong type)")
    if boundary is not None and (type(boundary) is not int or boundary != numbers[0]):
        raise ValueError("not a checkpoint (legacy_through is not its head's sequence)")
    if made_at.tzinfo is None:
        raise ValueError("not a checkpoint (made_at has no time zone)")
    return checkpoint


def checkpoint_event(checkpoint: Checkpoint, *, actor: str) -> AuditEvent:
    """The record a checkpoint appends to the chain (after the head it vouches for)."""
    return AuditEvent(
        recorded_at=checkpoint.made_at,
        key_id="cli",
        key_name=actor,
        role="admin",
        route=CHECKPOINT_ACTION,
        detail={**checkpoint.signed_fields(), "signature": checkpoint.signature},
    )


def append_to_file(path: Path, checkpoint: Checkpoint) -> None:
    """Add the checkpoint as a line of ``path`` (made with its folder when missing), synced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as file:
        file.write(checkpoint.as_json() + "\n")
        file.flush()
        os.fsync(file.fileno())


def read_file(path: Path) -> list[tuple[str, Checkpoint]]:
    """Every checkpoint in a checkpoint file, each with where it was found (file and line).

    Raises:
        ValueError: a line is not a checkpoint (the message names the file and line).
        OSError: the file cannot be read.
    """
    found: list[tuple[str, Checkpoint]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {number}"
        try:
            document = json.loads(line)
            if not isinstance(document, dict):
                raise ValueError("not a checkpoint (not a JSON object)")
            found.append((where, parse_checkpoint(document)))
        except ValueError as error:
            raise ValueError(f"{path} line {number}: {error}") from None
    return found


def by_store(
    found: Iterable[tuple[str, Checkpoint]], store_id: str | None
) -> tuple[list[tuple[str, Checkpoint]], tuple[tuple[str, int], ...]]:
    """(the checkpoints of store ``store_id``, (other store's id, lines) for the rest).

    ``store_id`` None (the store's id row is missing) makes every checkpoint another store's.
    """
    ours: list[tuple[str, Checkpoint]] = []
    others: dict[str, int] = {}
    for where, checkpoint in found:
        if store_id is not None and checkpoint.store_id == store_id:
            ours.append((where, checkpoint))
        else:
            others[checkpoint.store_id] = others.get(checkpoint.store_id, 0) + 1
    return ours, tuple(sorted(others.items()))


def legacy_boundary(found: Iterable[tuple[str, Checkpoint]], key: AuditKey) -> int | None:
    """Up to which record unkeyed records are accepted: the newest validly signed boundary
    among ``found`` (lines of this store, from files kept outside the database); None when
    there is none."""
    accepted = [
        checkpoint.legacy_through
        for _, checkpoint in found
        if checkpoint.legacy_through is not None and checkpoint.signed_by(key)
    ]
    return max(accepted, default=None)


def _in_chain(records: Iterable[AuditRecord]) -> list[tuple[str, Checkpoint]]:
    found: list[tuple[str, Checkpoint]] = []
    for record in records:
        if record.event.route in (CHECKPOINT_ACTION, BOUNDARY_ACTION):
            try:
                found.append((f"record {record.sequence}", parse_checkpoint(record.event.detail)))
            except ValueError:  # unsigned: named as a forgery at this record
                unreadable = Checkpoint(record.sequence, "", 0, record.event.recorded_at, "", "")
                found.append((f"record {record.sequence}", unreadable))
    return found


def verify_log(
    records: Iterable[AuditRecord],
    key: AuditKey,
    checkpoints: Sequence[tuple[str, Checkpoint]] = (),
    *,
    store_id: str | None,
) -> ChainVerdict:
    """Check the chain (`verify_chain`), then each checkpoint given and each one in the chain.

    ``checkpoints`` are (where it was found, checkpoint) pairs, from files kept outside the
    database; those of a store other than ``store_id`` (the store's id, None when its row is
    missing) are set aside and counted in ``foreign_checkpoints``. The legacy boundaries
    among the rest say how far unkeyed records are accepted. The verdict names the first
    problem; when all hold, ``checkpoints`` counts those that vouch for a record and
    ``vouched_sequence`` is the newest record one vouches for (records after it could be cut
    off unseen).
    """
    ordered = list(records)
    ours, foreign = by_store(checkpoints, store_id)
    boundary = legacy_boundary(ours, key)
    verdict = replace(
        verify_chain(ordered, key, legacy_through=boundary),
        legacy_through=boundary,
        foreign_checkpoints=foreign,
    )
    if not verdict.intact:
        return verdict
    recorded = _in_chain(ordered)
    hashes = {record.sequence: record.record_hash for record in ordered}
    purges = _purges(ordered)
    first = ordered[0].sequence if ordered else None
    for where, checkpoint in [*ours, *recorded]:
        problem = _checkpoint_problem(where, checkpoint, key, verdict, hashes, purges, first)
        # Lines of other stores were set aside above: only records of the chain get here.
        if problem is None and checkpoint.store_id != store_id:
            this = "has no id" if store_id is None else f"is {store_id}"
            problem = (
                int(where.removeprefix("record ")),  # the checkpoint's own record
                (
                    f"checkpoint {where} was signed for store {checkpoint.store_id[:32]}, but this "
                    f"store {this}: the store's id was changed (or the record was copied from "
                    "another store)"
                ),
            )
        if problem is not None:
            broken, text = problem
            return replace(verdict, broken_sequence=broken, problem=text)
    vouching = [c.head_sequence for _, c in [*ours, *recorded] if c.head_sequence > 0]
    return replace(verdict, checkpoints=len(vouching), vouched_sequence=max(vouching, default=None))


def _purges(records: list[AuditRecord]) -> list[tuple[int, int, str]]:
    """(purge record's sequence, last purged sequence, its hash) of every anchored purge."""
    found = []
    for record in records:
        detail = record.event.detail
        if record.event.route == PURGE_ACTION and isinstance(detail.get(ANCHOR_SEQUENCE), int):
            found.append((record.sequence, detail[ANCHOR_SEQUENCE], str(detail.get(ANCHOR_HASH))))
    return found


def _checkpoint_problem(
    where: str,
    checkpoint: Checkpoint,
    key: AuditKey,
    verdict: ChainVerdict,
    hashes: Mapping[int, str],
    purges: list[tuple[int, int, str]],
    first: int | None,
) -> tuple[int, str] | None:
    """(record to name, what is wrong) when ``checkpoint`` does not hold for the chain."""
    vouched = checkpoint.head_sequence
    if not checkpoint.signed_by(key):
        return vouched, (
            f"checkpoint {where} is not signed by the audit key: forged or edited (it names "
            f"key {checkpoint.key_fingerprint or '?'}, the audit key is {key.fingerprint})"
        )
    if vouched == 0:  # a fresh store's boundary: it vouches for no record
        return None
    made = checkpoint.made_at.astimezone(UTC).isoformat(timespec="seconds")
    head = verdict.head_sequence or 0
    if vouched > head:
        ends = f"ends at record {head}" if head else "is empty"
        cut = (
            f"record {vouched} was"
            if vouched == head + 1
            else f"records {head + 1} to {vouched} were"
        )
        return head + 1, (
            f"{cut} cut off the end: checkpoint {where} of {made} vouches for record "
            f"{vouched}, the chain {ends}"
        )
    present = hashes.get(vouched)
    later_purges = [p for p in purges if p[0] > vouched]
    if present is None:  # purged since: the purge's anchor vouches for what it removed
        anchors = {sequence: digest for _, sequence, digest in later_purges}
        if not later_purges or anchors.get(vouched, checkpoint.head_hash) != checkpoint.head_hash:
            return vouched, (
                f"record {vouched} is not the record checkpoint {where} of {made} vouches for: "
                "the chain was rewritten"
            )
        return None
    if not hmac.compare_digest(present, checkpoint.head_hash):
        return vouched, (
            f"record {vouched} is not the record checkpoint {where} of {made} vouches for: "
            "the chain was rewritten"
        )
    assert first is not None
    remaining = vouched - first + 1  # sequences are contiguous in a verified chain
    if remaining > checkpoint.record_count or (
        remaining < checkpoint.record_count and not later_purges
    ):
        return vouched, (
            f"checkpoint {where} of {made} counted {checkpoint.record_count} records up to "
            f"record {vouched}; the chain holds {remaining} and no purge since explains it"
        )
    return None
