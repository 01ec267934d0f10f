"""The inspection loop behind the officer routes: declarations as scored, worklists, outcomes,
and the export of all of it for retraining.

Reads run in a transaction of their own; a write (a new worklist draw, outcomes) is handed back
to the route, which leaves it to the transaction of the request's consultation record
(`serving.deps.write_with_record`): data and record are committed together or not at all, and
the response is sent only after that commit, so a route that answers 2xx has made its write
durable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session

from features.schema import EXTRA_PREFIX, WATCHLIST_COLUMNS
from features.validation import (
    DataValidationError,
    validate_declarations,
    validate_outcomes,
    validate_watchlist,
)
from serving.base import ModelRef, ReasonOut
from serving.inspections.profile_picks import mandatory_picks
from serving.inspections.schemas import (
    DeclarationDetail,
    OutcomeOut,
    StoredScore,
    Worklist,
    WorklistPick,
)
from serving.inspections.worklist import (
    DEFAULT_EXPLORATION_SHARE,
    DEFAULT_SEVERITY,
    Candidate,
    pick_label,
    select_worklist,
    selection_seed,
)
from serving.store import export, intelligence, offices, worklists
from serving.store import outcomes as stored_outcomes
from serving.store import scores as stored_scores
from serving.store import waivers as stored_waivers
from serving.store import watchlist as stored_watchlist
from serving.store.database import Store
from serving.store.tables import InspectionOutcome, ScoredDeclaration, WorklistRun


@dataclass(frozen=True)
class OperationsPolicy:
    """How worklists are built: severity weight per threat and the exploration share; and
    how many recent scores an office needs before its lane thresholds are refitted."""

    severity: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_SEVERITY))
    exploration_share: float = DEFAULT_EXPLORATION_SHARE
    lane_min_scores: int = 200


def _stored_score(row: ScoredDeclaration) -> StoredScore:
    return StoredScore(
        model=ModelRef(name=row.model_name, version=row.model_version),
        scored_at=row.scored_at,
        risk=row.risk,
        overall=row.overall,
        lane=row.lane,
        reasons=[ReasonOut(**reason) for reason in row.reasons],
    )


def declaration_detail(store: Store, declaration_id: str) -> DeclarationDetail | None:
    """The declaration, its newest score and reasons, and its outcomes; None when unknown."""
    with store.transaction() as session:
        history = stored_scores.scoring_history(session, declaration_id)
        if not history:
            return None
        latest = history[-1]
        outcomes = stored_outcomes.outcomes_of(session, declaration_id)
        versions = worklists.draw_versions(session, [o.draw_id for o in outcomes])
        profiles = {  # the risk profile whose pick each draw made of it, if any
            pick.run_id: pick.profile_id
            for pick in worklists.worklist_picks(session, [declaration_id]).get(declaration_id, [])
        }
        lodged = stored_scores.lodged_offices(session, [declaration_id])
        return DeclarationDetail(
            declaration_id=declaration_id,
            office_id=lodged.get(declaration_id, latest.office_id),
            declaration=latest.declaration,
            latest=_stored_score(latest),
            times_scored=len(history),
            outcomes=[_outcome_out(outcome, versions, profiles) for outcome in outcomes],
        )


def _outcome_out(
    outcome: InspectionOutcome, versions: Mapping[int, int], profiles: Mapping[int, str | None]
) -> OutcomeOut:
    """A stored outcome as answered, with the version of the draw it followed and the risk
    profile whose pick it was (a ``rule`` pick of that draw)."""
    answer = OutcomeOut.model_validate(outcome, from_attributes=True)
    if outcome.draw_id is not None:
        answer.draw_version = versions.get(outcome.draw_id)
        if outcome.selection_reason == "rule":
            answer.profile_id = profiles.get(outcome.draw_id)
    return answer


def _worklist_view(run: WorklistRun, scores: Mapping[str, ScoredDeclaration]) -> Worklist:
    mandatory = sum(pick.reason == "rule" for pick in run.selections)
    return Worklist(
        version=run.version,
        office_id=run.office_id,
        date=run.day,
        capacity=run.capacity,
        exploration_share=run.exploration_share,
        candidates=run.pool_size,
        created_at=run.created_at,
        mandatory=mandatory,
        capacity_exceeded=mandatory > run.capacity,
        picks=[
            WorklistPick(
                rank=pick.rank,
                declaration_id=pick.declaration_id,
                reason=pick_label(pick.reason, pick.profile_id),
                profile_id=pick.profile_id,
                selection_probability=pick.selection_probability,
                expected_harm=pick.expected_harm,
                risk=scores[pick.declaration_id].risk,
                overall=scores[pick.declaration_id].overall,
                lane=scores[pick.declaration_id].lane,
            )
            for pick in run.selections
        ],
    )


@dataclass(frozen=True)
class DrawnWorklist:
    """A worklist to answer with, and the write that records it (None: recorded before).

    The route leaves the write to its consultation record's transaction
    (`serving.deps.write_with_record`): the picks and the record of who drew them are
    committed together, or neither.
    """

    worklist: Worklist
    write: Callable[[Session], object] | None


class CapacityUnknown(LookupError):
    """A worklist asked without a capacity for an office whose capacity was never set."""


def worklist(
    store: Store,
    office_id: str,
    day: date,
    capacity: int | None,
    policy: OperationsPolicy,
    *,
    now: datetime | None = None,
) -> DrawnWorklist:
    """The office's worklist for the day: drawn and recorded once per set of candidates.

    Asking again returns the recorded picks; when declarations were scored since (or a
    re-scoring changed which profiles selected one), a new worklist is drawn over all of
    them (the seed is the office and day, so the draw is reproducible) and recorded as the
    next version beside the earlier ones, which keep their picks and probabilities for the
    outcomes that follow them.

    Declarations risk profiles selected come first (`mandatory_picks`), then the model and
    exploration fill the capacity left (`serving.inspections.worklist.select_worklist`).

    Args:
        capacity: inspections the office can do that day; None: the capacity set for the
            office (PUT /v1/offices/{office_id}/capacity).

    Raises:
        CapacityUnknown: no capacity given and none set for the office.
    """
    with store.sessions() as session:
        if capacity is None:
            setting = offices.current_office_lanes(session, office_id)
            if setting is None:
                raise CapacityUnknown(office_id)
            capacity = setting.capacity
        # The version a new draw answers with, read first: a draw stored after this read is
        # found below or drew the same version; one stored between the two reads would
        # otherwise be drawn again under the next version (PostgreSQL reads each statement
        # as of its start), and its identical insert could not be answered.
        version = worklists.next_worklist_version(session, office_id, day)
        candidates = worklists.day_candidates(session, office_id, day)
        scores = {row.declaration_id: row for row in candidates}
        selected = mandatory_picks(session, candidates)
        # profile picks are part of the pool: a re-scoring that changes them draws again
        digest = worklists.pool_digest(
            [
                *scores,
                *(f"{p.declaration_id}\x1f{p.profile_id}\x1f{p.probability!r}" for p in selected),
            ]
        )
        recorded = worklists.find_worklist(session, office_id, day, capacity, digest)
        if recorded is not None:
            return DrawnWorklist(_worklist_view(recorded, scores), None)
    picks = select_worklist(
        [Candidate(row.declaration_id, row.risk) for row in candidates],
        capacity,
        severity=policy.severity,
        exploration_share=policy.exploration_share,
        seed=selection_seed(office_id, day),
        profile_picks=selected,
    )
    at = now or datetime.now(UTC)

    def run() -> WorklistRun:  # a new object per write: a group commit may try it again
        return worklists.worklist_run(
            office_id=office_id,
            day=day,
            capacity=capacity,
            exploration_share=policy.exploration_share,
            pool_size=len(candidates),
            digest=digest,
            picks=picks,
            version=version,
            created_at=at,
        )

    def write(session: Session) -> None:
        worklists.store_worklist_run(session, run())

    drawn = run()
    return DrawnWorklist(_worklist_view(drawn, scores), write)


@dataclass(frozen=True)
class OutcomeProblem:
    """One rejected outcome field: row of the request, field, what is wrong, and the fix."""

    row: int | None
    column: str | None
    message: str
    fix: str


# How `validate_outcomes` words an outcome for a declaration that was never scored.
UNKNOWN_DECLARATION = "outcome for a declaration that is not in the declarations"


class OutcomesRejected(ValueError):
    """Outcomes that did not validate or conflict with stored ones; nothing was stored."""

    def __init__(
        self,
        problems: Sequence[OutcomeProblem],
        *,
        conflict: bool = False,
        unknown: bool = False,
        draw: bool = False,
    ) -> None:
        self.problems = list(problems)
        self.conflict = conflict  # True: repeats of stored outcomes with other values
        self.unknown = unknown  # True: only outcomes for declarations never scored
        self.draw = draw  # True: outcomes that do not match the worklist draw they name
        super().__init__("; ".join(p.message for p in self.problems))


def _outcome_problems(error: DataValidationError) -> list[OutcomeProblem]:
    """One problem per offending row (0-based request positions), values left out."""
    found: list[OutcomeProblem] = []
    for problem in error.problems:
        rows: list[int | None] = [row - 1 for row in problem.rows] or [None]
        found.extend(
            OutcomeProblem(row, problem.column, problem.message, problem.fix) for row in rows
        )
    return found


def planned_outcomes(
    store: Store,
    raw: pd.DataFrame,
    *,
    source: str = "request",
    draws: Sequence[int | None] | None = None,
) -> tuple[stored_outcomes.OutcomeWrite, Callable[[Session], object]]:
    """Validate outcomes against the store; what recording them does, and the write that
    records them all or none (for the route to leave to its record's transaction).

    The counts come from the same write, tried in a transaction rolled back; the write itself
    checks again when it runs, so an outcome recorded in between is still a conflict.

    Args:
        draws: per outcome, the version of the worklist draw the officer acted on (None: the
            draw in force when it was inspected, if a worklist picked it).

    Raises:
        OutcomesRejected: malformed values, unknown declaration ids, a draw that did not pick
            the declaration (or another reason or probability than its pick), or a repeat of
            a stored outcome with different values (also from the write); the problems name
            rows and fields, never values.
    """
    with store.sessions() as session:
        ids = raw["declaration_id"].dropna().astype(str).tolist()
        known = stored_scores.known_declaration_ids(session, ids)
        try:
            outcomes = validate_outcomes(raw, source=source, known_declaration_ids=known)
        except DataValidationError as error:
            problems = _outcome_problems(error)
            unknown = all(p.message.startswith(UNKNOWN_DECLARATION) for p in problems)
            raise OutcomesRejected(problems, unknown=unknown) from None

        def write(db: Session) -> stored_outcomes.OutcomeWrite:
            try:
                # which declarations had an outcome before: only a first outcome changes history
                already = intelligence.declarations_with_outcomes(db, outcomes["declaration_id"])
                added = stored_waivers.added_declarations(db, outcomes["declaration_id"])
                written = stored_outcomes.record_outcomes(
                    db, outcomes, draws=draws, officer_added=added
                )
                intelligence.count_outcomes(db, outcomes, already)
                return written
            except stored_outcomes.OutcomeDrawError as error:
                raise OutcomesRejected(
                    [
                        OutcomeProblem(
                            row,
                            column,
                            message,
                            "name the draw whose worklist listed the declaration (version of "
                            "GET /v1/worklist), and leave selection_reason and "
                            "selection_probability empty or as that pick gives them",
                        )
                        for row, column, message in error.mismatches
                    ],
                    draw=True,
                ) from None
            except stored_outcomes.OutcomeConflictError as error:
                raise OutcomesRejected(
                    [
                        OutcomeProblem(
                            row,
                            "inspected_at",
                            "an outcome for this declaration and inspection time is already "
                            "recorded with different values",
                            "send the recorded values again (repeats are accepted), or record "
                            "the new inspection with its own inspected_at",
                        )
                        for row, _declaration in error.conflicts
                    ],
                    conflict=True,
                ) from None

        try:
            counts = write(session)
        finally:
            session.rollback()
    return counts, write


def record_outcomes(
    store: Store,
    raw: pd.DataFrame,
    *,
    source: str = "request",
    draws: Sequence[int | None] | None = None,
) -> stored_outcomes.OutcomeWrite:
    """`planned_outcomes` committed at once, for callers without a consultation record."""
    written, write = planned_outcomes(store, raw, source=source, draws=draws)
    with store.transaction() as session:
        write(session)
    return written


# -- export for retraining ---------------------------------------------------------------------


@dataclass(frozen=True)
class ExportSummary:
    """What `export_training_tables` wrote."""

    declarations_path: Path
    outcomes_path: Path
    declarations: int
    outcomes: int
    with_probability: int
    random: int
    watchlist_path: Path | None = None
    timeline_path: Path | None = None
    watchlist: int = 0


def export_training_tables(store: Store, directory: Path | str) -> ExportSummary:
    """Write ``declarations.parquet``, ``outcomes.parquet`` and ``watchlist.parquet``
    (canonical) and ``timeline.parquet`` from the store.

    Outcomes carry the selection probability of the worklist pick that sent each declaration
    to inspection, so training can weigh them by inverse propensity. The watchlist holds every
    entry ever stored, with ``added_at`` and ``withdrawn_at``; the timeline, per declaration,
    when the store first scored it (``scored_at``) and recorded its first outcome
    (``outcome_recorded_at``): what training needs to rebuild each declaration's live
    features as it was scored (features.live.live_point_in_time, docs/internals.md).
    """
    with store.transaction() as session:
        raw_declarations, raw_outcomes = export.export_tables(session)
        raw_watchlist = stored_watchlist.export_watchlist(session)
        timeline = intelligence.export_timeline(session)
    extras = [c for c in raw_declarations.columns if c.startswith(EXTRA_PREFIX)]
    declarations = validate_declarations(raw_declarations, source="store", extra_columns=extras)
    outcomes = validate_outcomes(
        raw_outcomes, source="store", known_declaration_ids=declarations["declaration_id"]
    )
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    declarations_path = out / "declarations.parquet"
    outcomes_path = out / "outcomes.parquet"
    declarations.to_parquet(declarations_path, index=False)
    outcomes.to_parquet(outcomes_path, index=False)
    watchlist = validate_watchlist(raw_watchlist[list(WATCHLIST_COLUMNS)], source="store")
    for name in ("id", "added_by", "added_at", "withdrawn_at", "replaces"):
        watchlist[name] = raw_watchlist[name].to_numpy()
    for name in ("added_at", "withdrawn_at"):
        watchlist[name] = pd.to_datetime(watchlist[name], utc=True)
    watchlist_path = out / "watchlist.parquet"
    timeline_path = out / "timeline.parquet"
    watchlist.to_parquet(watchlist_path, index=False)
    timeline.to_parquet(timeline_path, index=False)
    return ExportSummary(
        watchlist_path=watchlist_path,
        timeline_path=timeline_path,
        watchlist=len(watchlist),
        declarations_path=declarations_path,
        outcomes_path=outcomes_path,
        declarations=len(declarations),
        outcomes=len(outcomes),
        with_probability=int(outcomes["selection_probability"].notna().sum()),
        random=int((outcomes["selection_reason"] == "random").sum()),
    )
