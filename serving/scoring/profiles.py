"""A scoring batch's risk profiles: which matched, their reasons, and the lane they set.

Every scoring path (the score route's queue, `shiprisk score`) calls `profile_decisions` once
per batch after `serving.scoring.live.read_batch`, and `with_profiles` on each request's
rows: the profiles in force come from the store (`serving.store.profiles.profiles_in_force`:
one small query per batch, a re-read only after a change), so a new, revised or expired
profile changes the very next score without a retrain.

Lane order as in ASYCUDA's MODSEL: a profile that selects a declaration decides first, red
over yellow; the model's lane stands when no profile selected it, and a profile never lowers
it (a yellow profile leaves a model's red as red). A share profile (``percent`` below 100)
selects the matches its draw picks (`features.profiles.selection_draw`); the others still
carry the reason, with value 0, so officers and the profile's assessment see every match.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pandas as pd

from features.profiles import ProfileSet, RiskProfile
from features.records import CanonicalRecords
from features.watchlist import WatchlistHits
from models.bundle import ScoredDeclaration
from models.declarations import DeclarationBatch
from models.explain import Reason
from serving.store.database import Store
from serving.store.intelligence import LiveRead
from serving.store.profiles import profiles_in_force

LANE_SEVERITY = {"green": 0, "yellow": 1, "red": 2}


@dataclass(frozen=True)
class ProfileDecisions:
    """Per declaration of a batch: the profile reasons, and the lane profiles selected it for
    (None: no profile selected it)."""

    reasons: list[list[Reason]]
    lanes: list[str | None]

    def part(self, start: int, stop: int) -> ProfileDecisions:
        """The decisions of the rows ``start:stop`` (one request of a batch)."""
        return ProfileDecisions(self.reasons[start:stop], self.lanes[start:stop])


def profile_decisions(
    store: Store | None,
    declarations: CanonicalRecords | pd.DataFrame,
    live: LiveRead | None,
    *,
    version: int | None = None,
) -> ProfileDecisions | None:
    """The profiles in force matched against a batch (None without a store or profiles);
    ``version``: the greatest profile revision id, when the batch read it already."""
    if store is None:
        return None
    at = live.scored_at if live is not None else datetime.now(UTC)
    profiles = profiles_in_force(store, at, version=version)
    if len(profiles) == 0:
        return None
    batch = DeclarationBatch.of(declarations)
    hits = live.live.watchlist if live is not None else WatchlistHits.none()
    return decide(profiles, batch, hits, at)


def decide(
    profiles: ProfileSet, batch: DeclarationBatch, hits: WatchlistHits, at: datetime
) -> ProfileDecisions:
    """Reasons and lanes of ``profiles`` for ``batch``, scored ``at`` (the pure part)."""
    ids = batch.ids()
    found = profiles.matches(batch.columns, hits, at, ids)
    reasons: list[list[Reason]] = [[] for _ in ids]
    lanes: list[str | None] = [None] * len(ids)
    for row, position, selected in zip(
        found.rows.tolist(), found.profiles.tolist(), found.selected.tolist(), strict=True
    ):
        profile = profiles.profiles[position]
        reasons[row].append(profile_reason(profile, selected))
        lane = profile.action.lane
        if selected and LANE_SEVERITY[lane] > LANE_SEVERITY.get(lanes[row] or "green", 0):
            lanes[row] = lane
    return ProfileDecisions(reasons, lanes)


def profile_reason(profile: RiskProfile, selected: bool) -> Reason:
    """The reason a matching profile gives: its id, title and rationale, and what it did."""
    action = profile.action
    share = "" if action.percent >= 100 else f" ({action.percent:g}% of matches)"
    did = (
        f"selected for the {action.lane} lane{share}"
        if selected
        else (f"matched, not drawn in its {action.percent:g}% share")
    )
    return Reason(
        threat=profile.threat,
        feature=f"profile_{profile.id}",
        value=1.0 if selected else 0.0,
        contribution=0.0,
        text=f"risk profile {profile.id} ({profile.title}): {did}",
        kind="profile",
        profile_id=profile.id,
        title=profile.title,
        rationale=profile.rationale,
    )


def with_profiles(
    scored: Sequence[ScoredDeclaration], decisions: ProfileDecisions | None
) -> list[ScoredDeclaration]:
    """Scores with their profile reasons first and the lane profiles set (never lowered)."""
    if decisions is None:
        return list(scored)
    out = []
    for row, reasons, lane in zip(scored, decisions.reasons, decisions.lanes, strict=True):
        if not reasons:
            out.append(row)
            continue
        final = row.lane
        if lane is not None and LANE_SEVERITY[lane] > LANE_SEVERITY.get(row.lane, 0):
            final = lane
        out.append(replace(row, lane=final, reasons=[*reasons, *row.reasons]))
    return out
