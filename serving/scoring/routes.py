"""POST /v1/scores: score 1..N declarations, keep what was served, answer with reasons."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from features.i18n import DEFAULT_LOCALE, language_tag
from features.records import canonical_records
from serving.access.remit import refuse_declarations
from serving.base import (
    CONTENT_LANGUAGE_HEADER,
    MODEL_VERSION_HEADER,
    ErrorResponse,
    ModelRef,
    ServiceState,
    current_model,
    invalid_field,
    reasons_in_language,
    request_locale,
    risk_basis,
)
from serving.deps import CurrentCaller, commit_with_record, name_declarations, open_store
from serving.scoring.queue import validated_declarations
from serving.scoring.schemas import ScoreRequest, ScoreResponse, ScoreResult, declarations_frame
from serving.scoring.service import scores_write
from serving.settings import ServiceSettings
from serving.store.group_commit import group_commit

REQUEST_SOURCE = "request"  # the `source` named in validation problems of an API request

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "the body is not JSON"},
    404: {"model": ErrorResponse, "description": "id recorded outside the key's remit"},
    409: {"model": ErrorResponse, "description": "would change a recorded lodging"},
    413: {"model": ErrorResponse, "description": "body or number of declarations over the limit"},
    422: {"model": ErrorResponse, "description": "field path and what was expected"},
    503: {"model": ErrorResponse, "description": "no model loaded"},
}

# What a client does next with a scored declaration (OpenAPI links; the fuzz test follows them).
_SCORED_ID = "$response.body#/results/0/declaration_id"
LINKS: dict[str, dict[str, Any]] = {
    "GetScoredDeclaration": {
        "operationRef": "#/paths/~1v1~1declarations~1{declaration_id}/get",
        "parameters": {"declaration_id": _SCORED_ID},
        "description": "the first declaration scored, with its scores and outcomes",
    },
    "RecordOutcome": {
        "operationRef": "#/paths/~1v1~1outcomes/post",
        "requestBody": {"outcomes": [{"declaration_id": _SCORED_ID}]},
        "description": "record the inspection outcome of the first declaration scored",
    },
}

router = APIRouter(prefix="/v1", tags=["scores"])


def _limits(payload: ScoreRequest, settings: ServiceSettings) -> int:
    """Reject requests over the configured limits; return the number of reasons to give."""
    if len(payload.declarations) > settings.max_rows:
        raise HTTPException(
            status_code=413,
            detail=f"{len(payload.declarations)} declarations in one request, at most "
            f"{settings.max_rows}: split the request, or score files with `shiprisk score`",
        )
    top_k = settings.top_k if payload.top_k is None else payload.top_k
    if top_k > settings.max_top_k:
        raise invalid_field(
            ["body", "top_k"],
            f"Input should be less than or equal to {settings.max_top_k}",
            "less_than_equal",
        )
    return top_k


@router.post(
    "/scores",
    response_model=ScoreResponse,
    responses={200: {"description": "the scores", "links": LINKS}, **ERRORS},
)
async def score(payload: ScoreRequest, request: Request, caller: CurrentCaller) -> Response:
    """Score 1..N declarations: per-threat risk, overall risk, lane and top reasons."""
    # State, model and store by plain calls rather than dependencies (serving.deps says why).
    state: ServiceState = request.app.state.service
    model = current_model(state)
    store = open_store(state)
    top_k = _limits(payload, state.settings)
    refuse_declarations(caller, [d.office_id for d in payload.declarations], "declarations")
    # A coroutine: the canonical records, the wait for the scoring batch and the answer run
    # on the event loop, with no thread hop; only the frame validation (unusual values,
    # errors) and the store's commit run in threads.
    # The validated field values as pydantic keeps them (dict(model) costs 20 times more).
    records = [{**d.__dict__, **(d.model_extra or {})} for d in payload.declarations]
    # A model trained with extra x_ features reads them typed by kind: the frame path does that.
    extra_features = model.bundle.extra_features
    declarations = None if any(extra_features) else canonical_records(records)
    if declarations is None:  # unusual values or invalid declarations: the frame path decides
        declarations = await run_in_threadpool(
            validated_declarations,
            lambda: declarations_frame(payload.declarations),
            source=REQUEST_SOURCE,
            extra_features=extra_features,
        )
    scored = await state.scoring.score_async(model, declarations, top_k)
    # Kept (committed) before the answer: worklists and outcomes build on what was served.
    # Committed with the request's consultation record when there is one (one commit).
    # The write refuses (404/409) a scoring that would move a recorded declaration; left to
    # the record's commit, the audit middleware answers that refusal instead of this body.
    keep = scores_write(scored, model_name=model.name, model_version=model.version, caller=caller)
    name_declarations(request.scope, [s.declaration_id for s in scored])
    if not commit_with_record(request.scope, keep):
        await run_in_threadpool(group_commit(store).submit, keep)
    state.metrics.count_lanes([s.lane for s in scored], model.label)
    body = ScoreResponse(
        model=ModelRef(name=model.name, version=model.version),
        risk_basis=risk_basis(model.bundle.metadata),
        results=[ScoreResult.from_scored(s) for s in scored],
    )
    headers = {MODEL_VERSION_HEADER: model.label}
    # Reasons are scored (and kept) in English; another language's texts are written from
    # their machine fields. English, the default, costs one cached look-up of the header.
    locale = request_locale(request.headers)
    if locale != DEFAULT_LOCALE:
        for result, row in zip(body.results, scored.declarations.rows, strict=True):
            result.reasons = reasons_in_language(result.reasons, row, locale)
        headers[CONTENT_LANGUAGE_HEADER] = language_tag(locale)
    # Sent as built: FastAPI would validate a returned model against response_model again.
    return Response(body.model_dump_json(), media_type="application/json", headers=headers)
