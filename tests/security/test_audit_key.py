"""The audit key: where it comes from, what production refuses, and that it is read once."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from serving.access.settings import InsecureSettings
from serving.app import create_app
from serving.audit.chain import AuditKey
from serving.settings import ServiceSettings


def test_development_generates_one_private_key_under_the_data_dir(tmp_path: Path) -> None:
    settings = ServiceSettings(data_dir=tmp_path / "data")
    first = settings.audit_key_secret(settings.data_dir)
    path = tmp_path / "data" / "audit.key"
    assert path.read_text().strip().encode() == first
    assert len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert settings.audit_key_secret(settings.data_dir) == first  # kept, never regenerated
    assert list(path.parent.iterdir()) == [path]  # no draft left behind
    assert (
        ServiceSettings(data_dir=tmp_path / "other").audit_key_secret(tmp_path / "other") != first
    )


def test_the_file_wins_over_the_variable_and_short_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "audit.key"
    path.write_text("f" * 40 + "\n")
    settings = ServiceSettings(audit_key="v" * 40, audit_key_file=path)
    assert settings.audit_key_secret(tmp_path) == b"f" * 40
    assert ServiceSettings(audit_key="v" * 40).audit_key_secret(tmp_path) == b"v" * 40
    with pytest.raises(InsecureSettings) as short:
        ServiceSettings(audit_key="v" * 31).audit_key_secret(tmp_path)
    assert str(short.value) == "SHIPRISK_AUDIT_KEY is shorter than 32 characters"
    with pytest.raises(InsecureSettings) as missing:
        ServiceSettings(audit_key_file=tmp_path / "none").audit_key_secret(tmp_path)
    assert str(missing.value).startswith("SHIPRISK_AUDIT_KEY_FILE: cannot read ")


def test_production_needs_its_own_audit_key(tmp_path: Path) -> None:
    production = {"env": "production", "key_pepper": "p" * 40, "data_dir": tmp_path}
    with pytest.raises(InsecureSettings, match="needs an audit key"):
        create_app(ServiceSettings(**production))
    assert not (tmp_path / "audit.key").exists()  # never generated in production
    with pytest.raises(InsecureSettings, match="is the key pepper"):
        ServiceSettings(**production, audit_key="p" * 40).audit_key_secret(tmp_path)


def test_the_service_reads_the_key_once_into_its_state(tmp_path: Path) -> None:
    settings = ServiceSettings(data_dir=tmp_path)
    app = create_app(settings)
    key = app.state.service.audit_log.key
    expected = AuditKey((tmp_path / "audit.key").read_text().strip().encode())
    assert key.fingerprint == expected.fingerprint
