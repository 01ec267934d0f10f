"""What a received message adds to the watchlist: one entry per entity and watchlist field.

The entries carry the watchlist's own field names (DESIGN.md "Watchlist"; entity type, value,
threat, validity, source agency and country, handling code and H3 text, source reliability,
information accuracy, added by), valid until the message's ``retain_until``.

`watchlist_additions` checks them by the watchlist's own rules (before anything is stored),
`add_to_watchlist` is the one seam to the live watchlist in the store: it hands them to
`serving.store.watchlist.add_watchlist_entries` in the message's transaction, so the next
score of a matching declaration carries a reason naming the partner and handling code (and
never the H3 text: scoring reasons show the agency and code only).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from features.columns import normalised_id
from features.rules import EARLIEST, END
from features.schema import WATCHLIST_COLUMNS, WATCHLIST_ENTITY_TYPES
from serving.store import watchlist as stored_watchlist

LAST_MOMENT = END - timedelta(microseconds=1)  # the last moment a declaration may be lodged

# Roles of a company or person that a declaration names in a watchlist field.
PARTY_FIELDS = {
    "importer": "importer_id",
    "exporter": "exporter_id",
    "carrier": "carrier_id",
    "declarant": "declarant_id",
}
ANY_PARTY = ("importer_id", "exporter_id", "carrier_id", "declarant_id")


def entity_key(entity: Mapping[str, Any]) -> str | None:
    """The identifier an entity is matched by: ids normalised as declarations' are, a route
    as its countries joined by ``>``; None when the entity names nothing to match."""
    kind = entity["type"]
    if kind == "route":
        return ">".join(entity["countries"])
    value = entity.get("reference") if kind == "shipment" else entity.get("identifier")
    return None if value is None else normalised_id(str(value))


def watchlist_fields(entity: Mapping[str, Any]) -> list[str]:
    """The declaration fields an entity is watched under (those the watchlist knows): a
    vehicle its id, a company each party role it was seen in (every party role when none is
    given), a person only as declarant, a route the itinerary; a shipment none (its HS code
    alone would flag a whole trade), a pseudonymised value none (it can match nothing)."""
    if entity.get("pseudonymised"):
        return []
    kind = entity["type"]
    roles = entity.get("roles") or []
    if kind == "vehicle":
        fields: Sequence[str] = ["vehicle_id"]
    elif kind == "company":
        fields = [PARTY_FIELDS[role] for role in roles if role in PARTY_FIELDS] or ANY_PARTY
    elif kind == "person":
        fields = ["declarant_id"] if "declarant" in roles else []
    elif kind == "route":
        fields = ["itinerary"]
    else:
        fields = []
    return [field for field in fields if field in WATCHLIST_ENTITY_TYPES]


def moment(text: str) -> datetime:
    """A schema-checked RFC 3339 date-time as a UTC-aware datetime."""
    return datetime.fromisoformat(text.replace("z", "Z")).astimezone(UTC)


def entity_rows(
    message: Mapping[str, Any],
    *,
    restricted: bool,
    added_by: str,
    added_at: datetime,
    valid_to: datetime,
) -> list[dict[str, Any]]:
    """The received entities as store rows: one per entity and watchlist field (one with no
    field for an entity the watchlist cannot match), with the message's provenance."""
    handling = message["handling"]
    evaluation = message["evaluation"]
    default_threat = message.get("threat") or message.get("event", {}).get("threat")
    common = {
        "restricted": restricted,
        "valid_to": valid_to,
        "source_agency": message["sender"]["organisation"],
        "source_country": message["sender"]["country"],
        "handling_code": handling["code"].lower(),
        "handling_note": handling.get("note"),
        "source_reliability": evaluation["source_reliability"].lower(),
        "information_accuracy": str(evaluation["information_accuracy"]),
        "added_by": added_by,
        "added_at": added_at,
        "watchlist_entry_id": None,
    }
    rows: list[dict[str, Any]] = []
    for entity in message["entities"]:
        key = entity_key(entity)
        threat = entity.get("threat") or default_threat
        base = {
            **common,
            "local_id": entity["local_id"],
            "kind": entity["type"],
            "key": key,
            "threat": threat,
            "valid_from": moment(entity.get("valid_from") or message["created_at"]),
        }
        fields = watchlist_fields(entity) if key is not None and threat is not None else []
        value = key if entity["type"] == "route" else entity.get("identifier")
        if not fields:
            rows.append({**base, "entity_type": None, "entity_id": None})
        rows.extend({**base, "entity_type": field, "entity_id": value} for field in fields)
    return rows


@dataclass(frozen=True)
class WatchlistAdditions:
    """The watchlist entries a message makes, checked: canonical entries, their lookup keys,
    and for each the entity row (of `entity_rows`) it comes from."""

    entries: pd.DataFrame
    keys: list[str]
    rows: list[int]


def watchlist_additions(rows: Sequence[Mapping[str, Any]], *, source: str) -> WatchlistAdditions:
    """The entries of the entity rows that name a watchlist field, checked by the watchlist's
    rules (`serving.store.watchlist.checked_watchlist`); ``source`` is their provenance text
    (kept, never shown to officers for H2/H3).

    Raises:
        DataValidationError: an entry breaks a watchlist rule (rows count from 1 over the
            entries, in ``rows`` order).
    """
    chosen = [position for position, row in enumerate(rows) if row["entity_type"] is not None]
    raw = pd.DataFrame(
        [
            {
                **{name: rows[position].get(name) for name in WATCHLIST_COLUMNS},
                "source": source,
                # Declarations lie in the accepted years: a window reaching past them is cut
                # to them, which changes no hit (the entity row keeps the message's dates).
                "valid_from": max(rows[position]["valid_from"], EARLIEST),
                "valid_to": min(rows[position]["valid_to"], LAST_MOMENT),
            }
            for position in chosen
        ],
        columns=list(WATCHLIST_COLUMNS),
    )
    if not chosen:
        return WatchlistAdditions(raw, [], [])
    entries, keys = stored_watchlist.checked_watchlist(raw, source=source)
    return WatchlistAdditions(entries, keys, chosen)


def add_to_watchlist(
    session: Session, additions: WatchlistAdditions, *, added_by: str, added_at: datetime
) -> dict[int, int]:
    """Store the entries in the live watchlist (in the caller's transaction); returns the new
    entry's id per entity row."""
    if not additions.rows:
        return {}
    added = stored_watchlist.add_watchlist_entries(
        session, additions.entries, additions.keys, added_by=added_by, added_at=added_at
    )
    return {row: entry.id for row, entry in zip(additions.rows, added, strict=True)}
