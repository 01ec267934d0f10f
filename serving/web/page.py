"""What every page shares: the pages' state, the API called as the signed-in user, responses.

A page holds no data of its own: it calls the service's API in process, presenting the API key
of the signed-in user (and the justification they gave once for the session), so every page
action passes the same authentication, role and office-remit checks and leaves the same
consultation-log record as the same call made with curl. A refused call becomes the sign-in
page (401) or a 403/404 page that shows no data. The pages need no JavaScript.

A page of a signed-in person takes a `Page` (``page: SignedIn``): the request, the pages'
state and the session, with what every page does with them (`Page.render`, `Page.refused`,
`Page.call`, `Page.words`, ...). Anyone not signed in is sent to the sign-in page before the
route runs: the dependency raises `PageAnswer`, whose response `include_pages` answers as it
is, as are the other answers a page gives before its own work (`Page.form`: a form sent from
another session; `Page.justified`: no justification given yet).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from features.i18n import Language, language_tag, mark
from serving.access.policy import PAGES_PREFIX
from serving.access.sessions import live_session
from serving.base import SIGNED_IN, Caller
from serving.deps import commit_event
from serving.web.i18n import LANGUAGE_COOKIE, page_language, pick_locale, template_context
from serving.web.session import COOKIE_NAME, COOKIE_PATH, SessionCodec, WebSession

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyIdentity:
    """Who an API key belongs to, as the key store says (development sign-in with a key)."""

    key_id: str
    name: str
    role: str
    offices: tuple[str, ...] | None = None
    owner: str | None = None


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
    oidc: Any = None  # serving.web.oidc.OidcSignIn when an identity provider is configured


def web_state(request: Request) -> WebState:
    """The pages' shared state of the app serving this request."""
    state: WebState = request.app.state.web
    return state


Web = Annotated[WebState, Depends(web_state)]


# -- the API, called in process as the signed-in user ------------------------------------------


def _as_person(app: ASGIApp, caller: Caller) -> ASGIApp:
    """``app`` with ``caller`` put in each request's scope, where the access middleware takes
    it instead of a key: only code in this process can call this, no client can set it."""

    async def call(scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("state", {})[SIGNED_IN] = caller
        await app(scope, receive, send)

    return call


class ServiceCall:
    """Calls the service's own routes in process, through all its middleware, as the person
    signed in: the same role, remit and justification checks, and the same records."""

    def __init__(self, request: Request, session: WebSession) -> None:
        self.app = request.app
        self.session = session
        self.language = language_tag(page_locale(request, session))

    def _headers(self) -> dict[str, str]:
        # The API answers in the user's language (reason texts).
        headers = {"Accept-Language": self.language}
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

    async def put(
        self, path: str, payload: Any, params: Mapping[str, Any] | None = None
    ) -> httpx.Response:
        """PUT JSON to an API route with the user's key and justification."""
        async with self._client() as client:
            return await client.put(
                path, json=payload, params=dict(params or {}), headers=self._headers()
            )

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=_as_person(self.app, self.session.caller())),
            base_url="http://shiprisk.pages",
        )


# -- responses ---------------------------------------------------------------------------------


def page_locale(request: Request, session: WebSession | None) -> str:
    """The locale this request's page is written in: the user's choice (the session's, or the
    language cookie before sign-in), else the browser's, else English."""
    choice = session.locale if session is not None else request.cookies.get(LANGUAGE_COOKIE)
    return pick_locale(choice, request.headers.get("accept-language"))


def page_words(request: Request, session: WebSession | None) -> Language:
    """The pages' catalogue in this request's page locale, for messages made in Python."""
    return page_language(page_locale(request, session))


def render_page(
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
        {
            "session": session,
            "prefix": PAGES_PREFIX,
            **template_context(page_locale(request, session)),
            **context,
        },
        status_code=status_code,
    )
    return response  # security headers and the pages' CSP: serving.access.authenticate


