"""GET /v1/exchange/messages: messages received and sent, newest first, and what each changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from serving.access.keys import Role
from serving.exchange.effects import names_key, reason_entity_type
from serving.exchange.listing import list_messages
from serving.exchange.signing import sign
from serving.store.database import Store
from serving.store.tables import ScoredDeclaration
from tests.serving.access_keys import KeyedClient, make_key, newest_record
from tests.serving.exchange.partners import alert, declaration, record_seizure
from tests.serving.exchange.test_routes import OURS, A, exchange_client
from tests.serving.store_backends import store_url  # noqa: F401

H3 = {"code": "H3", "note": "not before a court without asking", "no_dissemination": True}


def watchlist_reason(agency: str, handling: str, entity: str = "vehicle") -> dict[str, Any]:
    """A watchlist reason as the store keeps a scoring's (serving.store.scores)."""
    return {
        "threat": "weapons",
        "feature": f"watchlist_{entity}_weapons",
        "value": 1.0,
        "contribution": 0.0,
        "text": f"{entity} is on a partner watchlist for weapons",
        "kind": "watchlist",
        "source_agency": agency,
        "handling_code": handling,
    }


def scored(
    store: Store, declaration_id: str, at: datetime, reasons: list[dict[str, Any]], **values: Any
) -> None:
    """One scoring of a declaration, with the reasons it carried."""
    # lodged inside the alerts' validity (from their created_at, NOW - 1 hour)
    canonical = declaration(declaration_id, **{"lodged_at": "2026-12-01T12:00:00+00:00", **values})
    lodged = datetime.fromisoformat(canonical["lodged_at"])
    with store.transaction() as session:
        session.add(
            ScoredDeclaration(
                declaration_id=declaration_id,
                office_id=canonical["office_id"],
                lodged_at=lodged,
                lodged_day=lodged.date(),
                declaration=canonical,
                risk={"weapons": 0.5},
                overall=0.5,
                lane="red",
                reasons=reasons,
                model_name="shiprisk",
                model_version="1",
                scored_at=at,
            )
        )


def receive(client: KeyedClient, message: dict[str, Any]) -> None:
    answer = client.post(
        "/v1/exchange/inbox", json={"message": sign(message, A.signing_key, A.organisation)}
    )
    assert answer.status_code == 200, answer.text


