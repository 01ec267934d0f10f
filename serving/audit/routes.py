"""GET /v1/audit: risk managers query the consultation log by time, key, person and
declaration."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from serving.access.remit import refuse_consultation_log
from serving.audit.chain import AuditRecord, event_values
from serving.audit.reading import query_records
from serving.deps import CurrentCaller, OperationalStore

MAX_PAGE = 1000

router = APIRouter(prefix="/v1", tags=["audit"])


class AuditRecordOut(BaseModel):
    """One consultation-log record with its place in the hash chain."""

    sequence: int
    recorded_at: datetime
    key_id: str
    key_name: str
    role: str
    route: str
    declaration_ids: list[str]
    justification: str | None
    model_version: str | None
    status: int
    detail: dict[str, Any]
    previous_hash: str
    record_hash: str
    issuer: str | None = None
    subject: str | None = None
    person: str | None = None

    @classmethod
    def from_record(cls, record: AuditRecord) -> AuditRecordOut:
        """The API view of a stored record."""
        return cls(
            **event_values(record.event),
            sequence=record.sequence,
            previous_hash=record.previous_hash,
            record_hash=record.record_hash,
        )


class AuditPage(BaseModel):
    """Matching records, newest first."""

    records: list[AuditRecordOut]


def _utc(moment: datetime | None) -> datetime | None:
    """A time without a zone is read as UTC, like every time in the store."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@router.get("/audit", response_model=AuditPage)
def get_audit(
    store: OperationalStore,
    caller: CurrentCaller,
    since: Annotated[datetime | None, Query(description="recorded at or after (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="recorded before (ISO 8601)")] = None,
    key_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    declaration_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    person: Annotated[
        str | None,
        Query(
            min_length=1, max_length=200, description="the person's display name, or a key's owner"
        ),
    ] = None,
    subject: Annotated[
        str | None,
        Query(min_length=1, max_length=255, description="the identity provider's subject"),
    ] = None,
) -> AuditPage:
    """Consultation-log records matching every filter given, newest first."""
    refuse_consultation_log(caller)
    since, until = _utc(since), _utc(until)
    with store.sessions() as session:
        found = query_records(
            session,
            since=since,
            until=until,
            key_id=key_id,
            declaration_id=declaration_id,
            limit=limit,
            person=person,
            subject=subject,
        )
    return AuditPage(records=[AuditRecordOut.from_record(record) for record in found])
