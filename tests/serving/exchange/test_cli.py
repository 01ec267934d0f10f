"""`shiprisk exchange import | export | keygen`, recorded in the consultation log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
import yaml
from sqlalchemy import func, select
from typer.testing import CliRunner

from serving.cli import register
from serving.exchange.partners import Partner, private_key, public_key
from serving.exchange.signing import sign, verify
from serving.store.database import Store
from serving.store.tables import AuditRecordRow, ExchangeMessage
from tests.serving.exchange.partners import (
    agency,
    alert,
    declaration,
    record_seizure,
)

A = agency("RS-CUSTOMS", "RS")
OURS = "BA-ITA"


@pytest.fixture
def shiprisk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    partners = tmp_path / "partners.yaml"
    partners.write_text(
        yaml.safe_dump({"partners": {"RS-CUSTOMS": {"country": "RS", "key": A.public_jwk()}}})
    )
    for name, value in {
        "SHIPRISK_DATA_DIR": str(tmp_path),
        "SHIPRISK_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "SHIPRISK_EXCHANGE_ORGANISATION": OURS,
        "SHIPRISK_EXCHANGE_COUNTRY": "BA",
        "SHIPRISK_EXCHANGE_PARTNERS_FILE": str(partners),
    }.items():
        monkeypatch.setenv(name, value)
    app = typer.Typer()
    register(app)
    return app


def routes_logged(tmp_path: Path) -> list[tuple[str, list[str]]]:
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    with store.transaction() as session:
        rows = session.scalars(select(AuditRecordRow).order_by(AuditRecordRow.sequence)).all()
        found = [(row.route, list(row.declaration_ids)) for row in rows]
        counted = session.scalar(select(func.count()).select_from(ExchangeMessage))
    store.close()
    return [*found, ("messages", [str(counted)])]


def test_import_then_replay_then_export(shiprisk: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    message = tmp_path / "alert.jws"
    message.write_text(sign(alert(A, OURS), A.signing_key, A.organisation))
    first = runner.invoke(shiprisk, ["exchange", "import", str(message)])
    assert first.exit_code == 0, first.output
    assert "2 watchlist entries" in first.output
    again = runner.invoke(shiprisk, ["exchange", "import", str(message)])
    assert again.exit_code != 0
    assert "refused (replayed)" in again.output and "nothing stored" in again.output

    unsigned = tmp_path / "unsigned.json"
    unsigned.write_text(json.dumps(alert(A, OURS, message_id="A-2")))
    refused = runner.invoke(shiprisk, ["exchange", "import", str(unsigned)])
    assert "refused (unsigned)" in refused.output

    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    record_seizure(store, declaration("D7"))
    store.close()
    out = tmp_path / "outbox"
    exported = runner.invoke(
        shiprisk, ["exchange", "export", "--to", "RS-CUSTOMS", "--out", str(out)]
    )
    assert exported.exit_code == 0, exported.output
    tokens = [path.read_text().strip() for path in sorted(out.glob("*.jws"))]
    assert len(tokens) == 1
    assert routes_logged(tmp_path) == [
        ("exchange import", []),
        ("exchange export", ["D7"]),
        ("messages", ["2"]),
    ]
    unknown = runner.invoke(shiprisk, ["exchange", "export", "--to", "NOBODY", "--out", str(out)])
    assert unknown.exit_code != 0 and "not a configured partner" in unknown.output


def test_keygen_makes_a_key_that_signs_what_its_public_half_verifies(
    shiprisk: typer.Typer, tmp_path: Path
) -> None:
    runner = CliRunner()
    key_file = tmp_path / "ours.jwk"
    made = runner.invoke(shiprisk, ["exchange", "keygen", "--out", str(key_file)])
    assert made.exit_code == 0, made.output
    public = json.loads(made.output)
    assert "d" not in public
    key = private_key(key_file.read_text())
    token = sign({"x": 1}, key, OURS)
    partner = Partner(OURS, "BA", public_key(public, where="test"))
    assert json.loads(verify(token, {OURS: partner}).payload) == {"x": 1}
    assert runner.invoke(shiprisk, ["exchange", "keygen", "--out", str(key_file)]).exit_code != 0
