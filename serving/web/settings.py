"""Settings of the web pages, read once with the service's (``SHIPRISK_`` variables)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_ROLE_MAP = {"officer": "officer", "risk_manager": "risk_manager", "admin": "admin"}


class WebSettings(BaseSettings):
    """How the pages set their cookie, where they link to MLflow, and the identity provider
    people sign in with (OpenID Connect; none: development sign-in with a key)."""

    model_config = SettingsConfigDict(env_prefix="SHIPRISK_", extra="ignore")

    web_secure_cookie: bool = Field(
        default=True,
        description="send the session cookie over HTTPS only (browsers also accept it from "
        "http://localhost); switch off only behind a TLS-terminating proxy on plain HTTP",
    )
    mlflow_ui_url: str | None = Field(
        default=None,
        description="address of the MLflow UI, for the model page's link to the model's run",
    )
    oidc_issuer: str | None = Field(
        default=None,
        description="the OpenID Connect provider's issuer URL (its discovery document is "
        "<issuer>/.well-known/openid-configuration); unset: sign-in with a key (development)",
    )
    oidc_client_id: str = Field(default="shiprisk", description="this service's client id")
    oidc_client_secret: SecretStr | None = Field(
        default=None, description="the client secret (confidential client)"
    )
    oidc_scopes: str = Field(default="openid profile email", description="scopes asked for")
    oidc_role_claim: str = Field(
        default="groups", description="the claim listing the person's groups or roles"
    )
    oidc_role_map: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_ROLE_MAP),
        description="JSON: the role claim's values -> officer, risk_manager or admin; the "
        "first value of the claim found here wins, in this mapping's order",
    )
    oidc_offices_claim: str = Field(
        default="offices", description="the claim listing the person's offices (remit)"
    )
    oidc_name_claim: str = Field(default="name", description="the display-name claim")
    oidc_locale_claim: str = Field(
        default="locale", description="the claim with the person's language (pick_locale)"
    )
    oidc_redirect_base: str | None = Field(
        default=None,
        description="this service's public base URL, for the redirect URI "
        "(<base>/web/oidc/callback); unset: the request's own",
    )
