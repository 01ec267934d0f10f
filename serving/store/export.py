"""The store's tables for retraining (`shiprisk export`): the newest scoring of each
declaration, and the outcomes with the selection probability of the draw each followed.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from features.schema import DECLARATION_COLUMNS, OUTCOME_COLUMNS
from serving.store.outcomes import fill_selection, outcome_pick
from serving.store.tables import InspectionOutcome, ScoredDeclaration
from serving.store.worklists import worklist_picks


def export_tables(session: Session) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Declarations (newest scoring of each, canonical columns) and outcomes with probabilities.

    Each outcome carries the selection probability of the draw it followed (kept when it
    was recorded; for an outcome recorded before draws were named, the draw in force when it
    was inspected), never that of a later redraw; outcomes no worklist picked keep theirs
    (officer or intelligence selections have none).
    """
    newest = select(func.max(ScoredDeclaration.id)).group_by(ScoredDeclaration.declaration_id)
    rows = session.scalars(
        select(ScoredDeclaration.declaration)
        .where(ScoredDeclaration.id.in_(newest))
        .order_by(ScoredDeclaration.lodged_at, ScoredDeclaration.declaration_id)
    ).all()
    declarations = pd.DataFrame.from_records(list(rows))
    extras = sorted(set(declarations.columns) - set(DECLARATION_COLUMNS))
    declarations = declarations.reindex(columns=[*DECLARATION_COLUMNS, *extras])

    stored = session.scalars(
        select(InspectionOutcome).order_by(InspectionOutcome.inspected_at, InspectionOutcome.id)
    ).all()
    picks = worklist_picks(session, sorted({o.declaration_id for o in stored}))
    outcome_rows = []
    for outcome in stored:
        row = {name: getattr(outcome, name) for name in OUTCOME_COLUMNS}
        fill_selection(row, outcome_pick(outcome, picks.get(outcome.declaration_id, [])))
        outcome_rows.append(row)
    outcomes = pd.DataFrame.from_records(outcome_rows, columns=list(OUTCOME_COLUMNS))
    return declarations, outcomes
