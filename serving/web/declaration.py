"""The declaration page: fields, risks, a waterfall per threat, outcomes and the outcome form."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from features.schema import INSPECTION_TYPES, RESULTS
from serving.access.policy import PAGES_PREFIX
from serving.web import charts
from serving.web.explanations import threat_waterfalls
from serving.web.page import (
    ServiceCall,
    Web,
    WebState,
    bad_form,
    justification_url,
    page_router,
    refused,
    render_page,
    signed_in,
    to_sign_in,
)
from serving.web.session import WebSession

log = logging.getLogger(__name__)

router = page_router()


@router.get("/declarations/{declaration_id}", response_class=HTMLResponse)
async def declaration_page(
    request: Request, web: Web, declaration_id: str, recorded: int | None = None
) -> Response:
    """A declaration's fields, risks, waterfall per threat, outcomes and the outcome form."""
    session = signed_in(request, web)
    if session is None:
        return to_sign_in(web)
    if not session.justification:
        return RedirectResponse(justification_url(request), status_code=303)
    return await _declaration_response(
        request, web, session, declaration_id, recorded=recorded, form=None, errors=[]
    )


async def _declaration_response(
    request: Request,
    web: WebState,
    session: WebSession,
    declaration_id: str,
    *,
    recorded: int | None,
    form: Mapping[str, Any] | None,
    errors: list[str],
    status_code: int = 200,
) -> Response:
    answer = await ServiceCall(request, session).get(f"/v1/declarations/{declaration_id}")
    if answer.status_code != 200:
        return refused(web, request, session, answer)
    detail = answer.json()
    latest = detail["latest"]
    waterfalls, explained_by = _waterfalls(request, detail)
    now = datetime.now(UTC).replace(second=0, microsecond=0, tzinfo=None)
    return render_page(
        web,
        request,
        "declaration.html",
        {
            "detail": detail,
            "latest": latest,
            "waterfalls": waterfalls,
            "explained_by": explained_by,
            "recorded": recorded,
            "errors": errors,
            "form": form or {"inspected_at": now.isoformat(timespec="minutes")},
            "inspection_types": INSPECTION_TYPES,
            "results": RESULTS,
        },
        session=session,
        status_code=status_code,
    )


def _waterfalls(request: Request, detail: Mapping[str, Any]) -> tuple[dict[str, str], str | None]:
    """SVG waterfall per threat from the served model, and which model drew them."""
    current = request.app.state.service.model_holder.current
    if current is None:
        return {}, None
    try:
        charts_by_threat = threat_waterfalls(current.bundle, detail["declaration"])
    except Exception as error:  # the page still shows fields, risks and reasons
        log.warning("waterfall not drawn: %s", type(error).__name__)
        return {}, None
    svgs = {
        threat: charts.waterfall_svg(chart, title=f"{threat} risk")
        for threat, chart in charts_by_threat.items()
    }
    return svgs, current.label


def _outcome_payload(
    declaration_id: str, fields: Mapping[str, str]
) -> tuple[dict[str, Any] | None, list[str]]:
    """The API outcome record from the form fields, or the problems to show."""
    problems: list[str] = []
    outcome: dict[str, Any] = {"declaration_id": declaration_id}
    try:
        inspected = datetime.fromisoformat(fields.get("inspected_at", ""))
        if inspected.tzinfo is None:
            inspected = inspected.replace(tzinfo=UTC)
        outcome["inspected_at"] = inspected.isoformat()
    except ValueError:
        problems.append("Inspected at: give a date and time.")
    outcome["inspection_type"] = fields.get("inspection_type") or None
    outcome["result"] = fields.get("result", "")
    for flag in ("weapons_found", "revenue_irregularity"):
        outcome[flag] = fields.get(flag) == "on"
    for name, convert, label in (
        ("migrants_found", int, "Persons found concealed"),
        ("additional_duty_eur", float, "Additional duty (EUR)"),
    ):
        text = fields.get(name, "").strip()
        if text:
            try:
                outcome[name] = convert(text)
            except ValueError:
                problems.append(f"{label}: give a number.")
    for name in ("concealment", "notes"):
        text = fields.get(name, "").strip()
        outcome[name] = text or None
    return (None if problems else outcome), problems


_FIELD_LABELS = {
    "inspected_at": "Inspected at",
    "inspection_type": "Inspection type",
    "result": "Result",
    "migrants_found": "Persons found concealed",
    "additional_duty_eur": "Additional duty (EUR)",
    "concealment": "Concealment",
    "notes": "Notes",
}


def _api_problems(answer: httpx.Response) -> list[str]:
    """The API's field errors as sentences naming the form's labels."""
    try:
        detail = answer.json().get("detail")
    except ValueError:
        detail = None
    if not isinstance(detail, list):
        return [f"The outcome was not recorded ({answer.status_code})."]
    problems = []
    for item in detail:
        field = next((str(p) for p in reversed(item.get("loc", [])) if isinstance(p, str)), "")
        label = _FIELD_LABELS.get(field, field or "Outcome")
        problems.append(f"{label}: {item.get('msg', 'not accepted')}")
    return problems


@router.post("/declarations/{declaration_id}/outcome", response_class=HTMLResponse)
async def record_outcome(request: Request, web: Web, declaration_id: str) -> Response:
    """Record the inspection outcome through POST /v1/outcomes, then show the declaration."""
    session = signed_in(request, web)
    if session is None:
        return to_sign_in(web)
    form = await request.form()
    fields = {key: str(value) for key, value in form.items()}
    if not session.form_token_matches(fields.get("csrf")):
        return bad_form(web, request, session)
    if not session.justification:
        return RedirectResponse(justification_url(request), status_code=303)
    payload, problems = _outcome_payload(declaration_id, fields)
    if payload is not None:
        answer = await ServiceCall(request, session).post("/v1/outcomes", {"outcomes": [payload]})
        if answer.status_code == 200:
            target = f"{PAGES_PREFIX}/declarations/{declaration_id}?recorded=1"
            return RedirectResponse(target, status_code=303)
        if answer.status_code not in (409, 422):
            return refused(web, request, session, answer)
        problems = _api_problems(answer)
    return await _declaration_response(
        request,
        web,
        session,
        declaration_id,
        recorded=None,
        form=fields,
        errors=problems,
        status_code=422,
    )
