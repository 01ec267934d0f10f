"""The outbox: reports from positive outcomes, handling codes kept, identifiers pseudonymised."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from serving.exchange.message import message_problems
from serving.exchange.outbox import build_reports, pseudonym, record_sent
from serving.exchange.service import import_message
from serving.exchange.signing import sign, verify
from serving.store.tables import ExchangeMessage
from tests.serving.exchange.partners import (
    NOW,
    agency,
    alert,
    declaration,
    knowing,
    open_store,
    record_seizure,
)

A = agency("RS-CUSTOMS", "RS")
B = agency("BA-ITA", "BA")
C = agency("ME-UPRAVA", "ME")


def entities_of(report_message: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in report_message["entities"] if e["type"] == kind]


def test_a_seizure_report_round_trips_from_one_agency_to_another(tmp_path: Path) -> None:
    """A exports a seizure report, B verifies and imports it: B's watchlist holds the vehicle
    as A's entry, with A's handling code, valid until the report's retain_until."""
    a = knowing(A, B, personal_data=True)  # A's agreement with B allows plates in clear
    b = knowing(B, A)
    store_a, store_b = open_store(tmp_path / "a.db"), open_store(tmp_path / "b.db")
    record_seizure(store_a, declaration("D1"))
    record_seizure(store_a, declaration("D2", vehicle_id="OTHER1"), weapons=False)  # clear
    with store_a.transaction() as session:
        reports = build_reports(session, a, "BA-ITA", now=NOW)
    assert len(reports) == 1  # only the positive outcome
    report = reports[0].message
    assert message_problems(report) == []
    assert report["kind"] == "seizure_report"
    event = report["event"]
    assert (event["type"], event["threat"], event["hs_code"], event["office_id"]) == (
        "seizure",
        "weapons",
        "930510",
        "RS-HORGOS",
    )
    assert event["concealment_method"] == "hidden compartment behind the rear seats"
    assert event["quantity"] == {"value": 3.0, "unit": "packages"}
    vehicle = entities_of(report, "vehicle")[0]
    assert event["conveyance"] == vehicle["local_id"]
    assert vehicle["identifier"] == "BG123AB"
    assert json.loads(verify(reports[0].token, b.partners).payload) == report

    receipt = import_message(store_b, reports[0].token, b, recorded_by="test", now=NOW)
    assert (receipt.sender, receipt.kind, receipt.handling_code) == (
        "RS-CUSTOMS",
        "seizure_report",
        "H1",
    )
    assert receipt.watchlist_entries >= 1
    store_a.close()
    store_b.close()


def test_h2_entries_never_leave_for_another_partner_unless_permitted(tmp_path: Path) -> None:
    """B received A's vehicle under H2; B's reports to C leave it out, to A (its provider)
    and to a partner A permitted they keep it."""
    b = knowing(B, A, C, personal_data=True)
    store = open_store(tmp_path / "b.db")
    h2 = alert(A, "BA-ITA", handling={"code": "H2"})
    import_message(store, sign(h2, A.signing_key, A.organisation), b, recorded_by="t", now=NOW)
    record_seizure(store, declaration("D1"))  # B's own seizure of that very vehicle
    with store.transaction() as session:
        to_c = build_reports(session, b, "ME-UPRAVA", now=NOW)[0]
        to_a = build_reports(session, b, "RS-CUSTOMS", now=NOW)[0]
        permitted = knowing(B, A, C, personal_data=True, redisseminate_from=["RS-CUSTOMS"])
        to_c_permitted = build_reports(session, permitted, "ME-UPRAVA", now=NOW)[0]
    assert entities_of(to_c.message, "vehicle") == []
    assert "conveyance" not in to_c.message["event"]
    assert all("v1" not in (link["from"], link["to"]) for link in to_c.message["links"])
    assert "BG123AB" not in to_c.token and "BG123AB" not in json.dumps(to_c.message)
    assert to_c.withheld == 1
    assert message_problems(to_c.message) == []
    assert [v["identifier"] for v in entities_of(to_a.message, "vehicle")] == ["BG123AB"]
    assert [v["identifier"] for v in entities_of(to_c_permitted.message, "vehicle")] == ["BG123AB"]
    store.close()


