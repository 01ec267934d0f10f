"""Request and response models of the operations routes: declarations, worklists, outcomes.

As in `serving.scoring.schemas`, pydantic checks types and closed vocabularies at the edge and error
messages never echo submitted values; the checked payload then goes through
`features.validation.validate_outcomes`, the one validation of outcome tables.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from features.schema import INSPECTION_TYPES, OUTCOME_COLUMNS, RESULTS, SELECTION_REASONS
from serving.base import MAX_REQUEST_ITEMS, ModelRef, ReasonOut
from serving.scoring.schemas import FreeText, Identifier, _enum_schema, _one_of

InspectionType = Annotated[
    str, AfterValidator(_one_of(INSPECTION_TYPES)), _enum_schema(INSPECTION_TYPES)
]
SelectionReasonIn = Annotated[
    str, AfterValidator(_one_of(SELECTION_REASONS)), _enum_schema(SELECTION_REASONS)
]
Result = Annotated[str, AfterValidator(_one_of(RESULTS)), _enum_schema(RESULTS)]


class Outcome(BaseModel):
    """One inspection outcome (DESIGN.md, Inspection outcome)."""

    model_config = ConfigDict(extra="forbid")

    declaration_id: Identifier
    inspected_at: datetime = Field(description="ISO 8601; a date alone is midnight UTC")
    inspection_type: InspectionType | None = Field(None, description="physical when absent")
    selection_reason: SelectionReasonIn | None = Field(
        None, description="taken from the worklist pick when absent"
    )
    selection_probability: float | None = Field(
        None,
        ge=0,
        le=1,
        allow_inf_nan=False,
        description="taken from the worklist pick when absent",
    )
    result: Result
    weapons_found: bool | None = None
    migrants_found: int | None = Field(None, ge=0)
    revenue_irregularity: bool | None = None
    additional_duty_eur: float | None = Field(None, ge=0, allow_inf_nan=False)
    concealment: FreeText | None = None
    notes: FreeText | None = None


class OutcomeRequest(BaseModel):
    """One or many inspection outcomes, stored all together or not at all."""

    model_config = ConfigDict(extra="forbid")

    outcomes: list[Outcome] = Field(min_length=1, max_length=MAX_REQUEST_ITEMS)


class OutcomeResponse(BaseModel):
    """What POST /v1/outcomes stored: new outcomes, and repeats already stored identically."""

    recorded: int
    already_recorded: int


def outcomes_frame(outcomes: list[Outcome]) -> pd.DataFrame:
    """The raw frame `validate_outcomes` reads, canonical columns in order."""
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
    declaration: dict[str, Any]
    latest: StoredScore
    times_scored: int
    outcomes: list[OutcomeOut]


class WorklistPick(BaseModel):
    """One declaration to inspect: why it was picked and with what probability."""

    rank: int
    declaration_id: str
    reason: Literal["model", "random", "rule"]
    selection_probability: float = Field(description="probability this declaration was picked")
    expected_harm: float
    risk: dict[str, float]
    overall: float
    lane: str


class Worklist(BaseModel):
    """Declarations to inspect at an office on a day, within its capacity."""

    office_id: str
    date: date
    capacity: int
    exploration_share: float
    candidates: int = Field(description="declarations scored for this office and day")
    created_at: datetime
    picks: list[WorklistPick]
