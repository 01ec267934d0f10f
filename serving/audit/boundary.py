"""The legacy boundary: how far records of the unkeyed scheme are accepted, kept off the database.

Records hashed before the keyed scheme (``sha256``, Alembic migration 0003) can be computed
by anyone, so whoever holds the database could rewrite a whole chain in that scheme. They
are accepted only up to a boundary signed with the audit key and kept outside the database:
a checkpoint of the last unkeyed record, marked ``legacy_through`` (`Checkpoint`).

Whoever appends the first keyed record of a store (the service or a command: they all hold
the key) declares it, in the checkpoint file and as a record of the chain: through the last
unkeyed record for an upgraded store, through 0 (a file line only, there being no record to
name) for a fresh one. A store whose checkpoint file already holds lines of its own never
declares one again (its newest record being unkeyed then means the chain was rewritten),
and none is written into a file that holds another store's lines. An operator who lost the
boundary declares it again, explicitly, with ``shiprisk audit checkpoint --legacy-through``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from serving.audit.chain import AuditEvent, AuditKey
from serving.audit.checkpoints import BOUNDARY_ACTION, Checkpoint, by_store

AUTOMATIC = "at the store's first keyed record"
BY_OPERATOR = "by the operator (shiprisk audit checkpoint --legacy-through)"


class BoundaryRefused(ValueError):
    """A legacy boundary must not be declared here (the message says why)."""


def boundary_event(
    boundary: Checkpoint,
    *,
    key_id: str,
    key_name: str,
    role: str,
    declared: str,
) -> AuditEvent:
    """The record a legacy boundary appends to the chain (after the record it names);
    ``declared`` says how (`AUTOMATIC` or `BY_OPERATOR`)."""
    return AuditEvent(
        recorded_at=boundary.made_at,
        key_id=key_id,
        key_name=key_name,
        role=role,
        route=BOUNDARY_ACTION,
        detail={**boundary.signed_fields(), "signature": boundary.signature, "declared": declared},
    )


def describe_stores(foreign: Sequence[tuple[str, int]]) -> str:
    """``store-id (N lines), ...`` for the other stores' lines of a checkpoint file."""
    return ", ".join(f"{other or '?'} ({lines} lines)" for other, lines in foreign)


def foreign_lines_refusal(
    path: Path, found: Sequence[tuple[str, Checkpoint]], store_id: str | None
) -> str | None:
    """Why nothing of store ``store_id`` may be signed into ``path``: it holds lines of
    another store (or this store's id was changed); None when it holds none."""
    _, foreign = by_store(found, store_id)
    if not foreign:
        return None
    this = "has no id" if store_id is None else f"is {store_id}"
    return (
        f"{path} holds checkpoints of another store: {describe_stores(foreign)}; this store "
        f"{this}. Two stores must not share a checkpoint file (or this store's id was "
        "changed): give another file with --file"
    )


def existing_boundary(
    path: Path,
    found: Sequence[tuple[str, Checkpoint]],
    store_id: str,
    key: AuditKey,
    *,
    through: int,
    head_hash: str,
) -> Checkpoint | None:
    """The boundary of this store through ``through``, signed with ``key``, that ``path``
    already holds (declared by a writer that then failed, or at the same moment), if any.

    Raises:
        BoundaryRefused: the file holds another store's lines, or other lines of this store
            (so its first keyed record was appended long ago, and an unkeyed newest record
            means the chain was rewritten, or an empty one that it was deleted).
    """
    refusal = foreign_lines_refusal(path, found, store_id)
    if refusal is not None:
        raise BoundaryRefused(f"no legacy boundary declared: {refusal}")
    ours, _ = by_store(found, store_id)
    for _, checkpoint in ours:
        same = checkpoint.legacy_through == through and checkpoint.head_hash == head_hash
        if same and checkpoint.signed_by(key):
            return checkpoint
    if ours:
        newest = (
            "the consultation log is empty"
            if through == 0
            else (f"the consultation log's newest record {through} is unkeyed")
        )
        raise BoundaryRefused(
            f"no legacy boundary declared: {newest}, yet {path} already holds checkpoints of "
            "this store: records were rewritten or deleted; run `shiprisk audit verify`"
        )
    return None
