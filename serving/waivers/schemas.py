"""Request and response models of the waiver routes: a waiver, an addition, what a
declaration's selection and decisions are, and the counts risk managers review."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from serving.waivers.settings import CODE_PATTERN, MAX_REASON_CHARS, OTHER

# A written reason: some text that is not only blank, and not a novel.
Reason = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_REASON_CHARS, pattern=r"\S"),
]


class WaiverIn(BaseModel):
    """Waive the inspection a profile, the red lane or a worklist draw selected."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"code": "AEO"},
                {"code": OTHER, "reason": "inspected jointly with the border police at 09:40"},
            ]
        },
    )

    code: str = Field(
        pattern=CODE_PATTERN,
        description="a standard exception code of this service (GET /v1/waivers/codes); "
        f"{OTHER} when none fits, with the reason in words",
    )
    reason: Reason | None = Field(
        None,
        description=f"why, in words: required with {OTHER}, optional with a standard code "
        f"(at most {MAX_REASON_CHARS} characters)",
    )


class AdditionIn(BaseModel):
    """Add a declaration nothing selected to the inspections, as the officer's own pick."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "driver's account does not fit the load"}]},
    )

    reason: Reason = Field(description=f"why (at most {MAX_REASON_CHARS} characters)")


class SelectionOut(BaseModel):
    """What selects the declaration for inspection now."""

    selected: bool = Field(description="the red lane, a profile or a worklist draw picked it")
    lane: str
    profile_ids: list[str] = Field(description="the risk profiles that selected it")
    draw_version: int | None = Field(
        None, description="the newest worklist draw that picked it (GET /v1/worklist's version)"
    )
    pick_reason: str | None = Field(None, description="that pick's reason")
    selection_probability: float | None = Field(None, description="that pick's probability")


class OverrideOut(BaseModel):
    """A recorded waiver or addition: what it released or added, why, who and when."""

    declaration_id: str
    action: Literal["waiver", "addition"]
    office_id: str
    code: str | None = Field(description="the waiver's exception code (none for an addition)")
    reason: str | None
    lane: str | None = Field(description="the lane of the newest score when it was decided")
    profile_ids: list[str] = Field(description="the profiles whose selection it waived")
    draw_version: int | None = Field(description="the worklist draw whose pick it waived")
    pick_reason: str | None
    selection_probability: float | None = Field(
        description="of the waived pick; an addition's is unknown (none): an officer's own "
        "pick has no inclusion probability, and hit-rate estimates leave it out"
    )
    selection_reason: str | None = Field(
        description="what an outcome of this declaration records as its selection: officer "
        "for an addition"
    )
    recorded_by: str
    person: str | None
    recorded_at: datetime


class DeclarationOverrides(BaseModel):
    """A declaration's selection, and the waiver and addition recorded for it."""

    declaration_id: str
    selection: SelectionOut
    waivers: list[OverrideOut]
    additions: list[OverrideOut]


class WaiverCodeOut(BaseModel):
    """A standard exception code a waiver may give."""

    code: str
    label: str
    reason_required: bool


class WaiverCodes(BaseModel):
    """The standard exception codes of this service (SHIPRISK_WAIVER_CODES)."""

    codes: list[WaiverCodeOut]


class OfficeCount(BaseModel):
    office_id: str
    waivers: int
    additions: int


class CodeCount(BaseModel):
    code: str
    label: str | None = Field(description="none for a code no longer configured")
    waivers: int


class ProfileCount(BaseModel):
    profile_id: str
    waivers: int


class PickCount(BaseModel):
    pick: str = Field(
        description="what had selected the waived declarations: profile, rule, "
        "model, random (a worklist pick's reason) or red_lane"
    )
    waivers: int


class PeriodCount(BaseModel):
    start: date = Field(description="first day of the period (UTC)")
    waivers: int
    additions: int


class WaiverCounts(BaseModel):
    """Waivers and additions recorded in a window, within the caller's remit."""

    since: date | None
    until: date | None
    period: Literal["day", "week", "month"]
    waivers: int
    additions: int
    by_office: list[OfficeCount]
    by_code: list[CodeCount]
    by_profile: list[ProfileCount] = Field(
        description="a waiver counts for every profile that had selected its declaration"
    )
    by_pick: list[PickCount]
    by_period: list[PeriodCount]
