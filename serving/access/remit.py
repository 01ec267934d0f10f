"""Office remit: which declarations a key limited to some offices may see or act on.

A declaration outside the remit is treated as unknown (404), so a key cannot learn that it
exists; an office named outright (worklists, new declarations) outside it is refused (403).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import HTTPException

from serving.base import Caller
from serving.store import repository
from serving.store.database import Store

OUTSIDE_REMIT = "office outside this key's remit"


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
        offices = {
            declaration_id: row.office_id
            for declaration_id, row in repository.latest_scores(session, declaration_ids).items()
        }
    detail: list[dict[str, Any]] = [
        {
            "loc": ["body", field, row, "declaration_id"],
            "msg": "no scored declaration with this id: score it with POST /v1/scores first",
            "type": "declaration_unknown",
        }
        for row, declaration_id in enumerate(declaration_ids)
        if declaration_id in offices and not caller.covers_office(offices[declaration_id])
    ]
    if detail:
        raise HTTPException(status_code=404, detail=detail)
