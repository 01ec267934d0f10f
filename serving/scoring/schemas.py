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
from typing import Annotated, Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from features.rules import pydantic_fields
from features.schema import DECLARATION_COLUMNS, DECLARATION_FIELDS, EXTRA_PREFIX, MAX_ID_CHARS
from models.bundle import ScoredDeclaration
from serving.base import ModelRef, ReasonOut, RiskBasis, request_items

# Each field checked and documented by its canonical rule (features.schema, features.rules).
RULE = pydantic_fields(DECLARATION_FIELDS)
# Extra model features (x_ fields): how many, how long a name, how large a value.
MAX_EXTRA_FIELDS = 50
MAX_EXTRA_NAME_CHARS = 64
MAX_EXTRA_TEXT_CHARS = MAX_ID_CHARS  # an x_ text value is an id-like code
MAX_EXTRA_MAGNITUDE = 1e15


def _extra_fields_schema(schema: dict[str, Any]) -> None:
    """State the ``x_`` rules in the JSON schema: the name pattern and length, the values."""
    name_chars = MAX_EXTRA_NAME_CHARS - len(EXTRA_PREFIX)
    schema["patternProperties"] = {
        f"^{EXTRA_PREFIX}[\\s\\S]{{0,{name_chars}}}$": {
            "anyOf": [
                {"type": "string", "maxLength": MAX_EXTRA_TEXT_CHARS},
                {
                    "type": "number",
                    "minimum": -MAX_EXTRA_MAGNITUDE,
                    "maximum": MAX_EXTRA_MAGNITUDE,
                },
                {"type": "boolean"},
                {"type": "null"},
            ]
        }
    }
    schema["additionalProperties"] = False
    # At most MAX_EXTRA_FIELDS x_ fields: a schema can only bound all properties together.
    schema["maxProperties"] = len(schema["properties"]) + MAX_EXTRA_FIELDS


def _extra_value_problem(value: object) -> str | None:
    """What is wrong with an extra feature's value (never quoting it), or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        if len(value) > MAX_EXTRA_TEXT_CHARS:
            return f"text longer than {MAX_EXTRA_TEXT_CHARS} characters"
        return None
    if isinstance(value, int | float):
        # abs() first: an integer too large for a float makes isfinite() raise.
        if abs(value) > MAX_EXTRA_MAGNITUDE or not math.isfinite(value):
            return f"expected a finite number of magnitude at most {MAX_EXTRA_MAGNITUDE:.0e}"
        return None
    return "expected a string, number, boolean or null"


class Declaration(BaseModel):
    """One customs declaration, canonical fields (DESIGN.md, Canonical declaration).

    Extra source columns kept as model features may be sent under their ``x_`` names: at
    most 50, names of at most 64 characters, values short text (200 characters), finite
    numbers (magnitude at most 1e15), booleans or null.
    """

    model_config = ConfigDict(extra="allow", json_schema_extra=_extra_fields_schema)

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
        """Unknown keys are typos unless they name an extra model feature (``x_`` prefix);
        extra features are few, short-named, and hold short text or finite numbers."""
        extras = self.model_extra or {}
        if len(extras) > MAX_EXTRA_FIELDS:
            raise ValueError(f"{len(extras)} extra fields, at most {MAX_EXTRA_FIELDS}")
        for key, value in extras.items():
            if len(key) > MAX_EXTRA_NAME_CHARS:
                raise ValueError(f"a field name longer than {MAX_EXTRA_NAME_CHARS} characters")
            if not key.startswith(EXTRA_PREFIX):
                raise ValueError(
                    f"unknown field '{key}': expected the canonical declaration fields, "
                    f"or extra model features named {EXTRA_PREFIX}..."
                )
            if problem := _extra_value_problem(value):
                raise ValueError(f"field '{key}': {problem}")
        return self


# A realistic request, shown in the OpenAPI document: clients and the fuzz test start from it.
EXAMPLE: dict[str, Any] = {
    "declarations": [
        {
            "declaration_id": "MK-2024-0001734",
            "lodged_at": "2024-03-01T08:15:00+01:00",
            "office_id": "MK001",
            "flow": "import",
            "transport_mode": "road",
            "vehicle_id": "SK1234AB",
            "vehicle_type": "truck",
            "declarant_id": "DCL-0042",
            "importer_id": "IMP-1093",
            "exporter_id": "EXP-5521",
            "carrier_id": "CAR-77",
            "origin_country": "TR",
            "dispatch_country": "GR",
            "destination_country": "MK",
            "itinerary": "GR>MK",
            "hs_code": "9305.10",
            "goods_description": "spare parts for hunting rifles",
            "packages": 12,
            "gross_mass_kg": 410.0,
            "net_mass_kg": 385.5,
            "customs_value_eur": 5200.0,
            "duty_rate": 2.7,
        }
    ],
    "top_k": 3,
}


class ScoreRequest(BaseModel):
    """Declarations to score, and how many reasons to return for each."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE]})

    declarations: list[Declaration] = request_items(
        "each with its own declaration_id (a repeated id in one request is refused)"
    )
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
        """The response form of a bundle's score.

        Built without validation (``model_construct``): every value comes from the bundle's
        own typed results, and validating a response per request cost more than building it.
        """
        return cls.model_construct(
            declaration_id=str(scored.declaration_id),
            risk={threat: float(risk) for threat, risk in scored.risk.items()},
            overall=float(scored.overall),
            lane=str(scored.lane),
            reasons=[ReasonOut.model_construct(**r.to_dict()) for r in scored.reasons],
        )


class ScoreResponse(BaseModel):
    """Response of POST /v1/scores (keys fixed by DESIGN.md)."""

    model: ModelRef
    risk_basis: RiskBasis = Field(
        "inspected_only",
        description="what every risk of the response is a rate of: all_declarations when "
        "training corrected for selection bias, inspected_only when it could not (the rate "
        "among declarations like those past rules inspected)",
    )
    results: list[ScoreResult]


def declarations_frame(declarations: Sequence[Declaration]) -> pd.DataFrame:
    """The raw frame `validate_declarations` reads: canonical columns in order, then ``x_`` ones."""
    records = [declaration.model_dump(mode="json") for declaration in declarations]
    extras = sorted({key for record in records for key in record} - set(DECLARATION_COLUMNS))
    return pd.DataFrame.from_records(records, columns=[*DECLARATION_COLUMNS, *extras])
