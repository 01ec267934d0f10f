"""Hardening: security headers, CORS, docs and metrics exposure, production secrets, errors."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from serving.access.keys import Role
from serving.access.settings import DEVELOPMENT_PEPPER, InsecureSettings
from serving.app import create_app
from serving.model.holder import ModelLoadError
from serving.settings import ServiceSettings
from tests.serving.access_keys import KeyedClient


def no_model(uri: str) -> Any:
    raise ModelLoadError(f"no model at {uri}")


def app_with(tmp_path: Path, **settings: Any) -> FastAPI:
    """The app without a model (none is needed here), its store in ``tmp_path``."""
    return create_app(
        ServiceSettings(database_url=f"sqlite:///{tmp_path / 'shiprisk.db'}", **settings),
        loader=no_model,
    )


EXPECTED_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
}


def test_every_response_carries_the_security_headers(tmp_path: Path) -> None:
    with KeyedClient(app_with(tmp_path)) as client:
        responses = [
            client.get("/livez"),  # 200
            client.get("/readyz"),  # 503, no model
            client.get("/v1/model", headers={"Authorization": ""}),  # 401
            client.get("/v1/model", headers={"X-API-Key": client.keys[Role.OFFICER]}),  # 403
            client.get("/v1/nowhere"),  # 401: the API's paths are not revealed without a key
            client.get("/v1/nowhere", headers={"X-API-Key": client.keys[Role.ADMIN]}),  # 404
            client.get("/nowhere"),  # 404: outside the API, nothing needs a key
            client.post("/v1/scores", content=b"x" * 2_000_000),  # 413
            client.get("/", follow_redirects=False),  # 303 to the pages
        ]
        assert [r.status_code for r in responses] == [200, 503, 401, 403, 401, 404, 404, 413, 303]
        for response in responses:
            assert {k: response.headers.get(k) for k in EXPECTED_HEADERS} == EXPECTED_HEADERS


def test_cors_is_off_unless_origins_are_configured(tmp_path: Path) -> None:
    origin = {"Origin": "https://desk.customs.example"}
    with KeyedClient(app_with(tmp_path)) as client:
        assert "access-control-allow-origin" not in client.get("/livez", headers=origin).headers
    with KeyedClient(app_with(tmp_path, cors_origins=[origin["Origin"]])) as client:
        allowed = client.get("/livez", headers=origin)
        assert allowed.headers["access-control-allow-origin"] == origin["Origin"]
        other = client.get("/livez", headers={"Origin": "https://elsewhere.example"})
        assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize(
    ("setting", "anonymous", "officer", "risk_manager"),
    [("open", 200, 200, 200), ("restricted", 401, 403, 200), ("off", 404, 404, 404)],
)
def test_metrics_exposure(
    tmp_path: Path, setting: str, anonymous: int, officer: int, risk_manager: int
) -> None:
    with KeyedClient(app_with(tmp_path, metrics=setting)) as client:
        statuses = [
            client.get("/metrics").status_code,
            client.get("/metrics", headers={"X-API-Key": client.keys[Role.OFFICER]}).status_code,
            client.get(
                "/metrics", headers={"X-API-Key": client.keys[Role.RISK_MANAGER]}
            ).status_code,
        ]
    assert statuses == [anonymous, officer, risk_manager]


@pytest.mark.parametrize(
    ("setting", "anonymous", "keyed"),
    [("open", 200, 200), ("restricted", 401, 200), ("off", 404, 404)],
)
def test_docs_exposure(tmp_path: Path, setting: str, anonymous: int, keyed: int) -> None:
    with KeyedClient(app_with(tmp_path, docs=setting)) as client:
        for path in ("/openapi.json", "/docs"):
            assert client.get(path).status_code == anonymous
            key = {"X-API-Key": client.keys[Role.OFFICER]}
            assert client.get(path, headers=key).status_code == keyed


def test_production_closes_docs_and_restricts_metrics_by_default() -> None:
    settings = ServiceSettings(env="production", key_pepper="x" * 40)
    assert (settings.docs_exposure().value, settings.metrics_exposure().value) == (
        "off",
        "restricted",
    )
    development = ServiceSettings()
    assert (development.docs_exposure().value, development.metrics_exposure().value) == (
        "open",
        "open",
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {},
            "SHIPRISK_ENV=production needs a key pepper: set SHIPRISK_KEY_PEPPER_FILE to a file "
            "holding a random secret of at least 32 characters (or SHIPRISK_KEY_PEPPER)",
        ),
        (
            {"key_pepper": DEVELOPMENT_PEPPER},
            "SHIPRISK_KEY_PEPPER is the development default: production needs its own secret",
        ),
        ({"key_pepper": "short"}, "SHIPRISK_KEY_PEPPER is shorter than 32 characters"),
    ],
)
def test_production_refuses_default_or_missing_secrets(
    values: dict[str, str], message: str
) -> None:
    settings = ServiceSettings(env="production", **values)
    with pytest.raises(InsecureSettings) as refused:
        create_app(settings, loader=no_model)
    assert str(refused.value) == message


def test_the_pepper_file_wins_and_is_read_in_production(tmp_path: Path) -> None:
    secret = tmp_path / "pepper"
    secret.write_text("f" * 48 + "\n")
    settings = ServiceSettings(env="production", key_pepper="e" * 40, key_pepper_file=secret)
    assert settings.pepper() == b"f" * 48
    missing = ServiceSettings(env="production", key_pepper_file=tmp_path / "absent")
    with pytest.raises(InsecureSettings) as refused:
        missing.pepper()
    assert str(refused.value) == (
        f"SHIPRISK_KEY_PEPPER_FILE: cannot read {tmp_path / 'absent'} (FileNotFoundError)"
    )


def test_an_unhandled_error_answers_a_bare_500_and_logs_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_text = "SELECT * FROM declarations WHERE importer_id = 'ACME-SECRET'"

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError(secret_text)

    # Why an override: no route fails on its own; this stands for any unforeseen failure.
    monkeypatch.setattr("serving.inspections.service.worklist", broken)
    caplog.set_level(logging.DEBUG)
    with KeyedClient(app_with(tmp_path)) as client:
        response = client.get(
            "/v1/worklist", params={"office_id": "RS01", "date": "2024-01-01", "capacity": 1}
        )
        records = client.get("/v1/audit").json()["records"]
    assert response.status_code == 500
    assert set(response.json()) == {"detail"}
    assert response.json()["detail"].startswith("internal error, incident ")
    incident = response.json()["detail"].removeprefix("internal error, incident ")
    assert "ACME" not in caplog.text and "Traceback" not in caplog.text
    assert f"internal error {incident} in GET /v1/worklist: RuntimeError" in caplog.text
    assert [(r["route"], r["status"]) for r in records] == [("GET /v1/worklist", 500)]


# -- first visit (issue 16, item 6) ------------------------------------------------------------


def test_the_service_address_leads_a_browser_to_the_sign_in(tmp_path: Path) -> None:
    with KeyedClient(app_with(tmp_path)) as client:
        entrance = client.get("/", follow_redirects=False)
        assert (entrance.status_code, entrance.headers["location"]) == (303, "/web/")
        landed = client.get("/")  # followed: /web/ sends a visitor without a session on
        assert landed.status_code == 200
        assert landed.headers["content-type"].startswith("text/html")
        assert str(landed.url).endswith("/web/sign-in")
        assert client.head("/", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("path", ["/favicon.ico", "/nowhere", "/v2/scores", "/.env", "/v1x"])
def test_unknown_paths_outside_the_api_answer_404_to_anyone(tmp_path: Path, path: str) -> None:
    with KeyedClient(app_with(tmp_path)) as client:
        anonymous = client.get(path)
        keyed = client.get(path, headers={"X-API-Key": client.keys[Role.ADMIN]})
        posted = client.post(path, content=b"{}")
        records = client.get("/v1/audit").json()["records"]
    assert [anonymous.status_code, keyed.status_code, posted.status_code] == [404, 404, 404]
    assert anonymous.json() == {"detail": "Not Found"}
    assert "www-authenticate" not in anonymous.headers
    assert records == []  # not a route: nothing to record


def test_unknown_api_paths_ask_for_a_key_first_and_reveal_nothing(tmp_path: Path) -> None:
    """Under /v1 the key comes first: an anonymous caller gets the same 401 for a route that
    exists and for one that does not, so it cannot map the API; a keyed one gets 404."""
    with KeyedClient(app_with(tmp_path)) as client:
        anonymous = {"Authorization": ""}
        unknown = client.get("/v1/nowhere", headers=anonymous)
        known = client.get("/v1/model", headers=anonymous)
        bare_prefix = client.get("/v1", headers=anonymous)
        keyed = client.get("/v1/nowhere", headers={"X-API-Key": client.keys[Role.ADMIN]})
        records = client.get("/v1/audit").json()["records"]
    assert (unknown.status_code, unknown.json(), unknown.headers["www-authenticate"]) == (
        known.status_code,
        known.json(),
        known.headers["www-authenticate"],
    )
    assert (unknown.status_code, bare_prefix.status_code, keyed.status_code) == (401, 401, 404)
    assert records == []


def test_a_keyed_route_outside_the_api_prefix_stops_the_app(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fastapi import APIRouter

    from serving import routes
    from serving.access.policy import ROUTE_POLICIES, RoutePolicy

    stray = APIRouter()
    stray.add_api_route("/elsewhere", lambda: {}, methods=["GET"])
    monkeypatch.setattr(routes, "KEYED_ROUTERS", (stray,))
    monkeypatch.setitem(ROUTE_POLICIES, ("GET", "/elsewhere"), RoutePolicy(frozenset(Role)))
    with pytest.raises(RuntimeError, match=r"keyed routes outside /v1: \['/elsewhere'\]"):
        routes.include_routes(FastAPI())
