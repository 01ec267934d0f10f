"""Request and response models of the operations routes: declarations, worklists, outcomes.

As in `serving.scoring.schemas`, pydantic checks each field by its canonical rule at the edge and
error messages never echo submitted values; the checked payload then goes through
`features.validation.validate_outcomes`, the one validation of outcome tables.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from features.rules import pydantic_fields
from features.schema import OUTCOME_COLUMNS, OUTCOME_FIELDS
from serving.base import ModelRef, ReasonOut, request_items

# Each field checked and documented by its canonical rule (features.schema, features.rules).
RULE = pydantic_fields(OUTCOME_FIELDS)


class Outcome(BaseModel):
    """One inspection outcome (DESIGN.md, Inspection outcome)."""

    model_config = ConfigDict(extra="forbid")

    declaration_id: Annotated[str, RULE["declaration_id"]]
    inspected_at: Annotated[datetime, RULE["inspected_at"]] = Field(
        description="ISO 8601; a date alone is midnight UTC; 1990 to 2100"
    )
    inspection_type: Annotated[str | None, RULE["inspection_type"]] = Field(
        "physical", description="physical when absent"
    )
    selection_reason: Annotated[str | None, RULE["selection_reason"]] = Field(
        None, description="taken from the worklist pick when absent"
    )
    selection_probability: Annotated[float | None, RULE["selection_probability"]] = Field(
        None, description="taken from the worklist pick when absent"
    )
    result: Annotated[str, RULE["result"]]
    weapons_found: Annotated[bool | None, RULE["weapons_found"]] = None
    migrants_found: Annotated[int | None, RULE["migrants_found"]] = None
    revenue_irregularity: Annotated[bool | None, RULE["revenue_irregularity"]] = None
    additional_duty_eur: Annotated[float | None, RULE["additional_duty_eur"]] = None
    concealment: Annotated[str | None, RULE["concealment"]] = None
    notes: Annotated[str | None, RULE["notes"]] = None
    draw_version: int | None = Field(
        None,
        ge=1,
        le=2**31 - 1,
        description="the worklist draw the officer acted on, by its version (GET "
        "/v1/worklist's version; the declaration's office and day name the worklist): its "
        "pick gives the selection reason and probability; when absent, the draw in force at "
        "inspected_at",
    )


# A realistic request, shown in the OpenAPI document (its declaration is the example of
# POST /v1/scores): clients and the fuzz test start from it.
EXAMPLE: dict[str, Any] = {
    "outcomes": [
        {
            "declaration_id": "MK-2024-0001734",
            "inspected_at": "2024-03-01T10:40:00+01:00",
            "inspection_type": "physical",
            "selection_reason": "model",
            "selection_probability": 1.0,
            "result": "irregular",
            "weapons_found": True,
            "migrants_found": 0,
            "revenue_irregularity": False,
            "additional_duty_eur": 0.0,
            "concealment": "rifle parts behind a false panel in the trailer",
            "notes": "case 2024/118",
        }
    ]
}


class OutcomeRequest(BaseModel):
    """One or many inspection outcomes, stored all together or not at all."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE]})

    outcomes: list[Outcome] = request_items(
        "each for a declaration scored before (POST /v1/scores)"
    )


class OutcomeResponse(BaseModel):
    """What POST /v1/outcomes stored: new outcomes, and repeats already stored identically."""

    recorded: int
    already_recorded: int


def outcomes_frame(outcomes: list[Outcome]) -> pd.DataFrame:
    """The raw frame `validate_outcomes` reads, canonical columns in order (the draw each
    outcome names is passed beside it)."""
    records = [outcome.model_dump(mode="json") for outcome in outcomes]
    return pd.DataFrame.from_records(records, columns=list(OUTCOME_COLUMNS))


class OutcomeOut(BaseModel):
    """A recorded inspection outcome."""

    declaration_id: str
    inspected_at: datetime
    inspection_type: str
    selection_reason: str | None
    selection_probability: float | None
    result: str
    weapons_found: bool
    migrants_found: float | None
    revenue_irregularity: bool
    additional_duty_eur: float | None
    concealment: str | None
    notes: str | None
    recorded_at: datetime
    draw_version: int | None = Field(
        None,
        description="the version of the worklist draw this inspection followed (none outside "
        "worklists)",
    )
    profile_id: str | None = Field(
        None, description="the risk profile whose worklist pick this inspection followed"
    )


