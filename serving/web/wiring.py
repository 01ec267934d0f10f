"""Puts the pages on the service's app: the session secret, the key check, the registry look-up.

Kept apart from the pages so that their routes stay thin and testable with hand-made
stand-ins, and so the only code here that knows about the key store and the registry is small
and plain. `include_pages` mounts one router per page (sign-in, worklist, declaration, model,
audit, exchange, risk profiles) and the static files.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from serving.access import key_store
from serving.access.keys import MalformedKey, matches, parse_key
from serving.access.policy import PAGES_PREFIX
from serving.web import (
    audit,
    declaration,
    exchange,
    i18n,
    labels,
    model,
    oidc,
    page,
    profiles,
    profiles_form,
    sign_in,
    worklist,
)
from serving.web.page import ChallengerLookup, KeyChecker, KeyIdentity
from serving.web.session import SessionCodec, session_secret
from serving.web.settings import WebSettings

log = logging.getLogger(__name__)

CHALLENGER_ALIAS = "challenger"
STATIC_PATH = f"{PAGES_PREFIX}/static"
_HERE = Path(__file__).resolve().parent


def key_identity(request: Request, api_key: str) -> KeyIdentity | None:
    """Who a presented key belongs to, when it is well formed, known, unrevoked and matches."""
    state = request.app.state.service
    if state.store is None:
        return None
    try:
        presented = parse_key(api_key)
    except MalformedKey:
        return None
    with state.store.sessions() as session:
        stored = key_store.find_key(session, presented.key_id)
    pepper = state.settings.pepper()
    if (
        stored is None
        or not stored.usable(datetime.now(UTC))
        or not matches(presented, stored, pepper)
    ):
        return None
    return KeyIdentity(
        key_id=stored.key_id,
        name=stored.name,
        role=stored.role.value,
        offices=stored.offices,
        owner=stored.owner,
    )


def challenger_version(request: Request) -> str | None:
    """The version the registry's challenger alias names now, or None when there is none."""
    state = request.app.state.service
    current = state.model_holder.current
    if current is None:
        return None
    from models import registry

    try:
        _, version = registry.resolve(
            f"models:/{current.name}@{CHALLENGER_ALIAS}",
            tracking_uri=state.settings.resolved_tracking_uri(),
        )
    except Exception as error:  # no alias, or the registry is unreachable: say "none"
        log.info("no challenger: %s", type(error).__name__)
        return None
    return version


def include_pages(
    app: FastAPI,
    *,
    codec: SessionCodec,
    check_key: KeyChecker,
    challenger_version: ChallengerLookup,
    secure_cookie: bool = True,
    mlflow_ui_url: str | None = None,
    single_sign_on: oidc.OidcSignIn | None = None,
) -> None:
    """Mount the pages and their static files on the service's app."""
    templates = Jinja2Templates(directory=str(_HERE / "templates"))
    # {% trans %} and _() call the gettext of each page's context (serving.web.i18n)
    templates.env.add_extension("jinja2.ext.i18n")
    templates.env.filters.update(i18n.FILTERS)
    templates.env.filters.update(labels.FILTERS)
    app.state.web = page.WebState(
        templates=templates,
        codec=codec,
        check_key=check_key,
        challenger_version=challenger_version,
        secure_cookie=secure_cookie,
        mlflow_ui_url=mlflow_ui_url,
        oidc=single_sign_on,
    )
    # a page's early answer (sign in first, ...): serving.web.page.PageAnswer
    app.add_exception_handler(page.PageAnswer, page.answer_early)
    # the forms first: /profiles/new is not the profile "new"
    for room in (
        sign_in,
        oidc,
        worklist,
        declaration,
        model,
        audit,
        exchange,
        profiles_form,
        profiles,
    ):
        app.include_router(room.router)
    app.include_router(sign_in.entrance)
    app.mount(STATIC_PATH, StaticFiles(directory=str(_HERE / "static")), name="web-static")


def include_web(app: FastAPI, settings: WebSettings | None = None) -> None:
    """Mount the pages; the cookie is signed with a secret derived from the key pepper.

    With ``SHIPRISK_OIDC_ISSUER`` set, people sign in with that identity provider; without it
    (development), with a key.
    """
    settings = settings or WebSettings()
    secret = session_secret(app.state.service.settings.pepper())
    include_pages(
        app,
        codec=SessionCodec(secret),
        check_key=key_identity,
        challenger_version=challenger_version,
        secure_cookie=settings.web_secure_cookie,
        mlflow_ui_url=settings.mlflow_ui_url,
        single_sign_on=None
        if settings.oidc_issuer is None
        else oidc.OidcSignIn(settings, SessionCodec(secret, max_age_seconds=600, salt="oidc")),
    )
