"""Inspection outcomes: stored idempotently, each keeping the worklist draw it followed and
that pick's selection reason and probability.

Functions here never commit: the caller opens one transaction per request
(`Store.transaction`), so a request's writes land together or not at all.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from features.schema import OUTCOME_COLUMNS
from serving.store.rows import declaration_rows
from serving.store.scores import json_value
from serving.store.tables import InspectionOutcome, WorklistSelection
from serving.store.worklists import pick_acted_on, worklist_picks


def outcomes_of(session: Session, declaration_id: str) -> list[InspectionOutcome]:
    """The recorded inspections of a declaration, oldest first."""
    return declaration_rows(
        session, InspectionOutcome, declaration_id, InspectionOutcome.inspected_at
    )


def _named_draw(picks: Sequence[WorklistSelection], version: int | None) -> int | None:
    """The id of the draw an outcome names by its version, among the draws that picked its
    declaration (the declaration's office and day fix which worklist); 0, an id no draw
    has, when none of them has that version."""
    if version is None:
        return None
    return next((pick.run_id for pick in picks if pick.run.version == version), 0)


def _acted_on(
    picks: Sequence[WorklistSelection],
    inspected_at: datetime,
    draw_id: int | None,
    reason: str | None,
) -> WorklistSelection | None:
    """`pick_acted_on`, unless the outcome names another reason and no draw (an officer's or
    intelligence selection, or a profile's own share: it keeps its own probability)."""
    pick = pick_acted_on(picks, inspected_at, draw_id)
    if pick is not None and draw_id is None and reason not in (None, pick.reason):
        return None
    return pick


def fill_selection(values: dict[str, Any], pick: WorklistSelection | None) -> None:
    """Fill an outcome's empty selection reason and probability from the pick it followed."""
    if pick is None:
        return
    if values["selection_reason"] is None:
        values["selection_reason"] = pick.reason
    if values["selection_probability"] is None:
        values["selection_probability"] = pick.selection_probability


# -- outcomes ----------------------------------------------------------------------------------


class OutcomeConflictError(ValueError):
    """An outcome repeats a declaration and inspection time already recorded, with other values."""

    def __init__(self, conflicts: Sequence[tuple[int, str]]) -> None:
        self.conflicts = list(conflicts)  # (0-based row of the request, declaration id)
        super().__init__(
            f"{len(conflicts)} outcome(s) differ from the outcome already recorded for the same "
            "declaration and inspection time"
        )


class OutcomeDrawError(ValueError):
    """An outcome names a draw that did not pick its declaration, or a selection reason or
    probability other than that draw's pick."""

    def __init__(self, mismatches: Sequence[tuple[int, str, str]]) -> None:
        self.mismatches = list(mismatches)  # (0-based row of the request, field, message)
        super().__init__("; ".join(message for _, _, message in self.mismatches))


@dataclass(frozen=True)
class OutcomeWrite:
    """What `record_outcomes` did: rows stored now, and rows already stored identically."""

    recorded: int
    already_recorded: int


_OUTCOME_VALUE_FIELDS = [c for c in OUTCOME_COLUMNS if c not in ("declaration_id", "inspected_at")]


def _outcome_values(record: Mapping[Any, Any]) -> dict[str, Any]:
    values = {}
    for name in _OUTCOME_VALUE_FIELDS:
        value = json_value(record.get(name))
        if isinstance(value, bool | np.bool_):
            value = bool(value)
        values[name] = value
    return values


def _draw_mismatch(
    values: Mapping[str, Any], pick: WorklistSelection | None
) -> tuple[str, str] | None:
    """What differs between an outcome naming a draw and that draw's pick: (field, message)."""
    if pick is None:
        return "draw_version", "this worklist draw did not pick the declaration"
    if values["selection_reason"] not in (None, pick.reason):
        return "selection_reason", "differs from the reason of the named draw's pick"
    probability = values["selection_probability"]
    if probability is not None and not math.isclose(
        float(probability), pick.selection_probability, rel_tol=1e-9, abs_tol=1e-12
    ):
        return "selection_probability", "differs from the probability of the named draw's pick"
    return None


def _same(stored: InspectionOutcome, values: Mapping[str, Any]) -> bool:
    for name, value in values.items():
        old = getattr(stored, name)
        if isinstance(old, float) and isinstance(value, int | float):
            if not math.isclose(old, float(value), rel_tol=1e-12, abs_tol=1e-12):
                return False
        elif old != value:
            return False
    return True


def record_outcomes(
    session: Session,
    outcomes: pd.DataFrame,
    *,
    draws: Sequence[int | None] | None = None,
    recorded_at: datetime | None = None,
    officer_added: Collection[str] = (),
) -> OutcomeWrite:
    """Store validated outcomes, idempotent on (declaration_id, inspected_at).

    A repeat of an outcome already stored with the same values is skipped; a repeat with
    different values raises `OutcomeConflictError` before anything is added, so a request
    lands whole or not at all. Each outcome keeps the worklist draw it followed (the one it
    names, else the draw in force when it was inspected: `pick_acted_on`), and a selection
    reason or probability left empty is filled from that draw's pick, so a later redraw never
    changes it.

    Args:
        outcomes: canonical outcomes (``features.validation.validate_outcomes``).
        draws: per outcome, the version of the worklist draw the officer acted on (GET
            /v1/worklist's ``version``), or None. The outcome keeps that draw's id.
        officer_added: declarations an officer added for inspection
            (`serving.store.waivers`): an outcome of one that no worklist pick explains and
            that gives no selection reason is recorded as ``officer`` (probability unknown).

    Raises:
        OutcomeDrawError: a named draw did not pick the declaration, or its pick differs.
        OutcomeConflictError: a repeat of a stored outcome with other values.
    """
    at = recorded_at or datetime.now(UTC)
    records = outcomes.to_dict(orient="records")
    keys = [
        (
            str(r["declaration_id"]),
            pd.Timestamp(r["inspected_at"]).tz_convert("UTC").to_pydatetime(),
        )
        for r in records
    ]
    existing: dict[tuple[str, datetime], InspectionOutcome] = {}
    ids = sorted({k[0] for k in keys})
    for start in range(0, len(ids), 500):
        for row in session.scalars(
            select(InspectionOutcome).where(
                InspectionOutcome.declaration_id.in_(ids[start : start + 500])
            )
        ):
            existing[(row.declaration_id, row.inspected_at)] = row
    picks = worklist_picks(session, ids)
    named = list(draws) if draws is not None else [None] * len(records)

    conflicts: list[tuple[int, str]] = []
    mismatches: list[tuple[int, str, str]] = []
    new: dict[tuple[str, datetime], InspectionOutcome] = {}
    repeated = 0
    for position, (record, key) in enumerate(zip(records, keys, strict=True)):
        values = _outcome_values(record)
        declaration_picks = picks.get(key[0], [])
        draw_id = _named_draw(declaration_picks, named[position])
        pick = _acted_on(declaration_picks, key[1], draw_id, values["selection_reason"])
        if draw_id is not None and (mismatch := _draw_mismatch(values, pick)):
            mismatches.append((position, *mismatch))
            continue
        fill_selection(values, pick)
        if pick is None and values["selection_reason"] is None and key[0] in officer_added:
            values["selection_reason"] = "officer"
        values["draw_id"] = None if pick is None else pick.run_id
        before = existing.get(key) or new.get(key)
        if before is not None:
            # The draw counts only when the outcome names it; else the stored one stands.
            compared = values if draw_id is not None else {**values, "draw_id": before.draw_id}
            if _same(before, compared):
                repeated += 1
            else:
                conflicts.append((position, key[0]))
            continue
        new[key] = InspectionOutcome(
            declaration_id=key[0], inspected_at=key[1], recorded_at=at, **values
        )
    if mismatches:
        raise OutcomeDrawError(mismatches)
    if conflicts:
        raise OutcomeConflictError(conflicts)
    session.add_all(new.values())
    session.flush()
    return OutcomeWrite(recorded=len(new), already_recorded=repeated)


def outcome_pick(
    outcome: InspectionOutcome, picks: Sequence[WorklistSelection]
) -> WorklistSelection | None:
    """The worklist pick a stored outcome followed (its draw's; for an outcome recorded before
    draws were named, the draw in force when it was inspected among those made by the time
    it was recorded: a later draw is never one it followed), or None."""
    if outcome.draw_id is None:
        picks = [pick for pick in picks if pick.created_at <= outcome.recorded_at]
    return _acted_on(picks, outcome.inspected_at, outcome.draw_id, outcome.selection_reason)
