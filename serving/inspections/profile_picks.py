"""Which declarations risk profiles selected, as their stored scores record it: the
mandatory picks a worklist draw starts with (`serving.inspections.worklist.select_worklist`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from serving.inspections.worklist import ProfileMatch, ProfilePick, profile_pick
from serving.store import profiles as stored_profiles
from serving.store.tables import RiskProfileRevision, ScoredDeclaration


def mandatory_picks(session: Session, candidates: Sequence[ScoredDeclaration]) -> list[ProfilePick]:
    """The declarations risk profiles selected, as their stored scores record it.

    A declaration's newest score keeps, among its reasons, every profile that matched it when
    it was scored and whether the profile's action selected it (``value`` 1; a share not
    drawn: 0), and its lane says so to the officer. The worklist follows that record rather
    than matching the declaration again against the profiles in force at the draw: a profile
    expired or revised after the declaration was laned does not take back, or add, a pick
    the lane announced, and a redraw later the same day lists the same profile picks. (A
    re-scoring records the profiles in force then, and a redraw follows it.)

    Each pick's probability comes from the revision of its profiles in force when the score
    was made (the newest changed by then): 1 for a lane on every match, the share otherwise
    (`serving.inspections.worklist.profile_pick`).
    """
    matched: dict[str, list[tuple[str, bool]]] = {}
    for row in candidates:
        for reason in row.reasons:
            if reason.get("kind") == "profile" and reason.get("profile_id"):
                selected = float(reason.get("value") or 0.0) >= 1.0
                matched.setdefault(row.declaration_id, []).append((reason["profile_id"], selected))
    if not any(selected for found in matched.values() for _, selected in found):
        return []
    revisions = {
        profile_id: stored_profiles.profile_revisions(session, profile_id)
        for profile_id in sorted({p for found in matched.values() for p, _ in found})
    }
    scored_at = {row.declaration_id: row.scored_at for row in candidates}
    picks = []
    for declaration_id, found in matched.items():
        matches = [
            _profile_match(profile_id, selected, revisions[profile_id], scored_at[declaration_id])
            for profile_id, selected in found
        ]
        pick = profile_pick(declaration_id, matches)
        if pick is not None:
            picks.append(pick)
    return picks


def _profile_match(
    profile_id: str, selected: bool, revisions: Sequence[RiskProfileRevision], at: datetime
) -> ProfileMatch:
    """What one profile did to a declaration scored ``at``, by its revision in force then
    (the first one for a score made while it was being written; a lane when it is unknown)."""
    before = [revision for revision in revisions if revision.changed_at <= at]
    revision = before[-1] if before else (revisions[0] if revisions else None)
    action = {} if revision is None else revision.content.get("action", {})
    return ProfileMatch(
        profile_id,
        selected,
        float(action.get("percent", 100.0)),
        str(action.get("lane", "red")),
    )
