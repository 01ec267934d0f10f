"""Server-rendered pages for officers and risk managers: worklist, declaration, model, audit.

A page holds no data of its own: it calls the service's API in process, presenting the API key
of the signed-in user (and the justification they gave once for the session), so every page
action passes the same authentication, role and office-remit checks and leaves the same
consultation-log record as the same call made with curl. A refused call becomes the sign-in
page (401) or a 403/404 page that shows no data. The pages need no JavaScript.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from features.schema import INSPECTION_TYPES, RESULTS
from serving.access.policy import PAGES_PREFIX
from serving.base import MAX_JUSTIFICATION_CHARS, ReasonOut
from serving.store import repository
from serving.web import charts
from serving.web.explanations import threat_waterfalls
from serving.web.session import COOKIE_NAME, COOKIE_PATH, SessionCodec, WebSession

log = logging.getLogger(__name__)

STATIC_PATH = f"{PAGES_PREFIX}/static"
_HERE = Path(__file__).resolve().parent
IMPORTANCE_ROWS = 10


@dataclass(frozen=True)
class KeyIdentity:
    """Who an API key belongs to, as the key store says: shown in the page header."""

    key_id: str
    name: str
    role: str


KeyChecker = Callable[[Request, str], KeyIdentity | None]
ChallengerLookup = Callable[[Request], str | None]


@dataclass
class WebState:
    """What the pages share, made once by `include_pages`."""

    templates: Jinja2Templates
    codec: SessionCodec
    check_key: KeyChecker
    challenger_version: ChallengerLookup
    secure_cookie: bool = True
    mlflow_ui_url: str | None = None


def web_state(request: Request) -> WebState:
    """The pages' shared state of the app serving this request."""
    state: WebState = request.app.state.web
    return state


Web = Annotated[WebState, Depends(web_state)]


# -- the API, called in process as the signed-in user ------------------------------------------


class ServiceCall:
    """Calls the service's own routes in process, through all its middleware, as one user."""

    def __init__(self, request: Request, session: WebSession) -> None:
        self.app = request.app
        self.session = session

    def _headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.session.api_key}"}
        if self.session.justification:
            headers["X-Justification"] = self.session.justification
        return headers

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> httpx.Response:
        """GET an API route with the user's key and justification."""
        async with self._client() as client:
            return await client.get(path, params=dict(params or {}), headers=self._headers())

    async def post(self, path: str, payload: Any) -> httpx.Response:
        """POST JSON to an API route with the user's key and justification."""
        async with self._client() as client:
            return await client.post(path, json=payload, headers=self._headers())

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://shiprisk.pages"
        )


# -- responses ---------------------------------------------------------------------------------


def _page(
    web: WebState,
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    session: WebSession | None,
    status_code: int = 200,
) -> HTMLResponse:
    response = web.templates.TemplateResponse(
        request,
        template,
        {"session": session, "prefix": PAGES_PREFIX, **context},
        status_code=status_code,
    )
    return response  # security headers and the pages' CSP: serving.access.authenticate


def _to_sign_in(web: WebState, *, clear: bool = False) -> RedirectResponse:
    response = RedirectResponse(f"{PAGES_PREFIX}/sign-in", status_code=303)
    if clear:
        _clear_cookie(response, web)
    return response


def _set_cookie(response: Response, web: WebState, session: WebSession) -> None:
    response.set_cookie(
        COOKIE_NAME,
        web.codec.dumps(session),
        max_age=web.codec.max_age_seconds,
        path=COOKIE_PATH,
        secure=web.secure_cookie,
        httponly=True,
        samesite="strict",
    )


def _clear_cookie(response: Response, web: WebState) -> None:
    response.delete_cookie(
        COOKIE_NAME, path=COOKIE_PATH, secure=web.secure_cookie, httponly=True, samesite="strict"
    )