def test_messages_are_listed_newest_first_with_what_each_changed(
    store_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    with exchange_client(tmp_path, store_url) as client:
        store: Store = client.app.state.service.store  # type: ignore[attr-defined]
        before = datetime.now(UTC) - timedelta(minutes=5)
        scored(store, "EARLY", before, [watchlist_reason("RS-CUSTOMS", "H0")])  # before it came
        receive(client, alert(A, OURS, message_id="A-1"))  # vehicle BG123AB, company RS100200
        receive(
            client,
            alert(
                A,
                OURS,
                message_id="A-2",
                handling=H3,
                entities=[{"local_id": "v1", "type": "vehicle", "identifier": "SECRET-PLATE"}],
            ),
        )
        after = datetime.now(UTC)
        hit = [watchlist_reason("RS-CUSTOMS", "H0")]
        scored(store, "D-HIT", after, hit)  # vehicle BG123AB
        scored(store, "D-HIT", after + timedelta(seconds=1), hit)  # re-scored: one declaration
        scored(store, "D-OTHER-AGENCY", after, [watchlist_reason("ME-UPRAVA", "H0")])
        scored(store, "D-OTHER-PLATE", after, hit, vehicle_id="ZZ000ZZ")
        scored(
            store, "D-H3", after, [watchlist_reason("RS-CUSTOMS", "H3")], vehicle_id="SECRET-PLATE"
        )
        record_seizure(store, declaration("D-SEIZED"))
        assert client.get("/v1/exchange/outbox", params={"to": "RS-CUSTOMS"}).status_code == 200

        answer = client.get("/v1/exchange/messages")
        assert answer.status_code == 200, answer.text
        messages = answer.json()["messages"]
        assert [(m["direction"], m["message_id"][:3]) for m in messages][1:] == [
            ("in", "A-2"),
            ("in", "A-1"),
        ]
        sent, restricted, plain = messages
        assert (sent["direction"], sent["partner"], sent["kind"]) == (
            "out",
            "RS-CUSTOMS",
            "seizure_report",
        )
        assert [(r["declaration_id"], r["event"], r["threat"]) for r in sent["reported"]] == [
            ("D-SEIZED", "seizure", "weapons")
        ]
        assert sent["watchlist_entries"] == [] and sent["declarations_affected"] is None

        assert (plain["handling_code"], plain["tlp"], plain["purpose"]) == (
            "H0",
            "AMBER",
            "customs",
        )
        assert [
            (e["entity_type"], e["entity_id"], e["state"]) for e in plain["watchlist_entries"]
        ] == [
            ("vehicle_id", "BG123AB", "in_force"),
            ("importer_id", "RS100200", "in_force"),
        ]
        assert plain["declarations_affected"] == 1  # D-HIT, twice scored; not EARLY nor others

        assert (restricted["handling_code"], restricted["handling_note"]) == ("H3", H3["note"])
        assert restricted["no_dissemination"] is True
        assert [e["entity_id"] for e in restricted["watchlist_entries"]] == [None]
        assert "SECRET-PLATE" not in answer.text
        assert restricted["declarations_affected"] == 1  # D-H3

        record = newest_record(client)
        assert (record.route, record.status, record.declaration_ids) == (
            "GET /v1/exchange/messages",
            200,
            ["D-SEIZED"],
        )

        # filters and pages
        received = client.get("/v1/exchange/messages", params={"direction": "in"}).json()
        assert [m["message_id"] for m in received["messages"]] == ["A-2", "A-1"]
        first = client.get("/v1/exchange/messages", params={"limit": 2}).json()
        assert len(first["messages"]) == 2 and first["next_cursor"] == first["messages"][1]["id"]
        rest = client.get(
            "/v1/exchange/messages", params={"limit": 2, "cursor": first["next_cursor"]}
        ).json()
        assert [m["message_id"] for m in rest["messages"]] == ["A-1"]
        assert rest["next_cursor"] is None
        nobody = client.get("/v1/exchange/messages", params={"partner": "ME-UPRAVA"}).json()
        assert nobody["messages"] == []

        # the entries expire with the message
        with store.sessions() as session:
            later = list_messages(session, now=datetime(2100, 1, 1, tzinfo=UTC), direction="in")
        assert {e.state for m in later.messages for e in m.watchlist_entries} == {"expired"}

        # officers and admins may not read it, nor a risk manager limited to offices
        for role in (Role.OFFICER, Role.ADMIN):
            headers = {"Authorization": f"Bearer {client.keys[role]}"}
            assert client.get("/v1/exchange/messages", headers=headers).status_code == 403
        state = client.app.state.service  # type: ignore[attr-defined]
        limited, _ = make_key(
            state.store, Role.RISK_MANAGER, pepper=state.settings.pepper(), offices=("RS-HORGOS",)
        )
        refused = client.get(
            "/v1/exchange/messages", headers={"Authorization": f"Bearer {limited}"}
        )
        assert refused.status_code == 403 and "D-SEIZED" not in refused.text


def test_a_reason_is_read_back_to_the_entity_it_names() -> None:
    assert reason_entity_type("watchlist_vehicle_weapons", "weapons") == "vehicle_id"
    assert reason_entity_type("watchlist_itinerary_migrants", "migrants") == "itinerary"
    assert reason_entity_type("watchlist_hs_code_revenue", "revenue") == "hs_code"
    assert reason_entity_type("unit_value_vs_hs_median", "revenue") is None
    listed = declaration("D1", itinerary="TR>BG>RS", vehicle_id=" BG123AB ")
    assert names_key(listed, "itinerary", "BG>RS") and not names_key(listed, "itinerary", "G>RS")
    assert names_key(listed, "hs_code", "9305") and not names_key(listed, "hs_code", "9306")
    assert names_key(listed, "vehicle_id", "bg123ab")  # keys are case-folded
