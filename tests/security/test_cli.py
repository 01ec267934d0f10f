"""`shiprisk keys` and `shiprisk audit` as an administrator runs them on the server."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text as sa_text
from typer.testing import CliRunner

from serving.access.key_store import all_keys
from serving.access.keys import Role, matches, parse_key
from serving.access.settings import DEVELOPMENT_PEPPER
from serving.audit.chain import AuditEvent, AuditKey
from serving.audit.reading import read_chain
from serving.audit.records import AuditLog
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
    text = re.search(r"srk_[0-9a-f]{12}_(?P<secret>[A-Za-z0-9_-]{43})", output)
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
    # The whole secret (base64url: it may itself hold "_"), never a fragment of it.
    assert text.group("secret") not in listing


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


def test_checkpoint_prints_and_keeps_a_signed_line_and_verify_catches_a_cut_off_end(
    database_url: str, tmp_path: Path
) -> None:
    code, output = invoke("audit", "checkpoint")
    assert (code, output) == (2, "error: the consultation log is empty: nothing to checkpoint")
    invoke("keys", "create", "--role", "admin", "--name", "ops")  # record 1
    invoke("keys", "create", "--role", "officer", "--name", "desk")  # record 2
    code, output = invoke("audit", "checkpoint")
    assert code == 0, output
    kept = tmp_path / "data" / "audit-checkpoints.jsonl"
    # A fresh store's first record declared that it holds no unkeyed records; then the line.
    fresh, line = kept.read_text().splitlines()
    assert (json.loads(fresh)["legacy_through"], json.loads(fresh)["head_sequence"]) == (0, 0)
    assert output.startswith("checkpoint of record 2 (2 records) is record 3, appended to ")
    assert output.endswith(line)
    assert (json.loads(line)["head_sequence"], json.loads(line)["legacy_through"]) == (2, None)
    assert json.loads(line)["store_id"] == json.loads(fresh)["store_id"]

    code, output = invoke("audit", "verify")
    assert code == 0, output
    assert output.endswith("2 checkpoints hold; the newest vouches for record 2")

    copy = tmp_path / "worm" / "copy.jsonl"
    copy.parent.mkdir()
    copy.write_text(line + "\n")
    kept.unlink()  # the copy on write-once storage is what is left
    store = Store.open(database_url)
    with store.engine.begin() as connection:
        connection.execute(sa_text("DELETE FROM audit_records WHERE sequence >= 2"))
    store.close()
    code, output = invoke("audit", "verify")
    assert code == 0  # inside the database alone, a cut-off end does not show
    assert "no checkpoint: records cut off the end cannot be seen" in output
    code, output = invoke("audit", "verify", "--checkpoints", str(copy))
    assert code == 1
    assert output.startswith(
        "error: consultation log broken at record 2: record 2 was cut off the end: checkpoint "
        "copy.jsonl line 1 of "
    )
    code, output = invoke("audit", "checkpoint", "--file", str(copy))
    assert code == 1
    assert output.startswith("error: not checkpointed: consultation log broken at record 2")


def test_verify_names_an_unreadable_checkpoint_file(database_url: str, tmp_path: Path) -> None:
    invoke("keys", "create", "--role", "admin", "--name", "ops")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"head_sequence": "1"}\n')
    code, output = invoke("audit", "verify", "--checkpoints", str(bad))
    assert (code, output) == (
        1,
        f"error: cannot read the checkpoints: {bad} line 1: not a checkpoint (KeyError)",
    )


def test_production_refuses_the_commands_without_an_audit_key(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPRISK_ENV", "production")
    monkeypatch.setenv("SHIPRISK_KEY_PEPPER", "p" * 40)
    code, output = invoke("audit", "verify")
    assert code == 2
    assert output.startswith("error: SHIPRISK_ENV=production needs an audit key")
    monkeypatch.setenv("SHIPRISK_AUDIT_KEY", "p" * 40)
    code, output = invoke("audit", "verify")
    assert (code, output) == (
        2,
        "error: SHIPRISK_AUDIT_KEY is the key pepper: the audit key must be its own",
    )
    monkeypatch.setenv("SHIPRISK_AUDIT_KEY", "a" * 40)
    code, output = invoke("audit", "verify")
    assert code == 0, output


def test_two_stores_sharing_a_data_directory_keep_apart_their_checkpoints(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoke("keys", "create", "--role", "admin", "--name", "ops")  # store A: record 1
    assert invoke("audit", "checkpoint")[0] == 0
    shared = tmp_path / "data" / "audit-checkpoints.jsonl"
    first_id = json.loads(shared.read_text().splitlines()[-1])["store_id"]

    second = f"sqlite:///{tmp_path / 'second.db'}"
    monkeypatch.setenv("SHIPRISK_DATABASE_URL", second)  # store B, same data directory
    invoke("keys", "create", "--role", "admin", "--name", "ops")  # declares nothing there
    assert len(shared.read_text().splitlines()) == 2
    store = Store.open(second)
    with store.sessions() as session:
        second_id = session.execute(sa_text("SELECT store_id FROM store_identity")).scalar()
    store.close()

    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert " ".join(result.stderr.split()) == (
        f"warning: no checkpoint of this store ({second_id}) found, 2 lines belong to store(s) "
        f"{first_id} (2 lines): another store shares the checkpoint file, or this store's id "
        "was changed (then nothing outside the database vouches for this log)"
    )
    code, output = invoke("audit", "checkpoint")
    assert code == 2
    assert output.startswith(
        f"error: not checkpointed: {shared} holds checkpoints of another store: {first_id} "
        f"(2 lines); this store is {second_id}. Two stores must not share a checkpoint file"
    )
    code, output = invoke("audit", "verify", "--checkpoints", str(shared))
    assert (code, output) == (
        1,
        f"error: {shared} holds no checkpoint of this store ({second_id}); its 2 lines belong "
        f"to store(s) {first_id} (2 lines): the wrong file, or this store's id was changed",
    )

    own = tmp_path / "second-checkpoints.jsonl"
    code, output = invoke("audit", "checkpoint", "--file", str(own))
    assert code == 0, output
    result = runner.invoke(app, ["audit", "verify", "--checkpoints", str(own)])
    assert result.exit_code == 0, result.output
    assert "2 checkpoints hold; the newest vouches for record 1" in result.output  # line, record
    assert f"note: 2 checkpoint lines of other store(s) were set aside: {first_id}" in (
        result.stderr
    )
