"""Waive a selected inspection, add one, list a declaration's, count them all.

A decision is planned first (the declaration's selection read, the request checked against
it and against the configured exception codes) and returned with the write that stores it, so
a route leaves the write to its consultation record's transaction
(`serving.deps.write_with_record`): the waiver and the record of who made it land together or
not at all. The write checks again that the declaration has no decision of that kind, so of
two concurrent waivers the second is refused, not lost.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from serving.base import Caller
from serving.store import waivers as stored
from serving.store import worklists
from serving.store.database import Store
from serving.store.tables import InspectionOverride
from serving.waivers.schemas import (
    AdditionIn,
    CodeCount,
    DeclarationOverrides,
    OfficeCount,
    OverrideOut,
    PeriodCount,
    PickCount,
    ProfileCount,
    SelectionOut,
    WaiverCodeOut,
    WaiverCodes,
    WaiverCounts,
    WaiverIn,
)
from serving.waivers.settings import OTHER, WaiverCode

OFFICER_SELECTION = "officer"  # the selection reason an added declaration's outcome records


class WaiverRefused(ValueError):
    """A waiver or addition that cannot be recorded.

    ``status``: 409 when the declaration's state does not allow it (nothing to waive, waived
    or added before, already selected); 422 when the request breaks a rule the schema cannot
    state (a code this service does not know, OTHER without a reason), with ``field``.
    """

    def __init__(self, status: int, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


@dataclass(frozen=True)
class PlannedDecision:
    """A decision to store: the answer it gives, and the write that stores it."""

    answer: OverrideOut
    write: Callable[[Session], object]


def code_list(codes: Sequence[WaiverCode]) -> WaiverCodes:
    """The configured codes as answered."""
    return WaiverCodes(
        codes=[
            WaiverCodeOut(code=c.code, label=c.label, reason_required=c.code == OTHER)
            for c in codes
        ]
    )


def selection_of(store: Store, declaration_id: str) -> stored.Selection | None:
    """What selects the declaration now; None when it was never scored."""
    with store.sessions() as session:
        return stored.current_selection(session, declaration_id)


def _out(override: InspectionOverride, versions: Mapping[int, int]) -> OverrideOut:
    return OverrideOut(
        declaration_id=override.declaration_id,
        action=override.action,  # type: ignore[arg-type]
        office_id=override.office_id,
        code=override.code,
        reason=override.reason,
        lane=override.lane,
        profile_ids=list(override.profile_ids or []),
        draw_version=None if override.draw_id is None else versions.get(override.draw_id),
        pick_reason=override.pick_reason,
        selection_probability=override.selection_probability,
        selection_reason=OFFICER_SELECTION if override.action == stored.ADDITION else None,
        recorded_by=override.recorded_by,
        person=override.person,
        recorded_at=override.recorded_at,
    )


def _selection_out(selection: stored.Selection, versions: Mapping[int, int]) -> SelectionOut:
    return SelectionOut(
        selected=selection.selected,
        lane=selection.lane,
        profile_ids=list(selection.profile_ids),
        draw_version=None if selection.draw_id is None else versions.get(selection.draw_id),
        pick_reason=selection.pick_reason,
        selection_probability=selection.selection_probability,
    )


def declaration_overrides(
    store: Store, declaration_id: str
) -> tuple[str, DeclarationOverrides] | None:
    """(the office it was lodged at, its selection and decisions); None when never scored."""
    with store.sessions() as session:
        selection = stored.current_selection(session, declaration_id)
        if selection is None:
            return None
        decisions = stored.overrides_of(session, declaration_id)
        versions = worklists.draw_versions(
            session, [selection.draw_id, *(d.draw_id for d in decisions)]
        )
    answers = [_out(decision, versions) for decision in decisions]
    return selection.office_id, DeclarationOverrides(
        declaration_id=declaration_id,
        selection=_selection_out(selection, versions),
        waivers=[a for a in answers if a.action == stored.WAIVER],
        additions=[a for a in answers if a.action == stored.ADDITION],
    )


def _check_code(waiver: WaiverIn, codes: Sequence[WaiverCode]) -> None:
    known = [c.code for c in codes]
    if waiver.code not in known:
        raise WaiverRefused(
            422, f"not a waiver code of this service: use one of {', '.join(known)}", field="code"
        )
    if waiver.code == OTHER and waiver.reason is None:
        raise WaiverRefused(422, f"a waiver with code {OTHER} must give its reason", field="reason")


def _refuse_repeat(store: Store, selection: stored.Selection, action: str) -> None:
    """409 before anything is written when the declaration has a decision of this kind."""
    with store.sessions() as session:
        decisions = stored.overrides_of(session, selection.declaration_id)
    if any(decision.action == action for decision in decisions):
        raise WaiverRefused(409, f"this declaration already has a {action}")


def _planned(
    store: Store,
    selection: stored.Selection,
    action: str,
    *,
    caller: Caller,
    now: datetime | None,
    **values: object,
) -> PlannedDecision:
    """The decision ``action`` with ``values``, once its own checks passed: 409 before
    anything is written when the declaration has one of this kind already."""
    _refuse_repeat(store, selection, action)
    at = now or datetime.now(UTC)

    def override() -> InspectionOverride:
        return _row(selection, action, caller, at, **values)

    with store.sessions() as session:
        versions = worklists.draw_versions(session, [selection.draw_id])

    def write(session: Session) -> None:  # a new row per try: a retried commit adds it again
        try:
            stored.add_override(session, override())
        except stored.OverrideConflict as error:
            raise WaiverRefused(409, str(error)) from None

    return PlannedDecision(_out(override(), versions), write)


def _row(
    selection: stored.Selection, action: str, caller: Caller, at: datetime, **values: object
) -> InspectionOverride:
    return InspectionOverride(
        declaration_id=selection.declaration_id,
        action=action,
        office_id=selection.office_id,
        lane=selection.lane,
        profile_id=selection.profile_ids[0] if selection.profile_ids else None,
        profile_ids=list(selection.profile_ids),
        draw_id=selection.draw_id,
        pick_reason=selection.pick_reason,
        selection_probability=selection.selection_probability,
        score_id=selection.score_id,
        recorded_by=caller.key.name,
        key_id=caller.key.key_id,
        person=None if caller.person is None else caller.person.name,
        recorded_at=at,
        **values,
    )


def plan_waiver(
    store: Store,
    selection: stored.Selection,
    waiver: WaiverIn,
    *,
    codes: Sequence[WaiverCode],
    caller: Caller,
    now: datetime | None = None,
) -> PlannedDecision:
    """Plan the waiver of a selected declaration's inspection.

    Raises:
        WaiverRefused: 422 for an unknown code or OTHER without a reason; 409 when nothing
            selected the declaration or it was waived before.
    """
    _check_code(waiver, codes)
    if not selection.selected:
        raise WaiverRefused(
            409,
            "nothing selected this declaration for inspection (not in the red lane, no risk "
            "profile, no worklist pick): there is nothing to waive",
        )
    return _planned(
        store,
        selection,
        stored.WAIVER,
        caller=caller,
        now=now,
        code=waiver.code,
        reason=waiver.reason,
    )


def plan_addition(
    store: Store,
    selection: stored.Selection,
    addition: AdditionIn,
    *,
    caller: Caller,
    now: datetime | None = None,
) -> PlannedDecision:
    """Plan an officer's addition of a declaration nothing selected.

    Raises:
        WaiverRefused: 409 when the declaration is already selected (record its outcome
            under that selection) or was added before.
    """
    if selection.selected:
        raise WaiverRefused(
            409,
            "this declaration is already selected for inspection (red lane, a risk profile or "
            "a worklist pick): record its outcome, or waive it",
        )
    return _planned(
        store, selection, stored.ADDITION, caller=caller, now=now, code=None, reason=addition.reason
    )


def counts(
    store: Store,
    *,
    since: date | None,
    until: date | None,
    period: str,
    offices: Collection[str] | None,
    profile_id: str | None,
    codes: Sequence[WaiverCode],
) -> WaiverCounts:
    """Waivers and additions of the window (``since`` inclusive, ``until`` exclusive) in the
    offices given (None: all)."""
    with store.sessions() as session:
        found = stored.override_counts(
            session,
            since=since,
            until=until,
            period=period,
            offices=offices,
            profile_id=profile_id,
        )
    labels = {c.code: c.label for c in codes}
    return WaiverCounts(
        since=since,
        until=until,
        period=period,  # type: ignore[arg-type]
        waivers=found.waivers,
        additions=found.additions,
        by_office=[
            OfficeCount(
                office_id=office,
                waivers=n[stored.WAIVER],
                additions=n[stored.ADDITION],
            )
            for office, n in sorted(found.by_office.items())
        ],
        by_code=[
            CodeCount(code=code, label=labels.get(code), waivers=n)
            for code, n in sorted(found.by_code.items())
        ],
        by_profile=[
            ProfileCount(profile_id=profile, waivers=n)
            for profile, n in sorted(found.by_profile.items())
        ],
        by_pick=[PickCount(pick=pick, waivers=n) for pick, n in sorted(found.by_pick.items())],
        by_period=[
            PeriodCount(start=start, waivers=n[stored.WAIVER], additions=n[stored.ADDITION])
            for start, n in sorted(found.by_period.items())
        ],
    )