class StoredScore(BaseModel):
    """One scoring of a declaration as the store kept it."""

    model: ModelRef
    scored_at: datetime
    risk: dict[str, float]
    overall: float
    lane: str
    reasons: list[ReasonOut]


class DeclarationDetail(BaseModel):
    """A scored declaration: its canonical fields, latest score and reasons, and outcomes."""

    declaration_id: str
    office_id: str = Field(
        description="the office it was lodged at, fixed when first scored: the one its "
        "remit checks read"
    )
    declaration: dict[str, Any]
    latest: StoredScore
    times_scored: int
    outcomes: list[OutcomeOut]


class WorklistPick(BaseModel):
    """One declaration to inspect: why it was picked and with what probability."""

    rank: int
    declaration_id: str
    reason: str = Field(
        pattern=r"^(model|random|rule|profile:[A-Za-z0-9][A-Za-z0-9._-]{0,63})$",
        description="profile:<id> (a risk profile selected it: mandatory), model (highest "
        "expected harm), random (exploration), or rule; an outcome records a profile's pick "
        "as rule",
    )
    profile_id: str | None = Field(None, description="the risk profile that selected it")
    selection_probability: float = Field(
        description="probability this declaration was picked: 1, or a profile's share, for a "
        "profile's pick; for the model's and random picks, given the profiles' picks"
    )
    expected_harm: float
    risk: dict[str, float]
    overall: float
    lane: str


class Worklist(BaseModel):
    """Declarations to inspect at an office on a day, within its capacity: one draw."""

    version: int = Field(
        description="this draw, the nth of the office's day: name it as draw_version in the "
        "outcomes of its picks (POST /v1/outcomes); scoring new declarations draws again, and "
        "earlier draws keep their picks and probabilities"
    )
    office_id: str
    date: date
    capacity: int
    exploration_share: float
    candidates: int = Field(description="declarations scored for this office and day")
    created_at: datetime
    mandatory: int = Field(0, description="picks risk profiles made: listed first, all of them")
    capacity_exceeded: bool = Field(
        False,
        description="the profiles' mandatory picks alone exceed the capacity: every one is "
        "listed, and the model and exploration get no slot",
    )
    picks: list[WorklistPick]


class CapacityRequest(BaseModel):
    """An office's daily inspection capacity, from which its lane thresholds are refitted."""

    model_config = ConfigDict(extra="forbid")

    capacity: int = Field(
        ge=0, le=10_000, description="physical inspections (red lane) the office can do a day"
    )
    yellow_capacity: int | None = Field(
        None,
        ge=0,
        le=10_000,
        description="documentary checks (yellow lane) a day; absent: the model's yellow share",
    )
    window_days: int = Field(
        28, ge=1, le=366, description="days of recent scores (by lodging day, up to today)"
    )


class LaneFit(BaseModel):
    """How an office's thresholds were found from its recent scores."""

    first_day: date
    last_day: date
    scores: int = Field(description="declarations scored by the model in the window")
    days: int = Field(description="lodging days with scores in the window")
    declarations_per_day: float
    profile_red_per_day: float = Field(description="red lanes risk profiles set, a day")
    profile_yellow_per_day: float = Field(description="yellow lanes risk profiles set, a day")
    exploration_per_day: float = Field(description="random picks a day (the exploration share)")
    red_share: float = Field(description="share of the other declarations the model sends red")
    yellow_share: float = Field(description="share of them the model sends yellow")


class Thresholds(BaseModel):
    """Overall risk at or above which the model lanes red or yellow (null: nobody)."""

    red: float | None
    yellow: float | None


class OfficeCapacity(BaseModel):
    """An office's capacity and the lane thresholds in force for it."""

    office_id: str
    capacity: int
    yellow_capacity: int | None
    thresholds: Thresholds
    model: ModelRef = Field(description="the model whose risks the thresholds were fitted on")
    in_force: bool = Field(
        description="the thresholds lane new scores: the model serving is the one they were "
        "fitted for (else the model's own lanes apply until the capacity is set again)"
    )
    fit: LaneFit
    set_by: str
    set_at: datetime
