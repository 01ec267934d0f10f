"""A partner's alert reaches the next score: the reason names the partner and handling code."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from serving.app import create_app
from serving.exchange.signing import sign
from serving.settings import ServiceSettings
from tests.serving.access_keys import KeyedClient
from tests.serving.conftest import TrainedModel, json_payload
from tests.serving.exchange.partners import agency, alert

A = agency("RS-CUSTOMS", "RS")


@pytest.mark.parametrize(
    "handling",
    [{"code": "H2"}, {"code": "H3", "note": "SECRET-NOTE court use", "no_dissemination": True}],
    ids=["H2", "H3"],
)
def test_the_next_score_of_a_matching_declaration_names_the_partner(
    store: TrainedModel, tmp_path: Path, handling: dict[str, object]
) -> None:
    partners = tmp_path / "partners.yaml"
    partners.write_text(
        yaml.safe_dump({"partners": {"RS-CUSTOMS": {"country": "RS", "key": A.public_jwk()}}})
    )
    settings = ServiceSettings(
        model_uri=store.model_uri,
        num_threads=1,
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        data_dir=tmp_path,
        exchange_organisation="BA-ITA",
        exchange_partners_file=partners,
    )
    declaration = pd.read_parquet(store.declarations_path).head(1).copy()
    plate = "WATCHED-VAN-1"
    declaration["vehicle_id"] = plate
    entities = [{"local_id": "v1", "type": "vehicle", "identifier": plate}]
    message = alert(A, "BA-ITA", entities=entities, handling=handling)
    message["created_at"] = "2000-01-01T00:00:00Z"  # valid before any test declaration
    message["retain_until"] = "2099-01-01T00:00:00Z"
    with KeyedClient(create_app(settings)) as client:
        received = client.post(
            "/v1/exchange/inbox", json={"message": sign(message, A.signing_key, A.organisation)}
        )
        assert received.status_code == 200, received.text
        scored = client.post(
            "/v1/scores", json={"declarations": json_payload(declaration), "top_k": 10}
        )
        assert scored.status_code == 200, scored.text
        listed = client.get("/v1/watchlist", params={"entity_type": "vehicle_id", "value": plate})
    reasons = scored.json()["results"][0]["reasons"]
    watchlist = [r for r in reasons if r.get("kind") == "watchlist"]
    assert [(r["source_agency"], r["handling_code"]) for r in watchlist] == [
        ("RS-CUSTOMS", handling["code"])
    ]
    assert "RS-CUSTOMS" in watchlist[0]["text"] and handling["code"] in watchlist[0]["text"]
    # An officer learns that a restricted hit exists, never the source's text or the plate.
    assert "SECRET-NOTE" not in scored.text
    entry = listed.json()["entries"]
    assert [(e["restricted"], e["handling_code"]) for e in entry] == [(True, handling["code"])]
    assert "SECRET-NOTE" not in listed.text and "message" not in str(entry[0].get("source"))
