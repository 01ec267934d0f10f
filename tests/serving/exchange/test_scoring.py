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


@pytest.mark.xfail(
    strict=True,
    reason="needs the live watchlist in scoring (issue 13, branch live): then "
    "serving.exchange.watchlist.add_to_watchlist hands the entries to its service",
)
def test_the_next_score_of_a_matching_declaration_names_the_partner(
    store: TrainedModel, tmp_path: Path
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
    message = alert(A, "BA-ITA", entities=entities, handling={"code": "H2"})
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
    reasons = scored.json()["results"][0]["reasons"]
    watchlist = [r for r in reasons if r.get("kind") == "watchlist"]
    assert watchlist, reasons
    assert "RS-CUSTOMS" in watchlist[0]["text"] and "H2" in watchlist[0]["text"]