def test_an_h3_message_forbidding_dissemination_is_kept_like_h2(tmp_path: Path) -> None:
    b = knowing(B, A, C, personal_data=True)
    store = open_store(tmp_path / "b.db")
    handling = {"code": "H3", "note": "not to Montenegro", "no_dissemination": True}
    h3 = alert(A, "BA-ITA", handling=handling)
    import_message(store, sign(h3, A.signing_key, A.organisation), b, recorded_by="t", now=NOW)
    record_seizure(store, declaration("D1", importer_id="RS100200"))
    with store.transaction() as session:
        to_c = build_reports(session, b, "ME-UPRAVA", now=NOW)[0]
    assert entities_of(to_c.message, "vehicle") == []
    companies = {e["identifier"] for e in entities_of(to_c.message, "company")}
    assert "RS100200" not in companies and "DECL-1" in companies
    assert to_c.withheld == 2
    store.close()


def test_an_h0_entry_may_be_passed_on(tmp_path: Path) -> None:
    b = knowing(B, A, C, personal_data=True)
    store = open_store(tmp_path / "b.db")
    h0 = alert(A, "BA-ITA", handling={"code": "H0"})
    import_message(store, sign(h0, A.signing_key, A.organisation), b, recorded_by="t", now=NOW)
    record_seizure(store, declaration("D1"))
    with store.transaction() as session:
        to_c = build_reports(session, b, "ME-UPRAVA", now=NOW)[0]
    assert [v["identifier"] for v in entities_of(to_c.message, "vehicle")] == ["BG123AB"]
    assert to_c.withheld == 0
    store.close()


def test_personal_identifiers_are_pseudonymised_per_partner(tmp_path: Path) -> None:
    a = knowing(A, B, C)  # neither agreement allows personal identifiers
    store = open_store(tmp_path / "a.db")
    record_seizure(store, declaration("D1"))
    record_seizure(store, declaration("D2"))  # the same van, again
    with store.transaction() as session:
        to_b = build_reports(session, a, "BA-ITA", now=NOW)
        to_c = build_reports(session, a, "ME-UPRAVA", now=NOW)
    plates_b = [entities_of(r.message, "vehicle")[0] for r in to_b]
    plates_c = [entities_of(r.message, "vehicle")[0] for r in to_c]
    assert plates_b[0]["identifier"] == plates_b[1]["identifier"]  # B can link its reports
    assert plates_b[0]["identifier"] != plates_c[0]["identifier"]  # B and C cannot join theirs
    assert plates_b[0]["pseudonymised"] is True
    assert plates_b[0]["identifier"] == pseudonym(a.pseudonym_key, "BA-ITA", "vehicle", "BG123AB")
    assert all("BG123AB" not in r.token for r in [*to_b, *to_c])
    assert [r.message["personal_data"] for r in to_b] == [False, False]
    # companies are not personal identifiers: kept in clear
    assert {e["identifier"] for e in entities_of(to_b[0].message, "company")} == {"DECL-1", "IMP-9"}
    other_key = agency("RS-CUSTOMS", "RS", secret=b"another pseudonym key, 32+ characters")
    assert (
        pseudonym(other_key.pseudonym_key, "BA-ITA", "vehicle", "BG123AB")
        != plates_b[0]["identifier"]
    )


def test_a_pseudonymised_entity_received_makes_no_watchlist_entry(tmp_path: Path) -> None:
    a = knowing(A, B)
    b = knowing(B, A)
    store_a, store_b = open_store(tmp_path / "a.db"), open_store(tmp_path / "b.db")
    record_seizure(store_a, declaration("D1", importer_id=None, declarant_id=None, itinerary=None))
    with store_a.transaction() as session:
        report = build_reports(session, a, "BA-ITA", now=NOW)[0]
    receipt = import_message(store_b, report.token, b, recorded_by="t", now=NOW)
    assert receipt.watchlist_entries == 0  # only a pseudonymised van and the shipment
    store_a.close()
    store_b.close()


def test_sent_reports_are_kept_with_their_declarations(tmp_path: Path) -> None:
    a = knowing(A, B)
    store = open_store(tmp_path / "a.db")
    record_seizure(store, declaration("D1"))
    with store.transaction() as session:
        reports = build_reports(session, a, "BA-ITA", now=NOW)
        record_sent(session, reports, recorded_by="cli:test", recorded_at=NOW)
    with store.transaction() as session:
        sent = session.scalars(select(ExchangeMessage)).one()
        assert (sent.direction, sent.partner, sent.declaration_ids) == ("out", "BA-ITA", ["D1"])
        assert sent.token == reports[0].token


def test_since_leaves_out_earlier_outcomes(tmp_path: Path) -> None:
    a = knowing(A, B)
    store = open_store(tmp_path / "a.db")
    record_seizure(store, declaration("D1"))  # recorded 2026-11-30 11:00 UTC
    with store.transaction() as session:
        assert len(build_reports(session, a, "BA-ITA", since=NOW, now=NOW)) == 0
        assert len(build_reports(session, a, "BA-ITA", since=None, now=NOW)) == 1