def to_sign_in(web: WebState, *, clear: bool = False) -> RedirectResponse:
    response = RedirectResponse(f"{PAGES_PREFIX}/sign-in", status_code=303)
    if clear:
        clear_session_cookie(response, web)
    return response


def set_session_cookie(response: Response, web: WebState, session_id: str, secret: str) -> None:
    response.set_cookie(
        COOKIE_NAME,
        web.codec.reference(session_id, secret),
        max_age=web.codec.max_age_seconds,
        path=COOKIE_PATH,
        secure=web.secure_cookie,
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response, web: WebState) -> None:
    response.delete_cookie(
        COOKIE_NAME, path=COOKIE_PATH, secure=web.secure_cookie, httponly=True, samesite="strict"
    )


@dataclass(frozen=True)
class Problem:
    """A problem page: its title and message as written (marked, translated when shown;
    the message may hold %-placeholders) and its status."""

    title: str
    message: str
    status: int


REQUEST_FAILED = Problem(mark("Request failed"), mark("The service answered %(status)s."), 502)
REFUSALS = {
    403: Problem(mark("Not allowed"), mark("Your role (%(role)s) may not open this page."), 403),
    404: Problem(
        mark("Not found"),
        mark("There is no scored declaration with this id within your remit."),
        404,
    ),
}
FORM_EXPIRED = Problem(
    mark("Form expired"),
    mark("This form was not sent from your current session. Open the page again and resend it."),
    403,
)
SERVICE_UNAVAILABLE = Problem(
    mark("Service unavailable"),
    mark(
        "The service cannot answer now (no model loaded, or the store or the consultation log "
        "is unavailable). Try again later."
    ),
    503,
)


def problem_page(
    web: WebState,
    request: Request,
    session: WebSession | None,
    problem: Problem,
    **values: object,
) -> HTMLResponse:
    """The problem page in the page's language, its message filled with ``values``."""
    gettext = page_words(request, session).gettext
    message = gettext(problem.message)
    return render_page(
        web,
        request,
        "problem.html",
        {"title": gettext(problem.title), "message": message % values if values else message},
        session=session,
        status_code=problem.status,
    )


def refused(
    web: WebState, request: Request, session: WebSession, answer: httpx.Response
) -> Response:
    """The page for an API call that did not succeed: never any of the data asked for."""
    if answer.status_code == 401:  # signed out elsewhere since the page began
        return to_sign_in(web, clear=True)
    if answer.status_code == 400 and "X-Justification" in _detail_text(answer):
        return RedirectResponse(justification_url(request), status_code=303)
    if answer.status_code == 503:
        return unavailable(web, request, session)
    return problem_page(
        web,
        request,
        session,
        REFUSALS.get(answer.status_code, REQUEST_FAILED),
        role=session.role.replace("_", " "),
        status=answer.status_code,
    )


def _detail_text(answer: httpx.Response) -> str:
    try:
        return str(answer.json().get("detail", ""))
    except ValueError:
        return ""


def justification_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{PAGES_PREFIX}/justification?{urlencode({'next': target})}"


def safe_next(target: str | None) -> str:
    """A redirect target inside the pages only (no open redirect to another site)."""
    if target and target.startswith(f"{PAGES_PREFIX}/") and not target.startswith("//"):
        return target
    return f"{PAGES_PREFIX}/"


def bad_form(web: WebState, request: Request, session: WebSession | None) -> Response:
    """403: the form was not sent from this session (its CSRF token is not the session's)."""
    return problem_page(web, request, session, FORM_EXPIRED)


def signed_in(request: Request, web: WebState) -> WebSession | None:
    """The live session the request's cookie names, or None when there is none, the cookie
    was changed, or the session expired, was ended or revoked (one read of the store)."""
    reference = web.codec.loads(request.cookies.get(COOKIE_NAME))
    store = request.app.state.service.store
    if reference is None or store is None:
        return None
    try:
        return live_session(store, *reference, datetime.now(UTC))
    except Exception as error:  # the store failed: nobody is signed in
        log.error("session look-up failed: %s", type(error).__name__)
        return None


