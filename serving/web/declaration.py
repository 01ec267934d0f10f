"""The declaration page: fields, risks, a waterfall per threat, outcomes and the outcome form;
what selected the declaration, its waiver and addition, and the officer's forms for both."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from features.i18n import language, mark
from features.schema import INSPECTION_TYPES, RESULTS
from serving.access.policy import PAGES_PREFIX
from serving.web import charts
from serving.web.explanations import threat_waterfalls
from serving.web.page import Page, SignedIn, page_router

log = logging.getLogger(__name__)

router = page_router()


@router.get("/declarations/{declaration_id}", response_class=HTMLResponse)
async def declaration_page(
    page: SignedIn,
    declaration_id: str,
    recorded: int | None = None,
    decided: Literal["waiver", "addition"] | None = None,
) -> Response:
    """A declaration's fields, risks, waterfall per threat, outcomes and the outcome form."""
    page.justified()
    return await _declaration_response(
        page, declaration_id, recorded=recorded, form=None, errors=[], decided=decided
    )


async def _declaration_response(
    page: Page,
    declaration_id: str,
    *,
    recorded: int | None,
    form: Mapping[str, Any] | None,
    errors: list[str],
    status_code: int = 200,
    decided: str | None = None,
    decision_form: Mapping[str, Any] | None = None,
    decision_errors: Sequence[str] = (),
) -> Response:
    answer = await page.call.get(f"/v1/declarations/{declaration_id}")
    if answer.status_code != 200:
        return page.refused(answer)
    detail = answer.json()
    decisions = await page.call.get(f"/v1/declarations/{declaration_id}/waivers")
    latest = detail["latest"]
    waterfalls, explained_by = _waterfalls(page, detail)
    now = datetime.now(UTC).replace(second=0, microsecond=0, tzinfo=None)
    return page.render(
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
            "decisions": decisions.json() if decisions.status_code == 200 else None,
            "waiver_codes": page.request.app.state.service.settings.waiver_codes,
            "decided": decided,
            "decision_form": decision_form or {},
            "decision_errors": list(decision_errors),
        },
        status_code=status_code,
    )


def _waterfalls(page: Page, detail: Mapping[str, Any]) -> tuple[dict[str, str], str | None]:
    """SVG waterfall per threat from the served model, and which model drew them."""
    current = page.request.app.state.service.model_holder.current
    if current is None:
        return {}, None
    locale, words = page.locale, page.words
    gettext = words.gettext
    try:
        charts_by_threat = threat_waterfalls(current.bundle, detail["declaration"], locale=locale)
    except Exception as error:  # the page still shows fields, risks and reasons
        log.warning("waterfall not drawn: %s", type(error).__name__)
        return {}, None
    svgs = {
        threat: charts.waterfall_svg(
            chart,
            title=gettext("%(threat)s risk")
            % {"threat": language(locale).pgettext("threat", threat)},
            words=words,
        )
        for threat, chart in charts_by_threat.items()
    }
    return svgs, current.label


_FIELD_LABELS = {
    "inspected_at": mark("Inspected at"),
    "inspection_type": mark("Inspection type"),
    "result": mark("Result"),
    "migrants_found": mark("Persons found concealed"),
    "additional_duty_eur": mark("Additional duty (EUR)"),
    "concealment": mark("Concealment"),
    "notes": mark("Notes"),
}


