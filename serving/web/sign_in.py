"""Sign-in, sign-out and the session's justification: where every user starts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from features.i18n import LOCALES
from serving.access.policy import ENTRANCE_PATH, PAGES_PREFIX
from serving.base import MAX_JUSTIFICATION_CHARS
from serving.web.i18n import LANGUAGE_COOKIE
from serving.web.page import (
    Web,
    bad_form,
    page_router,
    page_words,
    render_page,
    safe_next,
    set_session_cookie,
    signed_in,
    to_sign_in,
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
def home(request: Request, web: Web) -> Response:
    """Where a user starts: their role's main page, or the sign-in page."""
    session = signed_in(request, web)
    if session is None:
        return to_sign_in(web)
    target = "worklist" if session.role == "officer" else "model"
    return RedirectResponse(f"{PAGES_PREFIX}/{target}", status_code=303)


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request, web: Web) -> Response:
    """The sign-in form: one field for the API key."""
    return render_page(web, request, "sign_in.html", {"error": None}, session=None)


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(request: Request, web: Web, api_key: Annotated[str, Form()] = "") -> Response:
    """Check the key against the key store; on success keep it in the session cookie."""
    identity = web.check_key(request, api_key.strip()) if api_key.strip() else None
    if identity is None:
        return render_page(
            web,
            request,
            "sign_in.html",
            {
                "error": page_words(request, None).gettext(
                    "This key is not valid, or it was revoked."
                )
            },
            session=None,
            status_code=401,
        )
    chosen = request.cookies.get(LANGUAGE_COOKIE)  # the language picked before sign-in
    session = WebSession.start(
        api_key.strip(),
        key_id=identity.key_id,
        name=identity.name,
        role=identity.role,
        locale=chosen if chosen in LOCALES else None,
    )
    response = RedirectResponse(f"{PAGES_PREFIX}/", status_code=303)
    set_session_cookie(response, web, session)
    return response


@router.post("/sign-out")
def sign_out(request: Request, web: Web, csrf: Annotated[str, Form()] = "") -> Response:
    """End the session: the cookie is removed."""
    session = signed_in(request, web)
    if session is not None and not session.form_token_matches(csrf):
        return bad_form(web, request, session)
    return to_sign_in(web, clear=True)


@router.get("/justification", response_class=HTMLResponse)
def justification_form(request: Request, web: Web, next: str | None = None) -> Response:
    """Ask once per session why the user consults declarations and worklists."""
    session = signed_in(request, web)
    if session is None:
        return to_sign_in(web)
    return render_page(
        web,
        request,
        "justification.html",
        {"next": safe_next(next), "error": None},
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
    session = signed_in(request, web)
    if session is None:
        return to_sign_in(web)
    if not session.form_token_matches(csrf):
        return bad_form(web, request, session)
    text = " ".join(justification.split())
    if not text or len(text) > MAX_JUSTIFICATION_CHARS:
        return render_page(
            web,
            request,
            "justification.html",
            {
                "next": safe_next(next),
                "error": page_words(request, session).gettext(
                    "Give a reason of 1 to %(most)s characters "
                    "(case number, inspection order, ...)."
                )
                % {"most": MAX_JUSTIFICATION_CHARS},
            },
            session=session,
            status_code=422,
        )
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(response, web, session.justified(text))
    return response


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
    response = RedirectResponse(safe_next(next), status_code=303)
    if session is not None:
        if not session.form_token_matches(csrf):
            return bad_form(web, request, session)
        set_session_cookie(response, web, session.speaking(choice))
    elif choice is None:
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
