"""Single sign-on for the pages: OpenID Connect with Authlib's Starlette client.

The authorization code flow with PKCE (S256), state and nonce: `/web/sign-in/oidc` sends the
browser to the identity provider with a fresh state, nonce and code verifier, kept for ten
minutes in a signed, http-only cookie of their own (SameSite=lax: the provider's redirect back
is a cross-site navigation); `/web/oidc/callback` checks the state, exchanges the code with the
verifier, checks the ID token's signature, issuer, audience, expiry and nonce (Authlib), then
reads the person from the configured claims (`WebSettings`: subject, name, role through the
role map, offices, locale) and starts a server-side session (`serving.web.sign_in`). A person
without a mapped role is refused, and every refusal is recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from features.i18n import LOCALES
from serving.access import sessions
from serving.access.keys import Role, StoredKey, normalised_offices
from serving.access.policy import PAGES_PREFIX
from serving.base import Caller, Person
from serving.web.i18n import pick_locale
from serving.web.page import Web, page_router, page_words, to_sign_in, unavailable
from serving.web.session import COOKIE_PATH, SessionCodec
from serving.web.settings import WebSettings
from serving.web.sign_in import chosen_locale, refuse_sign_in, start_session

log = logging.getLogger(__name__)

FLOW_COOKIE = "shiprisk_sign_in"
FLOW_SECONDS = 600
CALLBACK_PATH = f"{PAGES_PREFIX}/oidc/callback"

router = page_router()


def _values(claim: Any) -> list[str]:
    """A claim as a list of strings: a JSON list, or one string of space or comma separated
    values."""
    if isinstance(claim, str):
        return claim.replace(",", " ").split()
    if isinstance(claim, list | tuple):
        return [str(value) for value in claim if isinstance(value, str | int)]
    return []


class OidcSignIn:
    """The identity provider as this service's client, and how its claims map to a person."""

    def __init__(self, settings: WebSettings, flow: SessionCodec) -> None:
        from authlib.integrations.starlette_client import OAuth

        assert settings.oidc_issuer is not None
        self.settings = settings
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.flow = flow
        secret = settings.oidc_client_secret
        self.client: Any = OAuth().register(
            "identity_provider",
            client_id=settings.oidc_client_id,
            client_secret=None if secret is None else secret.get_secret_value(),
            server_metadata_url=f"{self.issuer}/.well-known/openid-configuration",
            client_kwargs={"scope": settings.oidc_scopes, "code_challenge_method": "S256"},
        )

    def role(self, claims: Mapping[str, Any]) -> Role | None:
        """The person's role: the first mapped value of the role claim, in the map's order."""
        held = set(_values(claims.get(self.settings.oidc_role_claim)))
        for value, role in self.settings.oidc_role_map.items():
            if value in held and role in {r.value for r in Role}:
                return Role(role)
        return None

    def offices(self, claims: Mapping[str, Any]) -> tuple[str, ...] | None:
        """The person's remit from the offices claim (none: every office, as a key's)."""
        return normalised_offices(_values(claims.get(self.settings.oidc_offices_claim)))

    def name(self, claims: Mapping[str, Any]) -> str:
        """The display name; the subject when the provider gives none."""
        named = claims.get(self.settings.oidc_name_claim)
        return str(named).strip()[:200] if named else str(claims.get("sub", ""))[:200]

    def locale(self, claims: Mapping[str, Any]) -> str | None:
        """The locale claim as a shipped locale (`pick_locale`), or None."""
        claimed = claims.get(self.settings.oidc_locale_claim)
        if not isinstance(claimed, str) or not claimed.strip():
            return None
        locale = pick_locale(None, claimed.replace("_", "-"))
        return locale if locale in LOCALES else None

    def redirect_uri(self, request: Request) -> str:
        base = self.settings.oidc_redirect_base
        root = base.rstrip("/") if base else str(request.base_url).rstrip("/")
        return f"{root}{CALLBACK_PATH}"


def _flow_response(response: Response, request: Request, web: Any) -> Response:
    """Keep the flow's state (Authlib's ``request.session``) in its own short-lived cookie."""
    response.set_cookie(
        FLOW_COOKIE,
        web.oidc.flow.dumps(dict(request.scope["session"])),
        max_age=FLOW_SECONDS,
        path=COOKIE_PATH,
        secure=web.secure_cookie,
        httponly=True,
        samesite="lax",
    )
    return response


@router.get("/sign-in/oidc")
async def start_single_sign_on(request: Request, web: Web) -> Response:
    """Send the browser to the identity provider (code flow, PKCE S256, state and nonce)."""
    sso: OidcSignIn | None = web.oidc
    if sso is None:
        return to_sign_in(web)
    request.scope["session"] = {}
    try:
        redirect = await sso.client.authorize_redirect(request, sso.redirect_uri(request))
    except Exception as error:  # the provider cannot be reached: say so, keep nothing
        log.error("identity provider unavailable: %s", type(error).__name__)
        return unavailable(web, request, None)
    redirect.status_code = 303
    return _flow_response(redirect, request, web)


@router.get("/oidc/callback", response_class=HTMLResponse)
async def single_sign_on_callback(request: Request, web: Web) -> Response:
    """The provider's answer: check it, read the person, start their session."""
    sso: OidcSignIn | None = web.oidc
    if sso is None:
        return to_sign_in(web)
    gettext = page_words(request, None).gettext
    flow = sso.flow.loads_data(request.cookies.get(FLOW_COOKIE))
    request.scope["session"] = flow if isinstance(flow, dict) else {}
    try:
        token = await sso.client.authorize_access_token(request)
        claims: dict[str, Any] = dict(token.get("userinfo") or {})
        if not claims:
            raise ValueError("no ID token")
        if sso.settings.oidc_role_claim not in claims:
            claims.update(await sso.client.userinfo(token=token))
    except Exception as error:  # state, code, token, signature, nonce, or the provider
        log.warning("single sign-on refused: %s", type(error).__name__)
        response = refuse_sign_in(
            request,
            web,
            gettext("The sign-in did not succeed. Try again."),
            who=None,
            reason=f"identity provider answer refused ({type(error).__name__})",
        )
        response.delete_cookie(FLOW_COOKIE, path=COOKIE_PATH)
        return response
    subject, name = str(claims["sub"]), sso.name(claims)
    role = sso.role(claims)
    if role is None:
        who = Caller(
            StoredKey("-", name, Role.OFFICER, None, "", "", sessions.utc_now()),
            None,
            Person(name, sso.issuer, subject),
        )
        response = refuse_sign_in(
            request,
            web,
            gettext("Your account has no role in shiprisk: ask your administrator."),
            who=who,
            reason="no mapped role",
        )
        response.delete_cookie(FLOW_COOKIE, path=COOKIE_PATH)
        return response
    session, secret = sessions.new_session(
        name=name,
        role=role,
        now=sessions.utc_now(),
        offices=sso.offices(claims),
        issuer=sso.issuer,
        subject=subject,
        locale=chosen_locale(request) or sso.locale(claims),
    )
    started = start_session(request, web, session, secret, f"{PAGES_PREFIX}/")
    if started is None:
        return unavailable(web, request, None)
    started.delete_cookie(FLOW_COOKIE, path=COOKIE_PATH)
    return started