def _refused(
    web: WebState, request: Request, session: WebSession, answer: httpx.Response
) -> Response:
    """The page for an API call that did not succeed: never any of the data asked for."""
    if answer.status_code == 401:  # key revoked since sign-in
        return _to_sign_in(web, clear=True)
    if answer.status_code == 400 and "X-Justification" in _detail_text(answer):
        return RedirectResponse(_justification_url(request), status_code=303)
    titles = {
        403: "Not allowed",
        404: "Not found",
        503: "Service unavailable",
    }
    messages = {
        403: f"Your role ({session.role.replace('_', ' ')}) may not open this page.",
        404: "There is no scored declaration with this id within your remit.",
        503: "The service cannot answer now (no model loaded, or the store or the "
        "consultation log is unavailable). Try again later.",
    }
    status = answer.status_code if answer.status_code in titles else 502
    return _page(
        web,
        request,
        "problem.html",
        {
            "title": titles.get(status, "Request failed"),
            "message": messages.get(status, f"The service answered {answer.status_code}."),
        },
        session=session,
        status_code=status,
    )


def _detail_text(answer: httpx.Response) -> str:
    try:
        return str(answer.json().get("detail", ""))
    except ValueError:
        return ""


def _justification_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{PAGES_PREFIX}/justification?{urlencode({'next': target})}"


def _safe_next(target: str | None) -> str:
    """A redirect target inside the pages only (no open redirect to another site)."""
    if target and target.startswith(f"{PAGES_PREFIX}/") and not target.startswith("//"):
        return target
    return f"{PAGES_PREFIX}/"


# -- formatting helpers for templates ----------------------------------------------------------


def percent(value: Any, digits: int = 1) -> str:
    """A share as a percentage ("12.3%"); a dash when unknown."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "–"
    if number != number:  # NaN
        return "–"
    return f"{number * 100:.{digits}f}%"


def number(value: Any, digits: int = 3) -> str:
    """A number with fixed decimals; a dash when unknown."""
    try:
        figure = float(value)
    except (TypeError, ValueError):
        return "–"
    if figure != figure:
        return "–"
    return f"{figure:.{digits}f}"


# -- pages -------------------------------------------------------------------------------------

router = APIRouter(prefix=PAGES_PREFIX, include_in_schema=False)


def _session(request: Request, web: WebState) -> WebSession | None:
    return web.codec.loads(request.cookies.get(COOKIE_NAME))


@router.get("/", response_class=HTMLResponse)
def home(request: Request, web: Web) -> Response:
    """Where a user starts: their role's main page, or the sign-in page."""
    session = _session(request, web)
    if session is None:
        return _to_sign_in(web)
    target = "worklist" if session.role == "officer" else "model"
    return RedirectResponse(f"{PAGES_PREFIX}/{target}", status_code=303)


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request, web: Web) -> Response:
    """The sign-in form: one field for the API key."""
    return _page(web, request, "sign_in.html", {"error": None}, session=None)


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(request: Request, web: Web, api_key: Annotated[str, Form()] = "") -> Response:
    """Check the key against the key store; on success keep it in the session cookie."""
    identity = web.check_key(request, api_key.strip()) if api_key.strip() else None
    if identity is None:
        return _page(
            web,
            request,
            "sign_in.html",
            {"error": "This key is not valid, or it was revoked."},
            session=None,
            status_code=401,
        )
    session = WebSession.start(
        api_key.strip(), key_id=identity.key_id, name=identity.name, role=identity.role
    )
    response = RedirectResponse(f"{PAGES_PREFIX}/", status_code=303)
    _set_cookie(response, web, session)
    return response


@router.post("/sign-out")
def sign_out(request: Request, web: Web, csrf: Annotated[str, Form()] = "") -> Response:
    """End the session: the cookie is removed."""
    session = _session(request, web)
    if session is not None and not session.form_token_matches(csrf):
        return _bad_form(web, request, session)
    return _to_sign_in(web, clear=True)


def _bad_form(web: WebState, request: Request, session: WebSession | None) -> Response:
    return _page(
        web,
        request,
        "problem.html",
        {
            "title": "Form expired",
            "message": "This form was not sent from your current session. Open the page "
            "again and resend it.",
        },
        session=session,
        status_code=403,
    )


@router.get("/justification", response_class=HTMLResponse)
def justification_form(request: Request, web: Web, next: str | None = None) -> Response:
    """Ask once per session why the user consults declarations and worklists."""
    session = _session(request, web)
    if session is None:
        return _to_sign_in(web)
    return _page(
        web,
        request,
        "justification.html",
        {"next": _safe_next(next), "error": None},
        session=session,
    )