def record_page_event(
    request: Request,
    *,
    status: int,
    session: WebSession | None = None,
    caller: Caller | None = None,
    writes: Sequence[Callable[[Session], object]] = (),
    detail: Mapping[str, Any] | None = None,
) -> bool:
    """Record what a page did (sign-in, sign-out, a session change) with the writes it made, in
    one transaction (`serving.deps.commit_event`): False when nothing was committed.

    Who: the session's person, or ``caller`` (a failed sign-in: who tried, when known).
    """
    who = caller
    if who is None and session is not None:
        who = session.caller(session.justification)
    route = getattr(request.scope.get("route"), "path", request.url.path)
    return commit_event(
        request.app.state.service,
        route=f"{request.method} {route}",
        status=status,
        who=who,
        writes=writes,
        detail=detail,
    )


def unavailable(web: WebState, request: Request, session: WebSession | None) -> Response:
    """503: the page's change and its record could not be committed, so neither was."""
    return problem_page(web, request, session, SERVICE_UNAVAILABLE)


# -- the page of a signed-in person -------------------------------------------------------------


class PageAnswer(Exception):
    """An answer a page gives before its own work: the sign-in page, a refused form, the
    justification form. Raised by `signed_in_page` and `Page`'s checks; `answer_early`
    answers it."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


async def answer_early(request: Request, error: Exception) -> Response:
    """The exception handler of `PageAnswer`: its response, as it is."""
    assert isinstance(error, PageAnswer)
    return error.response


@dataclass
class Page:
    """One request to a page by a signed-in person, and what every page does with it."""

    web: WebState
    request: Request
    session: WebSession

    @functools.cached_property
    def locale(self) -> str:
        """The locale the page is written in (`page_locale`)."""
        return page_locale(self.request, self.session)

    @functools.cached_property
    def words(self) -> Language:
        """The pages' catalogue in the page's locale, for messages made in Python."""
        return page_language(self.locale)

    @functools.cached_property
    def call(self) -> ServiceCall:
        """The API, called in process as the signed-in person."""
        return ServiceCall(self.request, self.session)

    def render(
        self, template: str, context: Mapping[str, Any], *, status_code: int = 200
    ) -> HTMLResponse:
        """The page's template with ``context`` (and the session and the locale's words)."""
        return render_page(
            self.web, self.request, template, context, session=self.session, status_code=status_code
        )

    def problem(self, problem: Problem, **values: object) -> HTMLResponse:
        """A problem page (`problem_page`)."""
        return problem_page(self.web, self.request, self.session, problem, **values)

    def refused(self, answer: httpx.Response) -> Response:
        """The page for an API call that did not succeed (`refused`)."""
        return refused(self.web, self.request, self.session, answer)

    def justified(self) -> None:
        """Go on only when the session has a justification; else `PageAnswer` with the way to
        the justification form (back to this page after)."""
        if not self.session.justification:
            raise PageAnswer(RedirectResponse(justification_url(self.request), status_code=303))

    async def form(self) -> dict[str, str]:
        """The fields of a form posted from this session's page; else `PageAnswer` 403 (its
        CSRF token is not the session's)."""
        posted = await self.request.form()
        fields = {key: str(value) for key, value in posted.items()}
        if not self.session.form_token_matches(fields.get("csrf")):
            raise PageAnswer(bad_form(self.web, self.request, self.session))
        return fields


async def signed_in_page(request: Request, web: Web) -> Page:
    """The dependency of every page of a signed-in person: the page, or `PageAnswer` with the
    sign-in page for anyone else (async: the session is read on the event loop, as before)."""
    session = signed_in(request, web)
    if session is None:
        raise PageAnswer(to_sign_in(web))
    return Page(web, request, session)


SignedIn = Annotated[Page, Depends(signed_in_page)]


def page_router() -> APIRouter:
    """A router for one page's routes under the pages' prefix, left out of the API document."""
    return APIRouter(prefix=PAGES_PREFIX, include_in_schema=False)
