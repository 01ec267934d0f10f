"""`shiprisk keys` and `shiprisk audit` as an administrator runs them on the server."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from serving.access.key_store import all_keys
from serving.access.keys import Role, matches, parse_key
from serving.access.settings import DEVELOPMENT_PEPPER
from serving.audit.chain import AuditEvent, AuditKey
from serving.audit.records import AuditLog, read_chain
from serving.settings import ServiceSettings
from serving.store.database import Store
from shiprisk.cli import app

runner = CliRunner()


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'shiprisk.db'}"
    monkeypatch.setenv("SHIPRISK_DATABASE_URL", url)
    monkeypatch.setenv("SHIPRISK_DATA_DIR", str(tmp_path / "data"))  # audit key, checkpoints
    return url


def service_log() -> AuditLog:
    """The log as the commands key it: with the development audit key of the data directory."""
    settings = ServiceSettings()
    return AuditLog(AuditKey(settings.audit_key_secret(settings.data_dir)))


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, " ".join(result.output.split())


def test_create_prints_the_key_once_and_stores_only_its_hash(database_url: str) -> None:
    code, output = invoke(
        "keys", "create", "--role", "officer", "--name", "Desk 3", "--offices", "RS01 RS02"
    )
    assert code == 0, output
    text = re.search(r"srk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", output)
    assert text is not None
    store = Store.open(database_url)
    with store.sessions() as session:
        (key,) = all_keys(session)
        chain = list(read_chain(session))
    store.close()
    assert (key.name, key.role, key.offices) == ("Desk 3", Role.OFFICER, ("RS01", "RS02"))
    assert matches(parse_key(text.group()), key, DEVELOPMENT_PEPPER.encode())
    assert text.group() not in key.secret_hash
    assert f"key {key.key_id} (officer, Desk 3, RS01, RS02); shown once" in output
    assert [(r.event.route, r.event.key_id) for r in chain] == [("keys create", "cli")]

    code, listing = invoke("keys", "list")
    assert code == 0
    assert key.key_id in listing and "Desk 3" in listing
    assert text.group().split("_")[-1] not in listing


def test_revoke_and_unknown_keys(database_url: str) -> None:
    invoke("keys", "create", "--role", "admin", "--name", "ops")
    store = Store.open(database_url)
    with store.sessions() as session:
        (key,) = all_keys(session)
    code, output = invoke("keys", "revoke", key.key_id)
    assert code == 0
    assert f"key {key.key_id} (ops) revoked at" in output
    with store.sessions() as session:
        assert all_keys(session)[0].revoked
    store.close()
    code, output = invoke("keys", "revoke", "ffffffffffff")
    assert code == 2
    assert "no key with id ffffffffffff: see `shiprisk keys list`" in output
    code, output = invoke("keys", "create", "--role", "chief", "--name", "x")
    assert (code, output) == (
        2,
        "error: unknown role 'chief': choose one of officer, risk_manager, admin",
    )


def test_production_refuses_the_commands_without_a_pepper(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPRISK_ENV", "production")
    code, output = invoke("keys", "list")
    assert code == 2
    assert output.startswith("error: SHIPRISK_ENV=production needs a key pepper")


def test_purge_is_recorded_respects_retention_and_verify_still_passes(database_url: str) -> None:
    store = Store.open(database_url)
    old = datetime.now(UTC) - timedelta(days=5 * 365)
    for day in range(3):
        service_log().append(
            store,
            AuditEvent(
                recorded_at=old + timedelta(days=day),
                key_id="0123456789ab",
                key_name="desk",
                role="officer",
                route="GET /v1/worklist",
                status=200,
            ),
        )
    too_recent = (datetime.now(UTC) - timedelta(days=30)).date().isoformat()
    code, output = invoke("audit", "purge", "--before", too_recent)
    assert code == 2
    assert "records are kept 1095 days (SHIPRISK_AUDIT_RETENTION_DAYS)" in output

    before = (old + timedelta(days=2)).date().isoformat()
    code, output = invoke("audit", "purge", "--before", before)
    assert code == 0, output
    assert output == f"purged 2 records older than {before}; the purge is record 4"
    code, output = invoke("audit", "verify")
    assert code == 0
    assert output.startswith("consultation log intact: 2 records, head 4 ")
    with store.sessions() as session:
        last = list(read_chain(session))[-1].event
    store.close()
    assert (last.route, last.key_id, last.detail["purged_count"]) == ("audit purge", "cli", 2)