def _outcome_payload(
    declaration_id: str, fields: Mapping[str, str], gettext: Callable[[str], str]
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
        problems.append(gettext("Inspected at: give a date and time."))
    outcome["inspection_type"] = fields.get("inspection_type") or None
    outcome["result"] = fields.get("result", "")
    for flag in ("weapons_found", "revenue_irregularity"):
        outcome[flag] = fields.get(flag) == "on"
    for name, convert, label in (
        ("migrants_found", int, _FIELD_LABELS["migrants_found"]),
        ("additional_duty_eur", float, _FIELD_LABELS["additional_duty_eur"]),
    ):
        text = fields.get(name, "").strip()
        if text:
            try:
                outcome[name] = convert(text)
            except ValueError:
                problems.append(gettext("%(label)s: give a number.") % {"label": gettext(label)})
    for name in ("concealment", "notes"):
        text = fields.get(name, "").strip()
        outcome[name] = text or None
    return (None if problems else outcome), problems


def _api_problems(
    answer: httpx.Response,
    gettext: Callable[[str], str],
    labels: Mapping[str, str] = _FIELD_LABELS,
    refused_message: str = mark("The outcome was not recorded (%(status)s)."),
) -> list[str]:
    """The API's field errors as sentences naming the form's labels (the API's own words
    after the label stay in English: they come from the validation rules); a refusal of the
    declaration's state (409 with one sentence) as that sentence."""
    try:
        detail = answer.json().get("detail")
    except ValueError:
        detail = None
    if isinstance(detail, str) and answer.status_code == 409:
        return [detail]
    if not isinstance(detail, list):
        return [gettext(refused_message) % {"status": answer.status_code}]
    problems = []
    outcome, not_accepted = gettext("Outcome"), gettext("not accepted")
    for item in detail:
        field = next((str(p) for p in reversed(item.get("loc", [])) if isinstance(p, str)), "")
        label = gettext(labels[field]) if field in labels else field
        problems.append(f"{label or outcome}: {item.get('msg') or not_accepted}")
    return problems


async def _justified_form(page: Page) -> dict[str, str]:
    """The fields of a form posted from the declaration page, once the session has a
    justification (`PageAnswer` otherwise, as for a form from another session)."""
    fields = await page.form()
    page.justified()
    return fields


@router.post("/declarations/{declaration_id}/outcome", response_class=HTMLResponse)
async def record_outcome(page: SignedIn, declaration_id: str) -> Response:
    """Record the inspection outcome through POST /v1/outcomes, then show the declaration."""
    fields = await _justified_form(page)
    gettext = page.words.gettext
    payload, problems = _outcome_payload(declaration_id, fields, gettext)
    if payload is not None:
        answer = await page.call.post("/v1/outcomes", {"outcomes": [payload]})
        if answer.status_code == 200:
            target = f"{PAGES_PREFIX}/declarations/{declaration_id}?recorded=1"
            return RedirectResponse(target, status_code=303)
        if answer.status_code not in (409, 422):
            return page.refused(answer)
        problems = _api_problems(answer, gettext)
    return await _declaration_response(
        page, declaration_id, recorded=None, form=fields, errors=problems, status_code=422
    )


# -- waivers and additions ---------------------------------------------------------------------

# The default exception codes' labels (serving.waivers.settings.DEFAULT_WAIVER_CODES), marked
# here so the pages' catalogues translate them; a deployment's own labels show as written.
STANDARD_CODE_LABELS = (
    mark("AEO-trusted trader"),
    mark("Already inspected at another office"),
    mark("Documentary check sufficient"),
    mark("Humanitarian or perishable goods"),
    mark("Other: reason written below"),
)
_DECISION_FIELDS = {"code": mark("Exception"), "reason": mark("Reason")}
# The form of each decision, and the API route it posts to.
_DECISIONS = {"waiver": "waivers", "addition": "additions"}


async def _decide(page: Page, declaration_id: str, action: str) -> Response:
    """Post the waiver or the addition of the form through the API, then show the page."""
    fields = await _justified_form(page)
    reason = fields.get("reason", "").strip() or None
    payload: dict[str, Any] = {"reason": reason}
    if action == "waiver":
        payload["code"] = fields.get("code", "")
    answer = await page.call.post(
        f"/v1/declarations/{declaration_id}/{_DECISIONS[action]}", payload
    )
    if answer.status_code == 201:
        target = f"{PAGES_PREFIX}/declarations/{declaration_id}?decided={action}"
        return RedirectResponse(target, status_code=303)
    if answer.status_code not in (409, 422):
        return page.refused(answer)
    return await _declaration_response(
        page,
        declaration_id,
        recorded=None,
        form=None,
        errors=[],
        status_code=answer.status_code,
        decision_form={**fields, "action": action},
        decision_errors=_api_problems(
            answer,
            page.words.gettext,
            _DECISION_FIELDS,
            mark("The service answered %(status)s."),
        ),
    )


@router.post("/declarations/{declaration_id}/waiver", response_class=HTMLResponse)
async def waive_inspection(page: SignedIn, declaration_id: str) -> Response:
    """Waive the selected inspection through POST /v1/declarations/{id}/waivers."""
    return await _decide(page, declaration_id, "waiver")


@router.post("/declarations/{declaration_id}/addition", response_class=HTMLResponse)
async def add_inspection(page: SignedIn, declaration_id: str) -> Response:
    """Add the declaration for inspection through POST /v1/declarations/{id}/additions."""
    return await _decide(page, declaration_id, "addition")
