"""Issue 15's round trip between two shiprisk instances, each with its own store, keys and
partners, in one process through the real apps: A records a seizure on a declaration with
vehicle X and exports a seizure report to B; B imports it; B's next score of a declaration with
vehicle X carries a reason naming A and the handling code. Handling codes hold both ways: A
sends under H2 and B never passes A's entries on to anyone but A, and A never passes on what
a third partner (C) sent it under H2.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from serving.app import create_app
from serving.exchange.partners import ExchangeConfig
from serving.exchange.signing import sign, verify
from serving.settings import ServiceSettings
from tests.serving.access_keys import KeyedClient
from tests.serving.conftest import TrainedModel, json_payload
from tests.serving.exchange.partners import agency, alert, knowing
from tests.serving.store_backends import store_url  # noqa: F401

A = agency("RS-CUSTOMS", "RS")
B = agency("BA-ITA", "BA")
C = agency("ME-UPRAVA", "ME")
VEHICLE = "XV777XX"  # vehicle X
C_SECRET = "ME-SECRET-CO"  # a company C sent A under H2


@contextmanager
def instance(
    me: ExchangeConfig,
    partners: list[ExchangeConfig],
    directory: Path,
    database_url: str,
    model: TrainedModel,
    **settings: Any,
) -> Iterator[KeyedClient]:
    """One shiprisk instance: its own store, signing key, partners file and data directory.
    Every agreement allows personal identifiers in clear, so what a report leaves out is left
    out by a handling code, not hidden by a pseudonym."""
    directory.mkdir()
    key_file = directory / "signing.jwk"
    key_file.write_text(json.dumps(me.signing_key.as_dict(private=True)))
    partners_file = directory / "partners.yaml"
    partners_file.write_text(
        yaml.safe_dump(
            {
                "partners": {
                    other.organisation: {
                        "country": other.country,
                        "key": other.public_jwk(),
                        "personal_data": True,
                    }
                    for other in partners
                }
            }
        )
    )
    service = ServiceSettings(
        model_uri=model.model_uri,
        num_threads=1,
        database_url=database_url,
        data_dir=directory,
        exchange_organisation=me.organisation,
        exchange_country=me.country,
        exchange_partners_file=partners_file,
        exchange_signing_key_file=key_file,
        **settings,
    )
    with KeyedClient(create_app(service)) as client:
        yield client


def score(client: KeyedClient, row: dict[str, Any]) -> dict[str, Any]:
    answer = client.post("/v1/scores", json={"declarations": [row], "top_k": 10})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()["results"][0]
    return result


def seized(client: KeyedClient, declaration_id: str, at: datetime) -> None:
    outcome = {
        "declaration_id": declaration_id,
        "inspected_at": at.isoformat(),
        "inspection_type": "physical",
        "result": "irregular",
        "weapons_found": True,
        "concealment": "hidden compartment behind the rear seats",
    }
    answer = client.post("/v1/outcomes", json={"outcomes": [outcome]})
    assert answer.status_code == 200, answer.text


def exported(client: KeyedClient, to: str, reader: ExchangeConfig) -> list[dict[str, Any]]:
    """The outbox for ``to``, each report verified with ``reader``'s partners (as ``to``
    would) and returned as its payload with what was withheld."""
    answer = client.get("/v1/exchange/outbox", params={"to": to})
    assert answer.status_code == 200, answer.text
    return [
        {**json.loads(verify(r["token"], reader.partners).payload), "withheld": r["withheld"]}
        for r in answer.json()["reports"]
    ]


def identifiers(report: dict[str, Any]) -> set[str]:
    return {str(entity.get("identifier")) for entity in report["entities"]}


def test_a_seizure_report_travels_from_a_to_b_with_handling_codes_kept(
    store: TrainedModel,
    store_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    rows = json_payload(pd.read_parquet(store.declarations_path).head(2))
    start = datetime.now(UTC).replace(microsecond=0)
    a_declaration = {
        **rows[0],
        "declaration_id": "A-DECL-1",
        "vehicle_id": VEHICLE,
        "importer_id": C_SECRET,
        "lodged_at": (start - timedelta(days=1)).isoformat(),
    }
    with ExitStack() as stack:
        # A on the backend under test (PostgreSQL when set), B always on a SQLite file
        a = stack.enter_context(
            instance(A, [B, C], tmp_path / "a", store_url, store, exchange_handling_code="H2")
        )
        b = stack.enter_context(
            instance(B, [A, C], tmp_path / "b", f"sqlite:///{tmp_path / 'b.db'}", store)
        )
        # C sends A an H2 alert about a company
        from_c = alert(
            C,
            A.organisation,
            message_id="C-1",
            handling={"code": "H2"},
            entities=[
                {"local_id": "c1", "type": "company", "identifier": C_SECRET, "roles": ["importer"]}
            ],
        )
        from_c["created_at"] = "2000-01-01T00:00:00Z"
        assert (
            a.post(
                "/v1/exchange/inbox", json={"message": sign(from_c, C.signing_key, C.organisation)}
            ).status_code
            == 200
        )

        # A scores a declaration with vehicle X (its importer on C's list) and seizes weapons
        score(a, a_declaration)
        seized(a, "A-DECL-1", start - timedelta(hours=20))

        # A exports the seizure report to B: C's H2 company is left out, the vehicle is not
        reports = exported(a, B.organisation, knowing(B, A))
        assert [r["kind"] for r in reports] == ["seizure_report"]
        [report] = reports
        assert report["handling"] == {"code": "H2"}
        assert VEHICLE in identifiers(report) and C_SECRET not in json.dumps(report)
        assert report["withheld"] == 1
        assert report["event"]["conveyance"] in {e["local_id"] for e in report["entities"]}

        # B imports it
        listed = a.get("/v1/exchange/messages", params={"direction": "out"}).json()["messages"]
        assert [(m["partner"], m["withheld"]) for m in listed] == [(B.organisation, 1)]
        assert [r["declaration_id"] for r in listed[0]["reported"]] == ["A-DECL-1"]
        sent = sent_token(a, B.organisation)
        received = b.post("/v1/exchange/inbox", json={"message": sent})
        assert received.status_code == 200, received.text
        assert (received.json()["sender"], received.json()["handling_code"]) == ("RS-CUSTOMS", "H2")
        assert received.json()["watchlist_entries"] >= 1

        # B's next score of a declaration with vehicle X names A and the handling code
        b_declaration = {
            **rows[1],
            "declaration_id": "B-DECL-1",
            "vehicle_id": VEHICLE,
            "lodged_at": datetime.now(UTC).isoformat(),
        }
        reasons = [r for r in score(b, b_declaration)["reasons"] if r.get("kind") == "watchlist"]
        # the vehicle's (the report's route and parties may match the declaration too)
        [vehicle] = [r for r in reasons if r["feature"] == "watchlist_vehicle_weapons"]
        assert (vehicle["source_agency"], vehicle["handling_code"]) == ("RS-CUSTOMS", "H2")
        assert "RS-CUSTOMS" in vehicle["text"] and "H2" in vehicle["text"]
        assert {r["source_agency"] for r in reasons} == {"RS-CUSTOMS"}
        listed = b.get("/v1/exchange/messages", params={"direction": "in"}).json()["messages"]
        assert [(m["partner"], m["declarations_affected"]) for m in listed] == [("RS-CUSTOMS", 1)]

        # B seizes too, and reports: to C without A's H2 vehicle, to A (its provider) with it
        seized(b, "B-DECL-1", datetime.now(UTC))
        [to_c] = exported(b, C.organisation, knowing(C, B))
        assert VEHICLE not in json.dumps(to_c)
        assert to_c["withheld"] >= 1  # the vehicle, and any party A's report named too
        assert "conveyance" not in to_c["event"]
        [to_a] = exported(b, A.organisation, knowing(A, B))
        assert VEHICLE in identifiers(to_a) and C_SECRET not in json.dumps(to_a)
        # and A, asked again for B, still leaves C's H2 company out
        assert all(
            C_SECRET not in json.dumps(r) for r in exported(a, B.organisation, knowing(B, A))
        )


def sent_token(client: KeyedClient, recipient: str) -> str:
    """The token of the newest report the instance sent to ``recipient``, as it stored it
    (what went out is what was signed)."""
    from sqlalchemy import select

    from serving.store.tables import ExchangeMessage

    store = client.app.state.service.store  # type: ignore[attr-defined]
    with store.sessions() as session:
        token = session.scalars(
            select(ExchangeMessage.token)
            .where(ExchangeMessage.direction == "out", ExchangeMessage.partner == recipient)
            .order_by(ExchangeMessage.id.desc())
            .limit(1)
        ).one()
    return str(token)
