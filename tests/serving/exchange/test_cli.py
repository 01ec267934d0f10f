"""`shiprisk exchange import | export | keygen`, recorded in the consultation log."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
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
from serving.store.tables import AuditRecordRow, ExchangeMessage, InspectionOutcome
from tests.serving.exchange.partners import (
    agency,
    alert,
    declaration,
    record_seizure,
)
from tests.serving.exchange.test_listing import scored, watchlist_reason

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


def test_stats_count_findings_and_partner_messages_without_personal_data(
    shiprisk: typer.Typer, tmp_path: Path
) -> None:
    runner = CliRunner()
    message = tmp_path / "alert.jws"
    message.write_text(sign(alert(A, OURS), A.signing_key, A.organisation))
    assert runner.invoke(shiprisk, ["exchange", "import", str(message)]).exit_code == 0
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    for number in range(3):  # three seizures with one concealment method, one rare, one clear
        record_seizure(store, declaration(f"D{number}"))
    record_seizure(store, declaration("D-RARE", importer_id="IMP-SECRET"))
    with store.transaction() as session:  # a concealment written once names someone, maybe
        rare = session.scalars(
            select(InspectionOutcome).where(InspectionOutcome.declaration_id == "D-RARE")
        ).one()
        rare.concealment = "in Marko Petrovic's spare tyre"
    record_seizure(store, declaration("D-CLEAR"), weapons=False)
    store.close()

    answer = runner.invoke(shiprisk, ["exchange", "stats", "--format", "json"])
    assert answer.exit_code == 0, answer.output
    stats = json.loads(answer.output)
    assert stats["findings"] == [
        {
            "month": "2026-11",
            "event": "seizure",
            "threat": "weapons",
            "hs_chapter": "93",
            "route": "TR>BG>RS",
            "concealment": "hidden compartment behind the rear seats",
            "office_id": "RS-HORGOS",
            "findings": 3,
        },
        {
            "month": "2026-11",
            "event": "seizure",
            "threat": "weapons",
            "hs_chapter": "93",
            "route": "TR>BG>RS",
            "concealment": "other",
            "office_id": "RS-HORGOS",
            "findings": 1,
        },
    ]
    [partner] = stats["partners"]
    assert (partner["partner"], partner["received"], partner["sent"]) == ("RS-CUSTOMS", 1, 0)
    assert (partner["entries_active"], partner["entries_expired"]) == (2, 0)
    for private in ("Marko", "IMP-SECRET", "D-RARE", "BG123AB", "D0"):
        assert private not in answer.output

    out = tmp_path / "stats.csv"
    written = runner.invoke(
        shiprisk, ["exchange", "stats", "--out", str(out), "--since", "2027-01-01"]
    )
    assert written.exit_code == 0, written.output
    assert out.read_text().splitlines()[1:] == [
        "partner,month,received,sent,entries_active,entries_expired,declarations_hit,hits_positive",
        f"RS-CUSTOMS,{partner['month']},1,0,2,0,0,0",
    ]  # no findings recorded since: only the partners' table


def test_stats_count_the_hits_of_each_partners_entries_without_personal_data(
    shiprisk: typer.Typer, tmp_path: Path
) -> None:
    """A declaration whose score carried a reason from A's entries is a hit of A's; one an
    inspection then found positive also counts as a positive hit. A reason naming A that no
    entry of A's messages made (a hand-written watchlist entry) is not A's message's hit."""
    runner = CliRunner()
    message = tmp_path / "alert.jws"
    message.write_text(sign(alert(A, OURS), A.signing_key, A.organisation))
    assert runner.invoke(shiprisk, ["exchange", "import", str(message)]).exit_code == 0
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    later = datetime.now(UTC) + timedelta(seconds=1)
    reason = watchlist_reason("RS-CUSTOMS", "H0")
    scored(store, "D-SEIZED", later, [reason])  # vehicle BG123AB, then seized
    scored(store, "D-CLEARED", later, [reason])
    scored(store, "D-CLEARED", later + timedelta(seconds=1), [reason])  # once per declaration
    scored(store, "D-HAND", later, [watchlist_reason("RS-CUSTOMS", "H0", "exporter")])
    with store.transaction() as session:
        for declaration_id, weapons in (("D-SEIZED", True), ("D-CLEARED", False)):
            session.add(
                InspectionOutcome(
                    declaration_id=declaration_id,
                    inspected_at=later,
                    inspection_type="physical",
                    result="irregular" if weapons else "clear",
                    weapons_found=weapons,
                    migrants_found=0.0,
                    revenue_irregularity=False,
                    recorded_at=later + timedelta(minutes=5),
                )
            )
    store.close()
    answer = runner.invoke(shiprisk, ["exchange", "stats", "--format", "json"])
    assert answer.exit_code == 0, answer.output
    [partner] = json.loads(answer.output)["partners"]
    assert (partner["partner"], partner["declarations_hit"], partner["hits_positive"]) == (
        "RS-CUSTOMS",
        2,
        1,
    )
    for private in ("D-SEIZED", "D-CLEARED", "BG123AB", "RS100200"):
        assert private not in answer.output
