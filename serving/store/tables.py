"""Tables of the operational store: scored declarations and their fixed lodging facts,
worklist draws, outcomes, drift and performance reports, messages exchanged with partner agencies,
API keys and the consultation log.

SQLAlchemy 2 typed declarative models. The schema itself is created and changed only by the
Alembic migrations in ``serving/store/migrations`` (``upgrade_to_head``); these classes are
how the store modules (`scores`, `worklists`, `outcomes`, ...) read and write it. Every timestamp is stored in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from features.schema import MAX_ID_CHARS

ID_LENGTH = MAX_ID_CHARS


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no zone: it is added back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store: pass UTC-aware datetimes")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of the store's tables."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        list[Any]: JSON,
        datetime: UtcDateTime,
    }


class ScoredDeclaration(Base):
    """One scoring of one declaration; re-scoring adds a row, so history is kept."""

    __tablename__ = "scored_declarations"
    __table_args__ = (
        Index("ix_scored_declarations_declaration", "declaration_id", "id"),
        Index("ix_scored_declarations_office_day", "office_id", "lodged_day"),
        Index("ix_scored_declarations_scored_at", "scored_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    declaration_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    office_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    lodged_at: Mapped[datetime]
    lodged_day: Mapped[date] = mapped_column(Date)  # UTC day of lodged_at: the worklist's day
    declaration: Mapped[dict[str, Any]]  # canonical declaration, JSON-ready
    risk: Mapped[dict[str, Any]]  # threat -> calibrated risk
    overall: Mapped[float] = mapped_column(Float)
    lane: Mapped[str] = mapped_column(String(20))
    reasons: Mapped[list[Any]]
    model_name: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(50))
    scored_at: Mapped[datetime]


class DeclarationLodging(Base):
    """Where, when and by whom a declaration was lodged: recorded with its first scoring and
    fixed from then on (`serving.store.scores.claim_lodgings`).

    One row per declaration id; the key is what lets two concurrent first scorings of the
    same id with different facts never both be kept. The office here is the one every remit
    check reads.
    """

    __tablename__ = "declaration_lodgings"

    declaration_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    office_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    lodged_at: Mapped[datetime]
    declarant_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    importer_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    recorded_at: Mapped[datetime]


class WorklistRun(Base):
    """One draw of a worklist for an office and day, from the declarations scored at that time.

    Each draw is kept as its own version (1, 2, ... per office and day): a redraw over new
    declarations never changes the picks, or the probabilities, of an earlier one. An outcome
    names the draw by its version (the version is answered before the draw is stored), and
    keeps its id as ``draw_id``.
    """

    __tablename__ = "worklist_runs"
    __table_args__ = (
        UniqueConstraint("office_id", "day", "capacity", "pool_digest", name="uq_worklist_run"),
        Index("uq_worklist_run_version", "office_id", "day", "version", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    office_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    day: Mapped[date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    capacity: Mapped[int] = mapped_column(Integer)
    exploration_share: Mapped[float] = mapped_column(Float)
    pool_size: Mapped[int] = mapped_column(Integer)
    pool_digest: Mapped[str] = mapped_column(String(64))  # sha256 of the candidate ids
    created_at: Mapped[datetime]
    selections: Mapped[list[WorklistSelection]] = relationship(
        back_populates="run", order_by="WorklistSelection.rank", cascade="all, delete-orphan"
    )


class WorklistSelection(Base):
    """One pick of a worklist: its rank, why it was picked, and with what probability.

    ``reason`` is the category an outcome keeps (`features.schema.SELECTION_REASONS`: model,
    random, rule); a risk profile's pick is a ``rule`` naming its profile in ``profile_id``
    (migration 0010), answered as reason ``profile:<id>``. Its probability is the profile's:
    1 for a lane, the share for a percentage (`serving.inspections.worklist`).
    """

    __tablename__ = "worklist_selections"
    __table_args__ = (
        UniqueConstraint("run_id", "declaration_id", name="uq_worklist_selection"),
        Index("ix_worklist_selections_declaration", "declaration_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("worklist_runs.id", ondelete="CASCADE"))
    office_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    day: Mapped[date] = mapped_column(Date)
    declaration_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    rank: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(20))  # model, random, rule
    selection_probability: Mapped[float] = mapped_column(Float)
    expected_harm: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime]
    profile_id: Mapped[str | None] = mapped_column(String(64))  # a rule pick's risk profile
    run: Mapped[WorklistRun] = relationship(back_populates="selections")


class OfficeLanes(Base):
    """An office's inspection capacity and the lane thresholds refitted from its recent scores
    (PUT /v1/offices/{office_id}/capacity; `serving.store.offices`).

    Append-only: each setting is a new row, the newest per office is in force, and only while
    the model it was fitted for (``model_name``, ``model_version``) is the one scoring: the
    thresholds are quantiles of that model's risks. A threshold of None takes nobody.
    """

    __tablename__ = "office_lanes"
    __table_args__ = (Index("ix_office_lanes_office", "office_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    office_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    capacity: Mapped[int] = mapped_column(Integer)  # physical inspections a day (red lane)
    yellow_capacity: Mapped[int | None] = mapped_column(Integer)  # documentary checks a day
    red_threshold: Mapped[float | None] = mapped_column(Float)
    yellow_threshold: Mapped[float | None] = mapped_column(Float)
    model_name: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(50))
    fit: Mapped[dict[str, Any]]  # window, scores, days, shares: how the thresholds were found
    set_by: Mapped[str] = mapped_column(String(200))
    set_at: Mapped[datetime]


class InspectionOutcome(Base):
    """An inspection outcome (DESIGN.md schema); one per declaration and inspection time.

    ``draw_id`` is the worklist draw the officer acted on (`WorklistRun.id`), whose pick gave
    the selection reason and probability; None for a selection outside worklists (officer,
    intelligence, a profile's own share) or an outcome recorded before draws were named.
    """

    __tablename__ = "inspection_outcomes"
    __table_args__ = (
        UniqueConstraint("declaration_id", "inspected_at", name="uq_outcome_inspection"),
        Index("ix_inspection_outcomes_draw", "draw_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    declaration_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    inspected_at: Mapped[datetime]
    inspection_type: Mapped[str] = mapped_column(String(20))
    selection_reason: Mapped[str | None] = mapped_column(String(20))
    selection_probability: Mapped[float | None] = mapped_column(Float)
    result: Mapped[str] = mapped_column(String(20))
    weapons_found: Mapped[bool]
    migrants_found: Mapped[float | None] = mapped_column(Float)
    revenue_irregularity: Mapped[bool]
    additional_duty_eur: Mapped[float | None] = mapped_column(Float)
    concealment: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime]
    draw_id: Mapped[int | None] = mapped_column(Integer)


class DriftReport(Base):
    """Summary figures of one `shiprisk monitor` run, shown by GET /v1/model."""

    __tablename__ = "drift_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime]
    model_name: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(50))
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    summary: Mapped[dict[str, Any]]


class PerformanceReport(Base):
    """Hit rates of stored outcomes per threat and week, and their alerts (one computation).

    Written by `shiprisk monitor` and by the service after outcomes are recorded
    (`serving.model.performance`); GET /v1/model, /metrics and the model page read the newest.
    """

    __tablename__ = "performance_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime]
    summary: Mapped[dict[str, Any]]


class ExchangeMessage(Base):
    """A signed message exchanged with a partner agency (serving.exchange): received (``in``,
    the sender) or sent (``out``, the recipient), with the token as signed and what it changed.

    One row per partner and message id and direction: a message received twice is a replay.
    """

    __tablename__ = "exchange_messages"
    __table_args__ = (
        UniqueConstraint("direction", "partner", "message_id", name="uq_exchange_message"),
        Index("ix_exchange_messages_recorded_at", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    direction: Mapped[str] = mapped_column(String(3))  # in, out
    partner: Mapped[str] = mapped_column(String(ID_LENGTH))  # sender (in) or recipient (out)
    message_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    kind: Mapped[str] = mapped_column(String(20))  # alert, hit_report, seizure_report
    schema_version: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime]  # as the sender wrote it
    recorded_at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(String(200))  # API key id, or cli:<user>
    handling_code: Mapped[str] = mapped_column(String(2))  # H0-H3
    handling_note: Mapped[str | None] = mapped_column(Text)
    no_dissemination: Mapped[bool]  # H2, or H3 forbidding it
    source_reliability: Mapped[str] = mapped_column(String(1))
    information_accuracy: Mapped[int] = mapped_column(Integer)
    tlp: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(String(30))
    personal_data: Mapped[bool]
    retain_until: Mapped[datetime]
    entities: Mapped[int] = mapped_column(Integer)
    watchlist_entries: Mapped[int] = mapped_column(Integer)  # entries it created (in)
    withheld: Mapped[int] = mapped_column(Integer)  # entities left out by handling codes (out)
    declaration_ids: Mapped[list[Any]]  # the declarations a sent report discloses
    payload: Mapped[dict[str, Any]]
    token: Mapped[str] = mapped_column(Text)  # the compact JWS, as signed


class ExchangeEntity(Base):
    """One entity of a received message, with its provenance; when it names something the
    watchlist matches, it carries the watchlist entry's fields (DESIGN.md "Watchlist").

    ``key`` (the normalised identifier) is what a report we send is checked against, so that
    an entity received under H2 never leaves for another partner without permission.
    """

    __tablename__ = "exchange_entities"
    __table_args__ = (
        Index("ix_exchange_entities_key", "kind", "key"),
        Index("ix_exchange_entities_message", "message_pk"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("exchange_messages.id", ondelete="CASCADE"))
    local_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))  # person, company, vehicle, shipment, route
    key: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    restricted: Mapped[bool]  # came in under H2 or H3 forbidding dissemination
    entity_type: Mapped[str | None] = mapped_column(String(20))  # watchlist field, or none
    entity_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    threat: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    valid_from: Mapped[datetime]
    valid_to: Mapped[datetime]  # the message's retain-until
    source_agency: Mapped[str] = mapped_column(String(ID_LENGTH))
    source_country: Mapped[str] = mapped_column(String(2))
    handling_code: Mapped[str] = mapped_column(String(2))  # h0-h3, as the watchlist keeps it
    handling_note: Mapped[str | None] = mapped_column(Text)
    source_reliability: Mapped[str] = mapped_column(String(1))  # a, b, c, x
    information_accuracy: Mapped[str] = mapped_column(String(1))  # 1-4
    added_by: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[datetime]
    watchlist_entry_id: Mapped[int | None] = mapped_column(Integer)


class ApiKey(Base):
    """An API key: its public id, owner name, role and remit, and the hash of its secret."""

    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    offices: Mapped[list[Any] | None]  # None: every office
    salt: Mapped[str] = mapped_column(String(32))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    owner: Mapped[str | None] = mapped_column(String(200))  # the person answerable for it
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]  # updated at most once a minute (key_store)


class WebSession(Base):
    """A signed-in person's session on the pages: the cookie holds its id and a secret whose
    hash is kept here, never an API key (`serving.web.session`)."""

    __tablename__ = "web_sessions"
    __table_args__ = (
        Index("ix_web_sessions_person", "name"),
        Index("ix_web_sessions_subject", "issuer", "subject"),
    )

    session_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    issuer: Mapped[str | None] = mapped_column(String(500))  # None: signed in with a key
    subject: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    offices: Mapped[list[Any] | None]
    key_id: Mapped[str | None] = mapped_column(String(12))  # development sign-in with a key
    csrf: Mapped[str] = mapped_column(String(64))
    justification: Mapped[str | None] = mapped_column(Text)
    locale: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class AuditRecordRow(Base):
    """One record of the hash-chained consultation log (serving.audit.chain)."""

    __tablename__ = "audit_records"
    __table_args__ = (
        Index("ix_audit_records_recorded_at", "recorded_at"),
        Index("ix_audit_records_key", "key_id", "sequence"),
        Index("ix_audit_records_person", "person", "sequence"),
    )

    # The sequence number is the key: two writers cannot both append record n.
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    recorded_at: Mapped[datetime]
    key_id: Mapped[str] = mapped_column(String(64))
    key_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    route: Mapped[str] = mapped_column(String(200))
    declaration_ids: Mapped[list[Any]]
    justification: Mapped[str | None] = mapped_column(Text)
    model_version: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[int] = mapped_column(Integer)
    detail: Mapped[dict[str, Any]]
    previous_hash: Mapped[str] = mapped_column(String(64))
    record_hash: Mapped[str] = mapped_column(String(64))
    # How record_hash was made: "sha256" (before migration 0003, and the default, so a writer
    # that does not know the keyed scheme is caught as a downgrade) or "hmac-sha256".
    hash_scheme: Mapped[str] = mapped_column(String(20), server_default="sha256")
    # Who, as a person (migration 0005): an identity provider's issuer and subject, and the
    # display name (or a key's owner). None on records made before, and by keys without owner.
    issuer: Mapped[str | None] = mapped_column(String(500))
    subject: Mapped[str | None] = mapped_column(String(255))
    person: Mapped[str | None] = mapped_column(String(200))


class StoreIdentity(Base):
    """The store's random id (one row, made by migration 0003), bound into every checkpoint.

    It tells apart the checkpoint lines of two stores that share a checkpoint file: a
    checkpoint of another store is ignored by `shiprisk audit verify`, never taken for a
    break (serving.audit.checkpoints).
    """

    __tablename__ = "store_identity"

    slot: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # always 1
    store_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]


class AuditDeclaration(Base):
    """Which records name a declaration: an index for GET /v1/audit?declaration_id=."""

    __tablename__ = "audit_declarations"
    __table_args__ = (Index("ix_audit_declarations_declaration", "declaration_id", "sequence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sequence: Mapped[int] = mapped_column(ForeignKey("audit_records.sequence", ondelete="CASCADE"))
    declaration_id: Mapped[str] = mapped_column(String(ID_LENGTH))


class WatchlistEntry(Base):
    """One partner-agency watchlist entry (DESIGN.md "Watchlist"), read at scoring time.

    Append-only: an edit withdraws the entry (``withdrawn_at``) and adds its replacement
    (``replaces``), so what the watchlist said at any moment can be rebuilt for training.
    """

    __tablename__ = "watchlist_entries"
    __table_args__ = (Index("ix_watchlist_entries_lookup", "key", "entity_type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entity_type: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[str] = mapped_column(String(ID_LENGTH))  # as the provider wrote it
    key: Mapped[str] = mapped_column(String(ID_LENGTH))  # features.watchlist.watchlist_key
    threat: Mapped[str] = mapped_column(String(ID_LENGTH))
    valid_from: Mapped[datetime]
    valid_to: Mapped[datetime | None]
    source: Mapped[str | None] = mapped_column(Text)  # the provider's text
    source_agency: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    source_country: Mapped[str | None] = mapped_column(String(2))
    handling_code: Mapped[str] = mapped_column(String(2))  # h0-h3 (SIENA)
    handling_note: Mapped[str | None] = mapped_column(Text)  # H3: the restrictions
    source_reliability: Mapped[str] = mapped_column(String(1))  # a, b, c, x
    information_accuracy: Mapped[str] = mapped_column(String(1))  # 1-4
    added_by: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]
    replaces: Mapped[int | None] = mapped_column(Integer)


class EntityHistory(Base):
    """What the store has seen of one entity (features.live.HISTORY_KINDS): declarations first
    recorded, inspections, first and last lodged. Updated in the transaction of the scores
    and outcomes that change it."""

    __tablename__ = "entity_history"

    # key first: a batch's lookup is one `key IN (...)` read from the primary key
    key: Mapped[str] = mapped_column(String(ID_LENGTH * 3), primary_key=True)
    entity: Mapped[str] = mapped_column(String(20), primary_key=True)
    declarations: Mapped[int] = mapped_column(Integer)
    inspections: Mapped[int] = mapped_column(Integer)
    first_seen: Mapped[datetime | None]
    last_seen: Mapped[datetime | None]


class EntityThreatHistory(Base):
    """One entity's labelled outcomes and hits for one threat."""

    __tablename__ = "entity_threat_history"

    key: Mapped[str] = mapped_column(String(ID_LENGTH * 3), primary_key=True)
    entity: Mapped[str] = mapped_column(String(20), primary_key=True)
    threat: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    labelled: Mapped[int] = mapped_column(Integer)
    hits: Mapped[int] = mapped_column(Integer)


class RiskProfileRow(Base):
    """A risk profile (features.profiles.RiskProfile): its id and its latest revision number.

    The content lives in its revisions; this row only names the newest, so two writers that
    both revise revision n cannot both succeed (the second finds the number moved).
    """

    __tablename__ = "risk_profiles"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class RiskProfileRevision(Base):
    """One revision of a risk profile: who changed it, when, and its full content.

    Append-only: a change is a new row, never an UPDATE or DELETE of one. The greatest ``id``
    tells every serving process whether the profiles changed since it last read them.
    """

    __tablename__ = "risk_profile_revisions"
    __table_args__ = (UniqueConstraint("profile_id", "revision", name="uq_risk_profile_revision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    profile_id: Mapped[str] = mapped_column(String(64), ForeignKey("risk_profiles.id"))
    revision: Mapped[int] = mapped_column(Integer)
    change: Mapped[str] = mapped_column(String(10))  # created, revised, expired
    content: Mapped[dict[str, Any]]
    changed_by: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[datetime]


class InspectionOverride(Base):
    """An officer's decision against the selection: a waived pick, or an added inspection.

    A ``waiver`` releases a declaration that a risk profile, the red lane or a worklist draw
    selected, with a standard exception ``code`` (configured, `serving.waivers.settings`) or a
    written ``reason`` (code ``OTHER``); an ``addition`` sends a declaration nothing selected
    to inspection, with a reason. Each keeps what the selection was when it was decided (the
    lane of the newest score, the selecting profiles, the worklist draw and its pick), who
    decided and when. One of each per declaration: a second is refused, never overwritten
    (CBP's lesson, GAO-15-294: every waiver recorded with type, person and time).
    """

    __tablename__ = "inspection_overrides"
    __table_args__ = (
        UniqueConstraint("declaration_id", "action", name="uq_inspection_override"),
        Index("ix_inspection_overrides_recorded_at", "recorded_at"),
        Index("ix_inspection_overrides_office", "office_id", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    declaration_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    action: Mapped[str] = mapped_column(String(10))  # waiver, addition
    office_id: Mapped[str] = mapped_column(String(ID_LENGTH))  # where it was lodged
    code: Mapped[str | None] = mapped_column(String(40))  # a waiver's exception code
    reason: Mapped[str | None] = mapped_column(Text)  # written reason (required for OTHER)
    lane: Mapped[str | None] = mapped_column(String(20))  # the newest score's lane then
    profile_id: Mapped[str | None] = mapped_column(String(64))  # the first selecting profile
    profile_ids: Mapped[list[Any]]  # every profile that selected it
    draw_id: Mapped[int | None] = mapped_column(Integer)  # the worklist draw that picked it
    pick_reason: Mapped[str | None] = mapped_column(String(80))  # that pick's reason
    selection_probability: Mapped[float | None] = mapped_column(Float)  # that pick's
    score_id: Mapped[int | None] = mapped_column(Integer)  # the scoring it was decided on
    recorded_by: Mapped[str] = mapped_column(String(200))  # the key's (or session's) name
    key_id: Mapped[str] = mapped_column(String(64))
    person: Mapped[str | None] = mapped_column(String(200))
    recorded_at: Mapped[datetime]
