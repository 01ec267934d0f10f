"""Request and response models of the HTTP API (DESIGN.md, Service).

A declaration payload carries the canonical fields of `features.schema`; pydantic checks
types, ranges and closed vocabularies at the edge so that a bad field is answered with its
path and what was expected. The payload then becomes a raw frame for
`features.validation.validate_declarations`, the one function that produces canonical frames
for training, batch scoring and the API alike.

Error messages here never include the submitted value: error bodies must not echo
declaration contents.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any

import pandas as pd
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from features.schema import (
    COUNTRY_CODES,
    DECLARATION_COLUMNS,
    EXTRA_PREFIX,
    FLOWS,
    TRANSPORT_MODES,
    VEHICLE_TYPES,
    WCO_TRANSPORT_MODE_DIGITS,
)
from models.bundle import ScoredDeclaration
from serving.base import MAX_REQUEST_ITEMS, ModelRef, ReasonOut

MAX_ID_CHARS = 200
MAX_TEXT_CHARS = 2000
MAX_ITINERARY_CHARS = 200
# A list itinerary holds as many countries as the string form can ("GR>MK>RS": 3 per code).
MAX_ITINERARY_COUNTRIES = (MAX_ITINERARY_CHARS + 1) // 3
# Extra model features (x_ fields): how many, how long a name, how large a value.
MAX_EXTRA_FIELDS = 50
MAX_EXTRA_NAME_CHARS = 64
MAX_EXTRA_TEXT_CHARS = MAX_ID_CHARS
MAX_EXTRA_MAGNITUDE = 1e15


def _one_of(allowed: Sequence[str]) -> Callable[[str], str]:
    """A check accepting ``allowed`` in any letter case; the message lists the choices only."""
    canonical = frozenset(allowed)
    listed = ", ".join(allowed)

    def check(value: str) -> str:
        if value.strip().lower() not in canonical:
            raise ValueError(f"expected one of {listed}")
        return value

    return check


def _enum_schema(allowed: Sequence[str]) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "enum": list(allowed)})


def _check_country(value: str) -> str:
    if value.strip().upper() not in COUNTRY_CODES:
        raise ValueError("expected an ISO 3166-1 alpha-2 country code (or XK, ZZ for unknown)")
    return value


Identifier = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_ID_CHARS)
]
FreeText = Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)]
Country = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=2, max_length=2),
    AfterValidator(_check_country),
]
HsCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{6,10}$")]
Amount = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0)]
_TRANSPORT_MODE_WORDS = (*TRANSPORT_MODES, *sorted(WCO_TRANSPORT_MODE_DIGITS))
Flow = Annotated[str, AfterValidator(_one_of(FLOWS)), _enum_schema(FLOWS)]
TransportMode = Annotated[
    str, AfterValidator(_one_of(_TRANSPORT_MODE_WORDS)), _enum_schema(_TRANSPORT_MODE_WORDS)
]
VehicleType = Annotated[str, AfterValidator(_one_of(VEHICLE_TYPES)), _enum_schema(VEHICLE_TYPES)]


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


class Declaration(BaseModel):
    """One customs declaration, canonical fields (DESIGN.md, Canonical declaration).

    Extra source columns kept as model features may be sent under their ``x_`` names: at
    most 50, names of at most 64 characters, values short text (200 characters), finite
    numbers (magnitude at most 1e15), booleans or null.
    """

    model_config = ConfigDict(extra="allow", json_schema_extra=_extra_fields_schema)

    declaration_id: Identifier
    lodged_at: datetime = Field(description="ISO 8601; a date alone is midnight UTC")
    office_id: Identifier = Field(description="customs office or border crossing point")
    flow: Flow | None = Field(None, description="import when absent")
    procedure_code: Identifier | None = None
    transport_mode: TransportMode = Field(description="mode at the border; WCO digits mapped")
    vehicle_id: Identifier | None = Field(
        None, description="plate, container number or postal tracking id"
    )
    vehicle_type: VehicleType | None = None
    declarant_id: Identifier
    importer_id: Identifier
    exporter_id: Identifier | None = Field(None, description="consignor or seller")
    carrier_id: Identifier | None = Field(None, description="haulier or courier")
    origin_country: Country
    dispatch_country: Country
    destination_country: Country | None = None
    itinerary: (
        Annotated[list[Country], Field(max_length=MAX_ITINERARY_COUNTRIES)]
        | Annotated[str, StringConstraints(max_length=MAX_ITINERARY_CHARS)]
        | None
    ) = Field(None, description='countries of routing: a list, or one string "GR>MK>RS"')
    hs_code: HsCode = Field(description="commodity code, 6 to 10 digits")
    goods_description: FreeText | None = None
    packages: Count | None = None
    gross_mass_kg: Amount | None = None
    net_mass_kg: Amount
    customs_value_eur: Amount
    duty_rate: Amount | None = Field(None, description="percent")

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


class ScoreRequest(BaseModel):
    """Declarations to score, and how many reasons to return for each."""

    model_config = ConfigDict(extra="forbid")

    declarations: list[Declaration] = Field(min_length=1, max_length=MAX_REQUEST_ITEMS)
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
