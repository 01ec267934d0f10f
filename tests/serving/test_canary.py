"""A unique value submitted in a declaration never reaches a log line or an error body."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

from serving.app import create_app
from serving.settings import ServiceSettings
from tests.serving.access_keys import KeyedClient
from tests.serving.conftest import TrainedModel, json_payload


@pytest.fixture
def client(store: TrainedModel, tmp_path: Any) -> Iterator[KeyedClient]:
    settings = ServiceSettings(
        model_uri=store.model_uri,
        num_threads=1,
        database_url=f"sqlite:///{tmp_path / 'shiprisk.db'}",
    )
    with KeyedClient(create_app(settings)) as test_client:
        yield test_client


def test_a_canary_value_never_appears_in_logs_or_error_bodies(
    client: KeyedClient,
    store: TrainedModel,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    canary = f"CANARY{uuid.uuid4().hex}"
    caplog.set_level(logging.DEBUG)
    base = json_payload(pd.read_parquet(store.declarations_path).head(1))[0]
    requests: list[dict[str, Any]] = [
        # Accepted: the canary is stored, but only the declaration's own record shows it.
        {**base, "importer_id": canary, "goods_description": canary},
        # Each of these is refused, with the canary in the refused field.
        {**base, "hs_code": canary},
        {**base, "itinerary": f"RS>{canary}"},
        {**base, "lodged_at": canary},
        {**base, "customs_value_eur": canary},
        {**base, "transport_mode": canary},
    ]
    error_bodies: list[str] = []
    for declaration in requests:
        response = client.post("/v1/scores", json={"declarations": [declaration]})
        if response.status_code >= 400:
            error_bodies.append(response.text)
    outcome = {
        "declaration_id": base["declaration_id"],
        "inspected_at": canary,
        "result": "clear",
        "notes": canary,
    }
    error_bodies.append(client.post("/v1/outcomes", json={"outcomes": [outcome]}).text)
    error_bodies.append(client.get(f"/v1/declarations/{canary}").text)  # 404
    error_bodies.append(
        client.post("/v1/scores", content=f'{{"declarations": [{{"x": "{canary}"', headers={}).text
    )
    error_bodies.append(
        client.get(
            f"/v1/declarations/{base['declaration_id']}", headers={"Authorization": canary}
        ).text
    )
    assert len(error_bodies) == 9
    assert all(canary not in body for body in error_bodies)
    assert all(canary[:30] not in body for body in error_bodies)
    # The test's own HTTP client logs its request lines; every other logger is the service's.
    service_lines = [
        record.getMessage() for record in caplog.records if not record.name.startswith("httpx")
    ]
    assert any("POST /v1/scores 422" in line for line in service_lines)
    assert all(canary not in line for line in service_lines)
    captured = capfd.readouterr()
    assert canary not in captured.err
    assert canary not in captured.out
