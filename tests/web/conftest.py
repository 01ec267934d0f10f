"""One real shiprisk server for the browser tests, a real OpenID Connect provider, and
headless Chromium to drive them.

The server is the `shiprisk serve` command in its own process, pointed by environment
variables at a temporary MLflow store holding the small model of the service tests, at a
temporary SQLite store holding one key per role and the test window's declarations, scored
through the API, and at an OpenID Connect provider on 127.0.0.1 (`oidc-provider-mock`, a
Flask app on Authlib's server, in its own process) whose people sign in to the pages.
Chromium is Debian's (installed by scripts/chromium.sh), driven by Playwright; Playwright's
own browser downloads are never used.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from bench.processes import stop
from serving.access.keys import Role
from serving.store.database import Store
from tests.serving.access_keys import make_key
from tests.serving.conftest import TrainedModel, json_payload

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "web"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PEPPER = "web-tests-pepper-0123456789abcdef0123456789"
LAPTOP = {"width": 1366, "height": 768}
PROVIDER_VENV = ROOT / ".venv-oidc-provider"  # only when the test's Python lacks the provider
# The people of the identity provider: subject -> claims (`groups` and `offices` as the
# service's default claim settings read them).
PEOPLE: dict[str, dict[str, Any]] = {
    "ana": {"name": "Ana Officer", "groups": ["staff", "officer"], "locale": "en"},
    "rui": {"name": "Rui Manager", "groups": ["risk_manager"]},
    "eve": {"name": "Eve Visitor", "groups": ["visitors"]},
}


@dataclass(frozen=True)
class WebServer:
    """The running server, its keys, the identity provider, and the office and day with the
    most scored declarations."""

    base_url: str
    database_url: str
    keys: dict[Role, str]
    key_ids: dict[Role, str]
    office_id: str
    day: str
    threats: tuple[str, ...]
    issuer: str


def provider_python() -> str:
    """A Python that has `oidc_provider_mock`: this one (the `dev` extra installs it), else a
    virtualenv of its own made here the first time, with the project's pinned versions."""
    if importlib.util.find_spec("oidc_provider_mock") is not None:
        return sys.executable
    python = PROVIDER_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PROVIDER_VENV)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "-c",
                str(ROOT / "constraints.txt"),
                "oidc-provider-mock",
            ],
            check=True,
        )
    return str(python)


@pytest.fixture(scope="module")
def identity_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An OpenID Connect provider on 127.0.0.1 (nonce required); yields its issuer."""
    port = free_port()
    log = tmp_path_factory.mktemp("identity-provider") / "provider.log"
    people = [json.dumps({"sub": sub, **claims}) for sub, claims in PEOPLE.items()]
    with log.open("wb") as output:
        provider = subprocess.Popen(
            [provider_python(), "-m", "oidc_provider_mock", "--port", str(port)]
            + ["--host", "127.0.0.1", "--require-nonce=true"]
            + [part for person in people for part in ("--user-claims", person)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    issuer = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if httpx.get(f"{issuer}/.well-known/openid-configuration").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if provider.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the identity provider did not start:\n{log.read_text()}")
            time.sleep(0.2)
        yield issuer
    finally:
        provider.terminate()
        provider.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_ready(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if server.poll() is not None:
            raise AssertionError(f"the server exited before it was ready:\n{log.read_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the server was not ready within 120 s:\n{log.read_text()}")
        time.sleep(0.3)


@pytest.fixture(scope="module")
def web_server(
    trained: TrainedModel,
    identity_provider: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[WebServer]:
    """Start `shiprisk serve` on a free port with keys made, declarations scored, and people
    signing in with the identity provider."""
    root = tmp_path_factory.mktemp("web-server")
    database_url = f"sqlite:///{root / 'shiprisk.db'}"
    store = Store.open(database_url)  # migrated here, so keys can be stored before start
    keys, key_ids = {}, {}
    for role, name in ((Role.OFFICER, "Ana Officer"), (Role.RISK_MANAGER, "Rui Manager")):
        keys[role], record = make_key(store, role, pepper=PEPPER.encode(), name=name)
        key_ids[role] = record.key_id
    store.close()

    port = free_port()
    environment = {
        **os.environ,
        "MLFLOW_TRACKING_URI": trained.tracking_uri,
        "SHIPRISK_TRACKING_URI": trained.tracking_uri,
        "SHIPRISK_MODEL_URI": trained.model_uri,
        "SHIPRISK_DATABASE_URL": database_url,
        "SHIPRISK_DATA_DIR": str(root / "data"),
        "SHIPRISK_KEY_PEPPER": PEPPER,
        "SHIPRISK_OIDC_ISSUER": identity_provider,
        "SHIPRISK_OIDC_CLIENT_ID": "shiprisk-web-tests",
        "SHIPRISK_OIDC_CLIENT_SECRET": "web-tests-client-secret",
    }
    log = root / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "shiprisk.cli", "serve", "--port", str(port), "--threads", "1"],
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, server, log)
        declarations = pd.read_parquet(trained.declarations_path)
        scored = httpx.post(
            f"{base}/v1/scores",
            json={"declarations": json_payload(declarations)},
            headers={"Authorization": f"Bearer {keys[Role.OFFICER]}"},
            timeout=60,
        )
        assert scored.status_code == 200, scored.text
        days = declarations.assign(day=declarations["lodged_at"].astype(str).str[:10])
        busiest = days.groupby(["office_id", "day"]).size().sort_values(kind="stable").index[-1]
        office_id, day = str(busiest[0]), str(busiest[1])
        # Ana's remit: the busiest office (set at the provider, as an administrator would)
        claims = {**PEOPLE["ana"], "offices": [office_id]}
        httpx.put(f"{identity_provider}/users/ana", json=claims).raise_for_status()
        yield WebServer(
            base_url=base,
            database_url=database_url,
            keys=keys,
            key_ids=key_ids,
            office_id=office_id,
            day=day,
            threats=tuple(scored.json()["results"][0]["risk"]),
            issuer=identity_provider,
        )
    finally:
        stop(server, timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium, one for the module."""
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: run scripts/chromium.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Any]:
    """A factory of pages, each in its own browser context (its own cookies), laptop-sized."""
    contexts = []

    def make() -> Any:
        context = browser.new_context(viewport=LAPTOP)
        context.set_default_timeout(20_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go (git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
