"""Office remit: which declarations a key limited to some offices may see or act on.

A declaration lies at the office recorded with its first scoring (`DeclarationLodging`),
whatever later scorings say. A declaration outside the remit is treated as unknown (404), so
a key cannot learn that it exists; an office named outright (worklists, new declarations)
outside it is refused (403).

Scoring an id already recorded outside the remit is refused with 404 as well, and with
nothing of the stored declaration (no office, no lodging time, no field names): the refusal
itself tells that the id is taken, which cannot be avoided while ids are unique, but nothing
more, and the attempt is in the consultation log with the id. A re-scoring that would change
a declaration's lodging facts is refused with 409 for every caller (`rescoring_refused`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import HTTPException

from serving.base import Caller
from serving.store import scores
from serving.store.database import Store

OUTSIDE_REMIT = "office outside this key's remit"
UNKNOWN_DECLARATION = "no scored declaration with this id: score it with POST /v1/scores first"
ID_UNAVAILABLE = (
    "this declaration id cannot be scored with this key: a new lodging needs a new declaration id"
)
LODGING_FIXED = (
    "differs from the recorded declaration: its office, lodging time, declarant and importer "
    "are fixed once recorded"
)
LODGING_FIX = (
    "send the recorded value (GET /v1/declarations/{id} shows it), or use a new declaration id "
    "for a new lodging"
)


def refuse_office(caller: Caller, office_id: str) -> None:
    """403 when an office named in the request is outside the caller's remit."""
    if not caller.covers_office(office_id):
        raise HTTPException(status_code=403, detail=OUTSIDE_REMIT)


def refuse_declarations(caller: Caller, offices: Sequence[str | None], field: str) -> None:
    """403 naming each submitted declaration whose office is outside the remit."""
    rows = [row for row, office in enumerate(offices) if not caller.covers_office(office)]
    if rows:
        raise HTTPException(
            status_code=403,
            detail=[
                {
                    "loc": ["body", field, row, "office_id"],
                    "msg": OUTSIDE_REMIT,
                    "type": "outside_remit",
                }
                for row in rows
            ],
        )


def hide_unseen_declarations(
    caller: Caller, store: Store, declaration_ids: Sequence[str], field: str
) -> None:
    """404 naming each row whose (scored) declaration lies outside the remit."""
    if caller.key.offices is None:
        return
    with store.sessions() as session:
        offices = scores.lodged_offices(session, declaration_ids)
    detail: list[dict[str, Any]] = [
        {
            "loc": ["body", field, row, "declaration_id"],
            "msg": UNKNOWN_DECLARATION,
            "type": "declaration_unknown",
        }
        for row, declaration_id in enumerate(declaration_ids)
        if declaration_id in offices and not caller.covers_office(offices[declaration_id])
    ]
    if detail:
        raise HTTPException(status_code=404, detail=detail)


def refuse_consultation_log(caller: Caller) -> None:
    """403 for a key limited to offices: the consultation log names every office's
    declarations, keys and reasons, so only keys without a remit may read it."""
    if caller.key.offices is not None:
        raise HTTPException(
            status_code=403,
            detail="the consultation log spans every office: a key limited to offices may "
            "not read it",
        )


def rescoring_refused(
    caller: Caller | None, conflicts: Sequence[scores.LodgingConflict], field: str
) -> HTTPException:
    """The answer to scorings that would change recorded lodgings.

    404 naming only the rows whose declaration lies outside the caller's remit, when there
    are any (see the module's docstring); otherwise 409 naming each fact that differs, and
    the fix. Neither carries a stored or submitted value.
    """
    hidden = [
        c for c in conflicts if caller is not None and not caller.covers_office(c.recorded_office)
    ]
    if hidden:
        return HTTPException(
            status_code=404,
            detail=[
                {
                    "loc": ["body", field, c.position, "declaration_id"],
                    "msg": ID_UNAVAILABLE,
                    "type": "declaration_unavailable",
                }
                for c in hidden
            ],
        )
    return HTTPException(
        status_code=409,
        detail=[
            {
                "loc": ["body", field, c.position, name],
                "msg": LODGING_FIXED,
                "type": "lodging_conflict",
                "fix": LODGING_FIX,
            }
            for c in conflicts
            for name in c.fields
        ],
    )