@router.post("/justification", response_class=HTMLResponse)
def justify(
    request: Request,
    web: Web,
    justification: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Keep the justification in the session; every API call of the pages then carries it."""
    session = _session(request, web)
    if session is None:
        return _to_sign_in(web)
    if not session.form_token_matches(csrf):
        return _bad_form(web, request, session)
    text = " ".join(justification.split())
    if not text or len(text) > MAX_JUSTIFICATION_CHARS:
        return _page(
            web,
            request,
            "justification.html",
            {
                "next": _safe_next(next),
                "error": f"Give a reason of 1 to {MAX_JUSTIFICATION_CHARS} characters "
                "(case number, inspection order, ...).",
            },
            session=session,
            status_code=422,
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    _set_cookie(response, web, session.justified(text))
    return response


@router.get("/worklist", response_class=HTMLResponse)
async def worklist_page(
    request: Request,
    web: Web,
    office_id: str | None = None,
    date: str | None = None,
    capacity: str | None = None,
) -> Response:
    """Pick an office, day and capacity; see the ranked declarations to inspect."""
    session = _session(request, web)
    if session is None:
        return _to_sign_in(web)
    chosen = {
        "office_id": (office_id or "").strip(),
        "date": date or datetime.now(UTC).date().isoformat(),
        "capacity": capacity or "10",
    }
    context: dict[str, Any] = {"form": chosen, "worklist": None, "top_reasons": {}}
    if chosen["office_id"]:
        if not session.justification:
            return RedirectResponse(_justification_url(request), status_code=303)
        answer = await ServiceCall(request, session).get("/v1/worklist", chosen)
        if answer.status_code == 422:
            context["error"] = (
                "Check the office, the date (YYYY-MM-DD) and the capacity (0 or more)."
            )
            return _page(web, request, "worklist.html", context, session=session, status_code=422)
        if answer.status_code != 200:
            return _refused(web, request, session, answer)
        listed = answer.json()
        context["worklist"] = listed
        context["top_reasons"] = _top_reasons(
            request, [p["declaration_id"] for p in listed["picks"]]
        )
    return _page(web, request, "worklist.html", context, session=session)


def _top_reasons(request: Request, declaration_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The first stored reason of each declaration the worklist call just returned.

    Read from the store directly: the worklist call was checked and its record names these
    declarations; asking the API once per row would only repeat that record.
    """
    store = request.app.state.service.store
    found: dict[str, dict[str, Any]] = {}
    if store is None:
        return found
    with store.transaction() as session:
        latest = repository.latest_scores(session, declaration_ids)
        for declaration_id, row in latest.items():
            if row.reasons:
                found[declaration_id] = ReasonOut(**row.reasons[0]).model_dump()
    return found


@router.get("/declarations/{declaration_id}", response_class=HTMLResponse)
async def declaration_page(
    request: Request, web: Web, declaration_id: str, recorded: int | None = None
) -> Response:
    """A declaration's fields, risks, waterfall per threat, outcomes and the outcome form."""
    session = _session(request, web)
    if session is None:
        return _to_sign_in(web)
    if not session.justification:
        return RedirectResponse(_justification_url(request), status_code=303)
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
        return _refused(web, request, session, answer)
    detail = answer.json()
    latest = detail["latest"]
    waterfalls, explained_by = _waterfalls(request, detail)
    now = datetime.now(UTC).replace(second=0, microsecond=0, tzinfo=None)
    return _page(
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
    session = _session(request, web)
    if session is None:
        return _to_sign_in(web)
    form = await request.form()
    fields = {key: str(value) for key, value in form.items()}
    if not session.form_token_matches(fields.get("csrf")):
        return _bad_form(web, request, session)
    if not session.justification:
        return RedirectResponse(_justification_url(request), status_code=303)
    payload, problems = _outcome_payload(declaration_id, fields)
    if payload is not None:
        answer = await ServiceCall(request, session).post("/v1/outcomes", {"outcomes": [payload]})
        if answer.status_code == 200:
            target = f"{PAGES_PREFIX}/declarations/{declaration_id}?recorded=1"
            return RedirectResponse(target, status_code=303)
        if answer.status_code not in (409, 422):
            return _refused(web, request, session, answer)
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


@router.get("/model", response_class=HTMLResponse)
async def model_page(request: Request, web: Web) -> Response:
    """Risk managers: the champion and challenger, measures at inspection rates, drift."""
    session = _session(request, web)
    if session is None:
        return _to_sign_in(web)
    answer = await ServiceCall(request, session).get("/v1/model")
    if answer.status_code != 200:
        return _refused(web, request, session, answer)
    info = answer.json()
    threats_metrics: dict[str, Any] = dict(info.get("metrics", {}).get("threats", {}))
    rate_charts, calibration_charts = {}, {}
    for threat, measures in threats_metrics.items():
        series = {
            label: measures[key]
            for key, label in (
                ("precision_at", "precision"),
                ("recall_at", "recall"),
                ("revenue_at", "revenue share"),
            )
            if measures.get(key)
        }
        rate_charts[threat] = charts.rates_chart_svg(series, title=f"{threat}")
        calibration_charts[threat] = charts.calibration_svg(
            measures.get("calibration") or [], title=f"{threat} calibration"
        )
    current = request.app.state.service.model_holder.current
    metadata = dict(current.bundle.metadata) if current is not None else {}
    name, version = info["model"]["name"], info["model"]["version"]
    return _page(
        web,
        request,
        "model.html",
        {
            "info": info,
            "threats_metrics": threats_metrics,
            "rate_charts": rate_charts,
            "calibration_charts": calibration_charts,
            "challenger": web.challenger_version(request),
            # Only slices large enough to be reported (training leaves small ones out).
            "slices": {
                threat: shown
                for threat, dimensions in (metadata.get("slices") or {}).items()
                if (shown := {d: groups for d, groups in dimensions.items() if groups})
            },
            "importance": {
                threat: list(values.items())[:IMPORTANCE_ROWS]
                for threat, values in dict(info.get("importance", {})).items()
            },
            "mlflow_link": (
                f"{web.mlflow_ui_url.rstrip('/')}/#/models/{name}/versions/{version}"
                if web.mlflow_ui_url
                else None
            ),
        },
        session=session,
    )


AUDIT_FILTERS = ("since", "until", "key_id", "declaration_id")


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(
    request: Request,
    web: Web,
    since: str | None = None,
    until: str | None = None,
    key_id: str | None = None,
    declaration_id: str | None = None,
) -> Response:
    """Risk managers: search the consultation log by time, key and declaration."""
    session = _session(request, web)
    if session is None:
        return _to_sign_in(web)
    form = {"since": since, "until": until, "key_id": key_id, "declaration_id": declaration_id}
    params = {name: value.strip() for name, value in form.items() if value and value.strip()}
    answer = await ServiceCall(request, session).get("/v1/audit", {**params, "limit": 200})
    if answer.status_code == 422:
        return _page(
            web,
            request,
            "audit.html",
            {
                "form": form,
                "records": [],
                "error": "Check the filters: times as YYYY-MM-DDTHH:MM, a key id of 12 "
                "hexadecimal digits.",
            },
            session=session,
            status_code=422,
        )
    if answer.status_code != 200:
        return _refused(web, request, session, answer)
    return _page(
        web,
        request,
        "audit.html",
        {"form": form, "records": answer.json()["records"], "error": None},
        session=session,
    )


def include_pages(
    app: FastAPI,
    *,
    codec: SessionCodec,
    check_key: KeyChecker,
    challenger_version: ChallengerLookup,
    secure_cookie: bool = True,
    mlflow_ui_url: str | None = None,
) -> None:
    """Mount the pages and their static files on the service's app."""
    templates = Jinja2Templates(directory=str(_HERE / "templates"))
    templates.env.filters["percent"] = percent
    templates.env.filters["number"] = number
    app.state.web = WebState(
        templates=templates,
        codec=codec,
        check_key=check_key,
        challenger_version=challenger_version,
        secure_cookie=secure_cookie,
        mlflow_ui_url=mlflow_ui_url,
    )
    app.include_router(router)
    app.mount(STATIC_PATH, StaticFiles(directory=str(_HERE / "static")), name="web-static")
