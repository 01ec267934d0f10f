"""Keeping what was scored: the canonical declarations with their scores and reasons.

Keeping a score also adds a declaration the store sees for the first time to its entities'
history (serving.store.intelligence), in the same transaction.

The score route leaves `scores_write` to the commit of its consultation record
(`serving.deps.commit_with_record`); `store_scores` commits it on its own, through the
store's group-commit writer (one transaction shared with concurrent requests).

Either way the write claims the declarations' lodging facts in its own transaction
(`serving.store.scores.claim_lodgings`), so the check that a re-scoring moves nothing
and the rows it guards commit together: two concurrent first scorings of one id cannot both
be kept.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from models.declarations import DeclarationBatch
from serving.access.remit import rescoring_refused
from serving.base import Caller
from serving.scoring.queue import CanonicalScores
from serving.store import intelligence, scores
from serving.store.database import Store
from serving.store.group_commit import group_commit


def scores_write(
    scored: CanonicalScores,
    *,
    model_name: str,
    model_version: str,
    caller: Caller | None = None,
) -> Callable[[Session], int]:
    """The write that keeps what was just scored: the canonical declarations with their
    scores and reasons.

    The rows are built now, so the transaction that runs the write only inserts them; the
    score route leaves the write to the commit of its consultation record
    (`serving.deps.commit_with_record`), `store_scores` commits it on its own.

    Raises (when run):
        HTTPException: with ``caller``, a scoring that would change a recorded lodging: 404
            or 409 as `serving.access.remit.rescoring_refused` decides for that caller.
        LodgingConflictError: the same, without ``caller``.
    """
    rows = scores.score_rows(
        scored.declarations.rows,
        scored,
        model_name=model_name,
        model_version=model_version,
        scored_at=scored.scored_at,
    )
    columns = DeclarationBatch.of(scored.declarations).columns
    entities = intelligence.declaration_entities(columns)
    ids = [row["declaration_id"] for row in rows]
    lodged = [row["lodged_at"] for row in rows]

    def write(session: Session) -> int:
        try:
            first = scores.insert_score_rows(session, rows)
        except scores.LodgingConflictError as error:
            if caller is None:
                raise
            raise rescoring_refused(caller, error.conflicts, "declarations") from None
        # a declaration counts in its entities' history once: when the store first records it
        intelligence.count_declarations(session, ids, entities, lodged, first)
        return len(rows)

    return write


def store_scores(
    store: Store, scored: CanonicalScores, *, model_name: str, model_version: str
) -> int:
    """Keep what was just scored, committed by the store's group-commit writer (in the same
    transaction as the writes of concurrent requests); returns once committed."""
    write = scores_write(scored, model_name=model_name, model_version=model_version)
    return group_commit(store).submit(write)
