"""Request and response models of the watchlist routes.

Each field is checked and documented by its canonical rule (features.schema's
WATCHLIST_FIELDS through features.rules), so a bad entry gets 422 naming its field path
(``body.entries.0.handling_code``) and never the value; the checked payload then goes
through `features.validation.validate_watchlist`, the one validation of watchlist tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from features.rules import json_schema, pydantic_fields
from features.schema import (
    HANDLING_CODES,
    MAX_ID_CHARS,
    MAX_TEXT_CHARS,
    WATCHLIST_COLUMNS,
    WATCHLIST_ENTITY_TYPES,
    WATCHLIST_FIELDS,
)
from features.schema import Field as Rule
from serving.store.watchlist import HS_PREFIX_DIGITS

RULE = pydantic_fields(WATCHLIST_FIELDS)
MAX_ENTRIES = 1000  # per request; larger lists go through `shiprisk watchlist import`
# The entity types whose entity_id is an id (any text that is not blank).
ID_TYPES = [kind for kind in WATCHLIST_ENTITY_TYPES if kind not in ("itinerary", "hs_code")]


def _stated_rules(schema: dict[str, Any]) -> None:
    """What an entry's fields must be together, stated in its OpenAPI schema (each a subset of
    what the validation accepts, so a schema-valid entry is stored): an itinerary entry's id
    is countries joined by '>' (features.rules' itinerary rule), an hs_code entry's a prefix
    of 2 to 10 digits, and an H3 entry carries its restrictions in handling_note. The one rule
    JSON Schema cannot state, valid_to not before valid_from, is in the description."""
    route = json_schema(Rule("entity_id", "itinerary", True, max_chars=MAX_ID_CHARS))
    route_text = next(part for part in route["anyOf"] if part["type"] == "string")  # type: ignore[index]
    note = json_schema(Rule("handling_note", "string", True, max_chars=MAX_TEXT_CHARS))
    low, high = HS_PREFIX_DIGITS
    open_codes = [code for code in HANDLING_CODES if code != "h3"]
    schema["allOf"] = [
        {
            "anyOf": [
                {"properties": {"entity_type": {"enum": ID_TYPES}}},
                {
                    "properties": {
                        "entity_type": {"const": "itinerary"},
                        "entity_id": route_text,
                    }
                },
                {
                    "properties": {
                        "entity_type": {"const": "hs_code"},
                        "entity_id": {"type": "string", "pattern": f"^[0-9]{{{low},{high}}}$"},
                    }
                },
            ]
        },
        {
            "anyOf": [
                {
                    "properties": {
                        "handling_code": {"anyOf": [{"enum": open_codes}, {"type": "null"}]}
                    }
                },
                {
                    "required": ["handling_code", "handling_note"],
                    "properties": {"handling_code": {"const": "h3"}, "handling_note": note},
                },
            ]
        },
    ]


class WatchlistEntryIn(BaseModel):
    """One watchlist entry as a risk manager writes it (DESIGN.md, Watchlist).

    valid_to, when given, must not be before valid_from.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra=_stated_rules)

    entity_type: Annotated[str, RULE["entity_type"]] = Field(
        description="the declaration field it matches: importer_id, exporter_id, "
        "declarant_id, carrier_id, vehicle_id, itinerary (a run of countries, GR>MK) or "
        "hs_code (a prefix of 2 to 10 digits)"
    )
    entity_id: Annotated[str, RULE["entity_id"]]
    threat: Annotated[str, RULE["threat"]]
    valid_from: Annotated[datetime, RULE["valid_from"]]
    valid_to: Annotated[datetime | None, RULE["valid_to"]] = None
    source: Annotated[str | None, RULE["source"]] = Field(
        None, description="the provider's text; never shown to officers for H2/H3 entries"
    )
    source_agency: Annotated[str | None, RULE["source_agency"]] = None
    source_country: Annotated[str | None, RULE["source_country"]] = None
    handling_code: Annotated[str | None, RULE["handling_code"]] = Field(
        "h0", description="SIENA handling code H0-H3 (H3: say the restrictions in handling_note)"
    )
    handling_note: Annotated[str | None, RULE["handling_note"]] = None
    source_reliability: Annotated[str | None, RULE["source_reliability"]] = "x"
    information_accuracy: Annotated[str | None, RULE["information_accuracy"]] = "4"
    replaces: int | None = Field(
        None, ge=1, description="the id of the entry this one edits (it is withdrawn)"
    )

    @model_validator(mode="after")
    def _window_and_h3(self) -> WatchlistEntryIn:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to: validity ends before it starts")
        if self.handling_code == "h3" and not self.handling_note:
            raise ValueError("handling_note: an H3 entry needs its restrictions as free text")
        return self


class WatchlistRequest(BaseModel):
    """Entries to add (or edit, with ``replaces``), stored all together or not at all."""

    model_config = ConfigDict(extra="forbid")

    entries: list[WatchlistEntryIn] = Field(min_length=1, max_length=MAX_ENTRIES)


class WatchlistEntryOut(BaseModel):
    """A watchlist entry as the caller may see it.

    For an officer an H2/H3 entry is only "a hit exists": ``restricted`` is true and the
    listed value, source, agency and note are left out.
    """

    id: int
    entity_type: str
    entity_id: str | None
    threat: str
    valid_from: datetime
    valid_to: datetime | None
    handling_code: str
    restricted: bool
    source: str | None = None
    source_agency: str | None = None
    source_country: str | None = None
    handling_note: str | None = None
    source_reliability: str | None = None
    information_accuracy: str | None = None
    added_by: str | None = None
    added_at: datetime | None = None


class WatchlistPage(BaseModel):
    """Entries in force, newest first."""

    entries: list[WatchlistEntryOut]


class WatchlistCreated(BaseModel):
    """The ids of the stored entries, in request order."""

    ids: list[int]


def entries_frame(entries: list[WatchlistEntryIn]) -> pd.DataFrame:
    """The entries as a raw watchlist table, for `features.validation.validate_watchlist`."""
    return pd.DataFrame(
        [entry.model_dump(include=set(WATCHLIST_COLUMNS)) for entry in entries],
        columns=list(WATCHLIST_COLUMNS),
    )
