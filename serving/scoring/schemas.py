"""Request and response models of the HTTP API (DESIGN.md, Service).

A declaration payload carries the canonical fields of `features.schema`; pydantic checks
each field by its canonical rule (`features.rules.pydantic_fields`: the same normalisation,
vocabularies, patterns, caps and ranges as files and batch scoring) so that a bad field is
answered with its path and what was expected. The payload then becomes a raw frame for
`features.validation.validate_declarations`, the one function that produces canonical frames
for training, batch scoring and the API alike.

Error messages here never include the submitted value: error bodies must not echo
declaration contents.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from features.rules import pydantic_fields
from features.schema import DECLARATION_COLUMNS, DECLARATION_FIELDS, EXTRA_PREFIX
from models.bundle import ScoredDeclaration
from serving.base import ModelRef, ReasonOut

# Each field checked and documented by its canonical rule (features.schema, features.rules).
RULE = pydantic_fields(DECLARATION_FIELDS)
ExtraValue = str | float | int | bool | None


class Declaration(BaseModel):
    """One customs declaration, canonical fields (DESIGN.md, Canonical declaration).

    Extra source columns kept as model features may be sent under their ``x_`` names.
    """

    model_config = ConfigDict(extra="allow")

    declaration_id: Annotated[str, RULE["declaration_id"]]
    lodged_at: Annotated[datetime, RULE["lodged_at"]] = Field(
        description="ISO 8601; a date alone is midnight UTC; 1990 to 2100"
    )
    office_id: Annotated[str, RULE["office_id"]] = Field(
        description="customs office or border crossing point"
    )
    flow: Annotated[str | None, RULE["flow"]] = Field("import", description="import when absent")
    procedure_code: Annotated[str | None, RULE["procedure_code"]] = None
    transport_mode: Annotated[str, RULE["transport_mode"]] = Field(
        description="mode at the border; WCO digits mapped"
    )
    vehicle_id: Annotated[str | None, RULE["vehicle_id"]] = Field(
        None, description="plate, container number or postal tracking id"
    )
    vehicle_type: Annotated[str | None, RULE["vehicle_type"]] = None
    declarant_id: Annotated[str, RULE["declarant_id"]]
    importer_id: Annotated[str, RULE["importer_id"]]
    exporter_id: Annotated[str | None, RULE["exporter_id"]] = Field(
        None, description="consignor or seller"
    )
    carrier_id: Annotated[str | None, RULE["carrier_id"]] = Field(
        None, description="haulier or courier"
    )
    origin_country: Annotated[str, RULE["origin_country"]]
    dispatch_country: Annotated[str, RULE["dispatch_country"]]
    destination_country: Annotated[str | None, RULE["destination_country"]] = None
    itinerary: Annotated[list[str] | str | None, RULE["itinerary"]] = Field(
        None, description='countries of routing: a list, or one string "GR>MK>RS"'
    )
    hs_code: Annotated[str, RULE["hs_code"]] = Field(description="commodity code, 6 to 10 digits")
    goods_description: Annotated[str | None, RULE["goods_description"]] = None
    packages: Annotated[int | None, RULE["packages"]] = None
    gross_mass_kg: Annotated[float | None, RULE["gross_mass_kg"]] = None
    net_mass_kg: Annotated[float, RULE["net_mass_kg"]]
    customs_value_eur: Annotated[float, RULE["customs_value_eur"]]
    duty_rate: Annotated[float | None, RULE["duty_rate"]] = Field(None, description="percent")

    @model_validator(mode="after")
    def _only_extra_features(self) -> Declaration:
        """Unknown keys are typos unless they name an extra model feature (``x_`` prefix)."""
        for key, value in (self.model_extra or {}).items():
            if not key.startswith(EXTRA_PREFIX):
                raise ValueError(
                    f"unknown field '{key}': expected the canonical declaration fields, "
                    f"or extra model features named {EXTRA_PREFIX}..."
                )
            if not isinstance(value, ExtraValue):  # type: ignore[arg-type]
                raise ValueError(f"field '{key}': expected a string, number, boolean or null")
        return self


class ScoreRequest(BaseModel):
    """Declarations to score, and how many reasons to return for each."""

    model_config = ConfigDict(extra="forbid")

    declarations: list[Declaration] = Field(min_length=1)
    top_k: int | None = Field(None, ge=0, description="reasons per declaration (default 5)")


class ScoreResult(BaseModel):
    """Per-threat calibrated risk, overall risk, lane and top reasons of one declaration."""

    declaration_id: str
    risk: dict[str, float]
    overall: float
    lane: str
    reasons: list[ReasonOut]

    @classmethod
    def from_scored(cls, scored: ScoredDeclaration) -> ScoreResult:
        """The response form of a bundle's score; batch scoring writes the same.

        Built without validation (``model_construct``): every value comes from the bundle's
        own typed results, and validating a response per request cost more than building it.
        """
        return cls.model_construct(
            declaration_id=str(scored.declaration_id),
            risk={threat: float(risk) for threat, risk in scored.risk.items()},
            overall=float(scored.overall),
            lane=str(scored.lane),
            reasons=[
                ReasonOut.model_construct(
                    threat=reason.threat,
                    feature=reason.feature,
                    value=None
                    if reason.value is None or not math.isfinite(reason.value)
                    else float(reason.value),
                    contribution=float(reason.contribution),
                    text=reason.text,
                    kind=reason.kind,
                    source_agency=reason.source_agency,
                    handling_code=reason.handling_code,
                )
                for reason in scored.reasons
            ],
        )


class ScoreResponse(BaseModel):
    """Response of POST /v1/scores (keys fixed by DESIGN.md)."""

    model: ModelRef
    results: list[ScoreResult]


def declarations_frame(declarations: Sequence[Declaration]) -> pd.DataFrame:
    """The raw frame `validate_declarations` reads: canonical columns in order, then ``x_`` ones."""
    records = [declaration.model_dump(mode="json") for declaration in declarations]
    extras = sorted({key for record in records for key in record} - set(DECLARATION_COLUMNS))
    return pd.DataFrame.from_records(records, columns=[*DECLARATION_COLUMNS, *extras])
