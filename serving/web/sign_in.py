"""Sign-in, sign-out and the session's justification: where every user starts.

With an identity provider configured (`serving.web.oidc`), people sign in there; without one
(development, `make demo`) with an API key. Either way the browser gets a reference to a
server-side session, never a key. Every change of a session (started, ended, a justification
or language chosen) is committed with its consultation record in one transaction
(`record_page_event`), and failed sign-ins are recorded too.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from features.i18n import LOCALES
from serving.access import sessions
from serving.access.policy import ENTRANCE_PATH, PAGES_PREFIX
from serving.base import MAX_JUSTIFICATION_CHARS, Caller
from serving.web.i18n import LANGUAGE_COOKIE
from serving.web.page import (
    SignedIn,
    Web,
    WebState,
    bad_form,
    page_router,
    page_words,
    record_page_event,
    render_page,
    safe_next,
    set_session_cookie,
    signed_in,
    to_sign_in,
    unavailable,
)
from serving.web.session import COOKIE_PATH, WebSession

LANGUAGE_COOKIE_DAYS = 365

router = page_router()
# The service's own address, outside the pages' prefix: not part of the API's document.
entrance = APIRouter(include_in_schema=False)


@entrance.api_route(ENTRANCE_PATH, methods=["GET", "HEAD"])
def enter() -> RedirectResponse:
    """A browser opening the service's address is sent to the pages, which sign users in."""
    return RedirectResponse(f"{PAGES_PREFIX}/", status_code=303)


@router.get("/", response_class=HTMLResponse)
def home(page: SignedIn) -> Response:
    """Where a user starts: their role's main page, or the sign-in page."""
    target = "worklist" if page.session.role == "officer" else "model"
    return RedirectResponse(f"{PAGES_PREFIX}/{target}", status_code=303)


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request, web: Web) -> Response:
    """The sign-in page: the identity provider's button, or (development) a key field."""
    return _sign_in_page(request, web, None)


def _sign_in_page(
    request: Request, web: WebState, error: str | None, status_code: int = 200
) -> Response:
    return render_page(
        web,
        request,
        "sign_in.html",
        {"error": error, "single_sign_on": web.oidc is not None},
        session=None,
        status_code=status_code,
    )


def chosen_locale(request: Request) -> str | None:
    """The language picked before sign-in (the selector's cookie), when shipped."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    return chosen if chosen in LOCALES else None


def start_session(
    request: Request, web: WebState, session: WebSession, secret: str, target: str
) -> Response | None:
    """Store ``session`` with its sign-in record (one transaction) and answer with its cookie
    and a page that moves on to ``target``; None when that could not be committed."""
    recorded = record_page_event(
        request,
        status=200,
        session=session,
        writes=[lambda db: sessions.add_session(db, session, secret)],
        detail={"session": session.session_id, "method": "oidc" if session.issuer else "key"},
    )
    if not recorded:
        return None
    # A page that moves on by itself, not a redirect: after a provider's redirect the browser
    # would not send a SameSite=strict cookie with the next redirect of the same chain.
    response = render_page(
        web, request, "signed_in.html", {"target": target}, session=None, status_code=200
    )
    set_session_cookie(response, web, session.session_id, secret)
    return response


def refuse_sign_in(
    request: Request, web: WebState, message: str, *, who: Caller | None, reason: str
) -> Response:
    """The sign-in page with ``message`` (401), after recording the failed attempt."""
    record_page_event(request, status=401, caller=who, detail={"reason": reason})
    return _sign_in_page(request, web, message, status_code=401)


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(request: Request, web: Web, api_key: Annotated[str, Form()] = "") -> Response:
    """Development sign-in with a key: checked against the key store, then a server-side
    session is started (the key itself is not kept). Refused when single sign-on is set up."""
    gettext = page_words(request, None).gettext
    if web.oidc is not None:
        return refuse_sign_in(
            request,
            web,
            gettext("Sign in with your organisation's account"),
            who=None,
            reason="key sign-in is off: single sign-on is configured",
        )
    identity = web.check_key(request, api_key.strip()) if api_key.strip() else None
    if identity is None:
        return refuse_sign_in(
            request,
            web,
            gettext("This key is not valid, or it was revoked."),
            who=None,
            reason="invalid key",
        )
    session, secret = sessions.new_session(
        name=identity.owner or identity.name,
        role=identity.role,
        now=sessions.utc_now(),
        offices=identity.offices,
        key_id=identity.key_id,
        locale=chosen_locale(request),
    )
    started = start_session(request, web, session, secret, f"{PAGES_PREFIX}/")
    return started if started is not None else unavailable(web, request, None)


@router.post("/sign-out")
def sign_out(request: Request, web: Web, csrf: Annotated[str, Form()] = "") -> Response:
    """End the session in the store (with its record) and remove the cookie."""
    session = signed_in(request, web)
    if session is None:
        return to_sign_in(web, clear=True)
    if not session.form_token_matches(csrf):
        return bad_form(web, request, session)
    ended = record_page_event(
        request,
        status=200,
        session=session,
        writes=[lambda db: sessions.end_session(db, session.session_id, sessions.utc_now())],
        detail={"session": session.session_id},
    )
    if not ended:
        return unavailable(web, request, session)
    return to_sign_in(web, clear=True)


def _changed(request: Request, web: WebState, changed: WebSession, target: str) -> Response:
    """Keep a session's change with its record; then go on to ``target``."""

    def write(db: Session) -> None:
        sessions.change_session(db, changed)

    if not record_page_event(
        request, status=200, session=changed, writes=[write], detail={"locale": changed.locale}
    ):
        return unavailable(web, request, changed)
    return RedirectResponse(target, status_code=303)


@router.get("/justification", response_class=HTMLResponse)
def justification_form(page: SignedIn, next: str | None = None) -> Response:
    """Ask once per session why the user consults declarations and worklists."""
    return page.render("justification.html", {"next": safe_next(next), "error": None})


@router.post("/justification", response_class=HTMLResponse)
def justify(
    page: SignedIn,
    justification: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Keep the justification in the session; every API call of the pages then carries it."""
    session = page.session
    if not session.form_token_matches(csrf):
        return bad_form(page.web, page.request, session)
    text = " ".join(justification.split())
    if not text or len(text) > MAX_JUSTIFICATION_CHARS:
        return page.render(
            "justification.html",
            {
                "next": safe_next(next),
                "error": page.words.gettext(
                    "Give a reason of 1 to %(most)s characters "
                    "(case number, inspection order, ...)."
                )
                % {"most": MAX_JUSTIFICATION_CHARS},
            },
            status_code=422,
        )
    return _changed(page.request, page.web, sessions.justified(session, text), safe_next(next))


@router.post("/language")
def choose_language(
    request: Request,
    web: Web,
    locale: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Keep the language the user picked (in the session, or before sign-in in a cookie)."""
    choice = locale if locale in LOCALES else None
    session = signed_in(request, web)
    if session is not None:
        if not session.form_token_matches(csrf):
            return bad_form(web, request, session)
        return _changed(request, web, sessions.speaking(session, choice), safe_next(next))
    response = RedirectResponse(safe_next(next), status_code=303)
    if choice is None:
        response.delete_cookie(LANGUAGE_COOKIE, path=COOKIE_PATH)
    else:
        response.set_cookie(
            LANGUAGE_COOKIE,
            choice,
            max_age=LANGUAGE_COOKIE_DAYS * 86400,
            path=COOKIE_PATH,
            secure=web.secure_cookie,
            httponly=True,
            samesite="strict",
        )
    return response
