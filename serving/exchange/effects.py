"""What received messages changed: the watchlist entries each made, and the declarations whose
score carried a reason from one of them.

A scoring keeps its watchlist reasons as the store's reason records
(`serving.store.scores`): kind ``watchlist``, the threat, the feature
(``watchlist_<entity>_<threat>``, `features.watchlist.watchlist_feature_name`), the source
agency and the handling code, not the entry's id. A reason is linked back to an entry of a
message when they agree on all of those, the declaration as scored names the entry's key
under that entity type (the same rule as the hit: an id, a run of the itinerary, a prefix of
the HS code), the entry was in the live watchlist at the scoring moment (added before, not
withdrawn before) and its validity holds the lodging time. Two messages of one partner that
list the same value for the same threat both claim the declarations it hit, as both entries
did.

The scores are read once for a set of messages: those scored since the first entry was added
whose reason records name one of the senders (a text filter in the database, checked here).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Text, cast, or_, select
from sqlalchemy.orm import Session

from features.schema import RESTRICTED_HANDLING_CODES, WATCHLIST_ENTITY_TYPES
from features.watchlist import watchlist_key
from serving.store.rows import from_row
from serving.store.tables import ExchangeEntity, ScoredDeclaration, WatchlistEntry

IN_FORCE, EXPIRED, WITHDRAWN = "in_force", "expired", "withdrawn"


@dataclass(frozen=True)
class MadeEntry:
    """One watchlist entry a received message made, and its state at the moment asked."""

    message_pk: int
    id: int
    entity_type: str
    entity_id: str
    key: str
    threat: str
    source_agency: str
    handling_code: str  # h0-h3, as the watchlist keeps it
    valid_from: datetime
    valid_to: datetime | None
    added_at: datetime
    withdrawn_at: datetime | None
    state: str  # in_force, expired, withdrawn

    @property
    def restricted(self) -> bool:
        """H2 or H3: its content is not passed on without the provider's permission."""
        return self.handling_code in RESTRICTED_HANDLING_CODES

    def listed_at(self, scored_at: datetime, lodged_at: datetime) -> bool:
        """Whether the entry could hit a declaration lodged at ``lodged_at``, scored at
        ``scored_at`` (the hit rule's "as of", docs/internals.md)."""
        if scored_at < self.added_at:
            return False
        if self.withdrawn_at is not None and self.withdrawn_at <= scored_at:
            return False
        return self.valid_from <= lodged_at and (
            self.valid_to is None or lodged_at <= self.valid_to
        )


def as_utc(moment: datetime) -> datetime:
    """SQLite gives naive datetimes back from some expressions: they are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def entry_state(valid_to: datetime | None, withdrawn_at: datetime | None, now: datetime) -> str:
    """An entry's state at ``now``: withdrawn (an edit replaced it), expired, or in force."""
    if withdrawn_at is not None and as_utc(withdrawn_at) <= now:
        return WITHDRAWN
    if valid_to is not None and as_utc(valid_to) <= now:
        return EXPIRED
    return IN_FORCE


def entries_made(
    session: Session, message_pks: Sequence[int] | None, *, now: datetime
) -> list[MadeEntry]:
    """The watchlist entries the given received messages made (every received message's when
    None), in message and entry order."""
    query = (
        select(ExchangeEntity.message_pk, WatchlistEntry)
        .join(WatchlistEntry, WatchlistEntry.id == ExchangeEntity.watchlist_entry_id)
        .order_by(ExchangeEntity.message_pk, WatchlistEntry.id)
    )
    found: list[MadeEntry] = []
    chunks: Iterable[Sequence[int] | None] = (
        [None]
        if message_pks is None
        else (message_pks[start : start + 400] for start in range(0, len(message_pks), 400))
    )
    for chunk in chunks:
        chunk_query = query if chunk is None else query.where(ExchangeEntity.message_pk.in_(chunk))
        for message_pk, entry in session.execute(chunk_query):
            found.append(
                from_row(
                    MadeEntry,
                    entry,
                    message_pk=message_pk,
                    source_agency=entry.source_agency or "",
                    state=entry_state(entry.valid_to, entry.withdrawn_at, now),
                )
            )
    return found


def reason_entity_type(feature: str, threat: str) -> str | None:
    """The entity type a watchlist reason's feature names (``watchlist_vehicle_weapons`` ->
    ``vehicle_id``), or None for a feature that is not one."""
    name = feature.removeprefix("watchlist_").removesuffix(f"_{threat}")
    if name == feature:
        return None
    for entity_type in (f"{name}_id", name):
        if entity_type in WATCHLIST_ENTITY_TYPES:
            return entity_type
    return None


def names_key(declaration: Mapping[str, Any], entity_type: str, key: str) -> bool:
    """Whether a declaration (as scored) names an entry's key under ``entity_type``: its id,
    a run of its itinerary's countries, or a prefix of its HS code."""
    value = declaration.get(entity_type)
    if isinstance(value, list):
        value = ">".join(str(part) for part in value)
    own = watchlist_key(entity_type, None if value is None else str(value))
    if own is None:
        return False
    if entity_type == "itinerary":
        return f">{key}>" in f">{own}>"
    if entity_type == "hs_code":
        return len(key) >= 2 and own.startswith(key)
    return own == key


def declarations_hit(
    session: Session, entries: Sequence[MadeEntry]
) -> dict[int, dict[str, datetime]]:
    """Per message, the declarations whose score carried a reason from one of its entries,
    each with the first such scoring's moment."""
    if not entries:
        return {}
    by_reason: dict[tuple[str, str, str, str], list[MadeEntry]] = defaultdict(list)
    for entry in entries:
        by_reason[
            (entry.source_agency, entry.entity_type, entry.threat, entry.handling_code.upper())
        ].append(entry)
    agencies = sorted({entry.source_agency for entry in entries if entry.source_agency})
    if not agencies:
        return {}
    query = (
        select(
            ScoredDeclaration.declaration_id,
            ScoredDeclaration.declaration,
            ScoredDeclaration.reasons,
            ScoredDeclaration.scored_at,
            ScoredDeclaration.lodged_at,
        )
        .where(
            ScoredDeclaration.scored_at >= min(entry.added_at for entry in entries),
            or_(
                *(
                    cast(ScoredDeclaration.reasons, Text).contains(agency, autoescape=True)
                    for agency in agencies
                )
            ),
        )
        .order_by(ScoredDeclaration.id)
        .execution_options(yield_per=500)
    )
    hit: dict[int, dict[str, datetime]] = defaultdict(dict)
    for declaration_id, declaration, reasons, scored_at, lodged_at in session.execute(query):
        for reason in reasons or []:
            if not isinstance(reason, dict) or reason.get("kind") != "watchlist":
                continue
            threat = str(reason.get("threat"))
            entity_type = reason_entity_type(str(reason.get("feature")), threat)
            if entity_type is None:
                continue
            agency = str(reason.get("source_agency"))
            handling = str(reason.get("handling_code")).upper()
            for entry in by_reason.get((agency, entity_type, threat, handling), ()):
                if entry.listed_at(scored_at, lodged_at) and names_key(
                    declaration, entity_type, entry.key
                ):
                    hit[entry.message_pk].setdefault(declaration_id, scored_at)
    return dict(hit)
