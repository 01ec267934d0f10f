"""People, not only keys (issue 17): keys with owners and expiries, their last use, a person
who leaves, the pages' server-side sessions, and the person in the hashed consultation log."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from serving.access import key_store, sessions
from serving.access.keys import Role, new_key
from serving.app import create_app
from serving.audit.chain import (
    GENESIS,
    AuditEvent,
    AuditKey,
    AuditRecord,
    canonical_json,
    record_hash,
    verify_chain,
)
from serving.audit.reading import query_records, read_chain
from serving.settings import ServiceSettings
from serving.store.database import Store
from serving.web.session import COOKIE_NAME
from shiprisk.cli import app as cli

runner = CliRunner()
NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
KEY = AuditKey(b"k" * 32)
EVENT = AuditEvent(recorded_at=NOW, key_id="abc", key_name="Desk 3", role="officer", route="r")


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'shiprisk.db'}"
    monkeypatch.setenv("SHIPRISK_DATABASE_URL", url)
    monkeypatch.setenv("SHIPRISK_DATA_DIR", str(tmp_path / "data"))
    return url


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(cli, list(args))
    return result.exit_code, " ".join(result.output.split())


# -- the log ---------------------------------------------------------------------------------


def test_a_record_without_a_person_hashes_as_records_did_before() -> None:
    """Records written before migration 0005 lack the person fields: their text, and so their
    hash, must not change."""
    text = canonical_json(1, EVENT)
    assert "person" not in text and "issuer" not in text and "subject" not in text
    named = replace(EVENT, person="Ana Officer", issuer="https://idp", subject="ana")
    assert '"person":"Ana Officer"' in canonical_json(1, named)


@pytest.mark.parametrize("field", ["person", "issuer", "subject"])
def test_the_person_is_covered_by_the_hash(field: str) -> None:
    named = replace(EVENT, person="Ana Officer", issuer="https://idp", subject="ana")
    record = AuditRecord(1, named, GENESIS, record_hash(KEY, 1, named, GENESIS))
    assert verify_chain([record], KEY).intact
    edited = replace(record, event=replace(named, **{field: "someone else"}))
    assert not verify_chain([edited], KEY).intact
    removed = replace(record, event=replace(named, **{field: None}))
    assert not verify_chain([removed], KEY).intact


# -- keys ------------------------------------------------------------------------------------


def test_an_expired_key_is_refused_and_an_expiry_must_follow_creation() -> None:
    _, key = new_key(
        "script", Role.OFFICER, pepper=b"p", created_at=NOW, expires_at=NOW + timedelta(days=1)
    )
    assert key.usable(NOW + timedelta(hours=23)) and not key.usable(NOW + timedelta(days=1))
    with pytest.raises(ValueError, match="expire after"):
        new_key("script", Role.OFFICER, pepper=b"p", created_at=NOW, expires_at=NOW)


def test_last_use_is_written_at_most_once_a_minute() -> None:
    _, key = new_key("script", Role.OFFICER, pepper=b"p", created_at=NOW)
    assert key_store.use_is_due(key, NOW)
    used = replace(key, last_used_at=NOW)
    assert not key_store.use_is_due(used, NOW + timedelta(seconds=59))
    assert key_store.use_is_due(used, NOW + timedelta(minutes=1))


def test_keys_expire_show_their_last_use_and_a_leaver_loses_keys_and_sessions(
    database_url: str,
) -> None:
    code, output = invoke(
        "keys", "create", "--role", "officer", "--name", "nightly export", "--owner", "Ana",
        "--expires", "2099-01-01",
    )  # fmt: skip
    assert code == 0, output
    assert "until 2099-01-01 00:00 UTC" in output
    invoke("keys", "create", "--role", "officer", "--name", "desk", "--owner", "Ana")
    invoke("keys", "create", "--role", "officer", "--name", "other", "--owner", "Bo")
    store = Store.open(database_url)
    with store.transaction() as db:
        keys = {k.name: k for k in key_store.all_keys(db)}
        session, secret = sessions.new_session(name="Ana", role="officer", now=datetime.now(UTC))
        sessions.add_session(db, session, secret)
    key_store.note_use(store, keys["desk"].key_id, NOW)
    code, listing = invoke("keys", "list")
    assert f"{keys['desk'].key_id} officer desk owner: Ana" in listing
    assert "last used: 2026-12-03 08:00" in listing and "expires: 2099-01-01 00:00" in listing

    code, output = invoke("keys", "revoke", "--owner", "Ana")
    assert code == 0, output
    assert "revoked 2 keys and ended 1 sessions of Ana" in output
    with store.sessions() as db:
        after = {k.name: k for k in key_store.all_keys(db)}
        chain = list(read_chain(db))
    assert after["desk"].revoked and after["nightly export"].revoked
    assert not after["other"].revoked
    assert sessions.live_session(store, session.session_id, secret, datetime.now(UTC)) is None
    assert [(r.event.route, r.event.person) for r in chain][-1] == ("keys revoke", "Ana")
    assert chain[0].event.person == "Ana"  # the key's creation names its owner
    store.close()


def test_sessions_revoke_by_subject(database_url: str) -> None:
    store = Store.open(database_url)
    with store.transaction() as db:
        session, secret = sessions.new_session(
            name="Ana", role="officer", now=datetime.now(UTC), issuer="https://idp", subject="a1"
        )
        sessions.add_session(db, session, secret)
    assert sessions.live_session(store, session.session_id, secret, datetime.now(UTC))
    code, output = invoke("sessions", "revoke", "--subject", "a1")
    assert code == 0 and "ended 1 sessions" in output, output
    assert sessions.live_session(store, session.session_id, secret, datetime.now(UTC)) is None
    assert sessions.live_session(store, session.session_id, "wrong", datetime.now(UTC)) is None
    store.close()


# -- development sign-in with a key: a server-side session, recorded ---------------------------


def test_a_key_sign_in_keeps_no_key_in_the_cookie_and_is_recorded(tmp_path: Path) -> None:
    settings = ServiceSettings(
        model_uri="models:/absent@champion", database_url=f"sqlite:///{tmp_path / 'db.sqlite'}"
    )
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        state: Any = client.app.state.service  # type: ignore[attr-defined]
        text, key = new_key(
            "desk 3", Role.RISK_MANAGER, pepper=state.settings.pepper(), created_at=NOW,
            owner="Rui Manager",
        )  # fmt: skip
        with state.store.transaction() as db:
            key_store.add_key(db, key)
        wrong = client.post("/web/sign-in", data={"api_key": "srk_" + "0" * 12 + "_" + "x" * 43})
        assert wrong.status_code == 401
        answer = client.post("/web/sign-in", data={"api_key": text}, follow_redirects=False)
        assert answer.status_code == 200 and 'http-equiv="refresh"' in answer.text
        cookie = client.cookies[COOKIE_NAME]
        assert text not in cookie and key.key_id not in cookie
        audit = client.get("/web/audit", params={"person": "Rui Manager"})
        assert audit.status_code == 200 and "Rui Manager" in audit.text
        with state.store.sessions() as db:
            logged = [(r.event.route, r.event.status, r.event.person) for r in query_records(db)]
        assert logged[:3] == [
            ("GET /v1/audit", 200, "Rui Manager"),
            ("POST /web/sign-in", 200, "Rui Manager"),
            ("POST /web/sign-in", 401, None),
        ]
        with state.store.sessions() as db:
            revoked = key_store.revoke_key(db, key.key_id, datetime.now(UTC))
            db.commit()
        assert revoked.revoked  # the session made with a revoked key ends with it
        assert client.get("/web/audit", follow_redirects=False).headers["location"] == (
            "/web/sign-in"
        )
