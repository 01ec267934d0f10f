"""POST /v1/exchange/inbox and GET /v1/exchange/outbox: partners' signed messages in, our
hit and seizure reports out (admins and risk managers); GET /v1/exchange/messages: what was
received and sent, and what each changed (risk managers).

Both leave their writes to the request's consultation record (`serving.deps.write_with_record`):
a received message and its record, or the reports disclosed and the record of the disclosure,
commit together or not at all.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from serving.access.settings import InsecureSettings
from serving.base import ErrorResponse
from serving.deps import CurrentCaller, OperationalStore, name_declarations, write_with_record
from serving.exchange.listing import MAX_PAGE, list_messages
from serving.exchange.outbox import UnknownPartner, build_reports, record_sent
from serving.exchange.partners import ExchangeConfig, ExchangeConfigError
from serving.exchange.schemas import (
    InboxMessage,
    InboxReceipt,
    MessagePage,
    Outbox,
    OutboxReport,
)
from serving.exchange.service import (
    MessageRefused,
    already_received,
    receive,
    replay_refusal,
    store_received,
)

router = APIRouter(prefix="/v1/exchange", tags=["exchange"])

_CONFIG = "exchange_config"  # app.state: the ExchangeConfig, read on first use


def exchange_config(request: Request) -> ExchangeConfig:
    """The app's exchange configuration, read once (partners file and keys); 503 when it
    does not fit, naming the setting."""
    config: ExchangeConfig | None = getattr(request.app.state, _CONFIG, None)
    if config is None:
        settings = request.app.state.service.settings
        try:
            config = ExchangeConfig.from_settings(
                settings, settings.data_dir, production=settings.production
            )
        except (ExchangeConfigError, InsecureSettings) as error:
            raise HTTPException(503, detail=f"exchange not configured: {error}") from None
        setattr(request.app.state, _CONFIG, config)
    return config


def refusal_detail(refusal: MessageRefused) -> list[dict[str, Any]]:
    """The refusal as `ErrorItem`s: one per schema problem, else one naming the reason."""
    if refusal.problems:
        return [
            {"loc": ["body", "message", *p.loc], "msg": p.msg, "type": refusal.reason, "fix": p.fix}
            for p in refusal.problems
        ]
    return [{"loc": ["body", "message"], "msg": str(refusal), "type": refusal.reason}]


@router.post(
    "/inbox",
    response_model=InboxReceipt,
    responses={
        400: {
            "model": ErrorResponse,
            "description": "unsigned, badly signed, signed by no configured partner, not for us",
        },
        409: {"model": ErrorResponse, "description": "a message id received before"},
        422: {"model": ErrorResponse, "description": "schema problems (all), or expired"},
    },
)
async def inbox(
    body: InboxMessage, request: Request, caller: CurrentCaller, store: OperationalStore
) -> InboxReceipt:
    """Receive a partner's signed message: stored whole and turned into watchlist entries."""
    config = exchange_config(request)
    try:
        received = await run_in_threadpool(
            receive, body.message, config, recorded_by=caller.key.key_id
        )
    except MessageRefused as refusal:
        raise HTTPException(refusal.status, detail=refusal_detail(refusal)) from None

    def write(session: Session) -> InboxReceipt:
        try:
            return store_received(session, received)
        except MessageRefused as refusal:
            raise HTTPException(refusal.status, detail=refusal_detail(refusal)) from None

    with store.transaction() as session:
        replayed = already_received(session, received)
    if replayed:  # answered at once; the write checks again, inside its transaction
        replay = replay_refusal(received.message_id, received.partner.organisation)
        raise HTTPException(replay.status, detail=refusal_detail(replay))
    write_with_record(request.scope, store, write)
    return received.receipt(received.watchlist_rows)


@router.get(
    "/outbox",
    response_model=Outbox,
    responses={404: {"model": ErrorResponse, "description": "not a configured partner"}},
)
async def outbox(
    request: Request,
    caller: CurrentCaller,
    store: OperationalStore,
    to: Annotated[str, Query(min_length=1, max_length=200, description="partner organisation")],
    since: Annotated[
        date | None, Query(description="outcomes recorded on or after this day (UTC)")
    ] = None,
) -> Outbox:
    """Signed hit and seizure reports for a partner; each is kept as a disclosure."""
    config = exchange_config(request)
    start = None if since is None else datetime.combine(since, time(), tzinfo=UTC)

    def build() -> list[Any]:
        with store.transaction() as session:
            return build_reports(session, config, to, since=start)

    try:
        reports = await run_in_threadpool(build)
    except UnknownPartner as error:
        raise HTTPException(404, detail=str(error)) from None
    now = datetime.now(UTC)

    def write(session: Session) -> None:
        record_sent(session, reports, recorded_by=caller.key.key_id, recorded_at=now)

    name_declarations(request.scope, [report.declaration_id for report in reports])
    write_with_record(request.scope, store, write)
    return Outbox(
        recipient=to,
        reports=[
            OutboxReport(
                message_id=r.message["message_id"],
                kind=r.message["kind"],
                token=r.token,
                withheld=r.withheld,
            )
            for r in reports
        ],
    )


@router.get(
    "/messages",
    response_model=MessagePage,
    responses={403: {"model": ErrorResponse, "description": "a key limited to offices"}},
)
def messages(
    request: Request,
    caller: CurrentCaller,
    store: OperationalStore,
    direction: Annotated[
        Literal["in", "out"] | None, Query(description="in (received) or out (sent)")
    ] = None,
    partner: Annotated[
        str | None, Query(min_length=1, max_length=200, description="sender or recipient")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[
        int | None, Query(ge=1, le=2**62, description="next_cursor of the page before")
    ] = None,
) -> MessagePage:
    """Messages received and sent, newest first, with what each changed."""
    if caller.key.offices is not None:
        raise HTTPException(
            403,
            detail="exchange messages span every office: a key limited to offices may not "
            "read them",
        )
    with store.sessions() as session:
        page = list_messages(
            session,
            now=datetime.now(UTC),
            direction=direction,
            partner=partner,
            limit=limit,
            cursor=cursor,
        )
    name_declarations(
        request.scope,
        [outcome.declaration_id for message in page.messages for outcome in message.reported],
    )
    return page
