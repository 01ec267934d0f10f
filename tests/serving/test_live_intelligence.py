"""Live intelligence with the real app: watchlist and entity history read at scoring time.

Without a retrain, a new watchlist entry and a new positive outcome change the very next
score; a declaration scored through the API and rebuilt offline from `shiprisk export` with
the training code path gets identical features (point-in-time parity).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.columns import DeclarationColumns
from features.dataset import derive_labels
from serving.access.keys import Role
from serving.app import create_app
from serving.base import current_model
from serving.inspections.service import export_training_tables
from serving.settings import ServiceSettings
from tests.serving.access_keys import KeyedClient as TestClient
from tests.serving.conftest import TrainedModel, json_payload
from tests.serving.store_backends import store_url  # noqa: F401

OFFICE = "MK-TAB"


@pytest.fixture
def client(store: TrainedModel, store_url: str) -> Iterator[TestClient]:  # noqa: F811
    settings = ServiceSettings(model_uri=store.model_uri, num_threads=1, database_url=store_url)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def declarations(store: TrainedModel) -> pd.DataFrame:
    return pd.read_parquet(store.declarations_path)


def fresh(frame: pd.DataFrame, ids: list[str], days: list[int]) -> pd.DataFrame:
    """Copies of the first rows with new ids, lodged on 2024-03-<day> at noon."""
    rows = frame.head(len(ids)).copy().reset_index(drop=True)
    rows["declaration_id"] = ids
    rows["lodged_at"] = [pd.Timestamp(f"2024-03-{day:02d}T12:00:00Z") for day in days]
    return rows


def score(client: TestClient, frame: pd.DataFrame) -> list[dict[str, Any]]:
    response = client.post("/v1/scores", json={"declarations": json_payload(frame), "top_k": 3})
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def as_risk_manager(client: TestClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.keys[Role.RISK_MANAGER]}"}


def add_entry(client: TestClient, **entry: Any) -> int:
    response = client.post(
        "/v1/watchlist", json={"entries": [entry]}, headers=as_risk_manager(client)
    )
    assert response.status_code == 201, response.text
    ids: list[int] = response.json()["ids"]
    return ids[0]


def watchlist_reasons(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [reason for reason in result["reasons"] if reason["kind"] == "watchlist"]


def test_a_watchlist_entry_changes_the_next_score_only_inside_its_window(
    client: TestClient, declarations: pd.DataFrame
) -> None:
    row = fresh(declarations, ["LW1"], [10])
    score(client, row)
    before = score(client, row)[0]  # re-scored: history no longer changes between scorings
    assert watchlist_reasons(before) == []

    # listed only from April: the March declaration is outside the window
    add_entry(
        client,
        entity_type="importer_id",
        entity_id=str(row.loc[0, "importer_id"]).upper(),
        threat="revenue",
        valid_from="2024-04-01T00:00:00Z",
        source_agency="PARTNER-A",
    )
    outside = score(client, row)[0]
    assert outside == before

    add_entry(
        client,
        entity_type="importer_id",
        entity_id=f"  {row.loc[0, 'importer_id']} ",  # typed by hand: normalised to match
        threat="revenue",
        valid_from="2024-03-01T00:00:00Z",
        valid_to="2024-03-31T00:00:00Z",
        source="informant report 17: do not disclose",
        source_agency="PARTNER-B",
        handling_code="H2",
        source_reliability="B",
        information_accuracy="2",
    )
    after = score(client, row)[0]
    hits = watchlist_reasons(after)
    assert [(h["threat"], h["source_agency"], h["handling_code"]) for h in hits] == [
        ("revenue", "PARTNER-B", "H2")
    ]
    assert "informant" not in str(after)
    assert after["risk"]["revenue"] >= before["risk"]["revenue"]  # a hit never lowers risk
    assert after != before


def test_a_positive_outcome_for_an_importer_changes_its_next_score(
    client: TestClient, declarations: pd.DataFrame
) -> None:
    first = fresh(declarations, ["LO1"], [5])
    later = fresh(declarations, ["LO2"], [20])
    later["importer_id"] = first.loc[0, "importer_id"]
    score(client, first)
    score(client, later)
    before = score(client, later)[0]  # sees LO1 and itself: only the outcome changes next
    response = client.post(
        "/v1/outcomes",
        json={
            "outcomes": [
                {
                    "declaration_id": "LO1",
                    "inspected_at": "2024-03-06T09:00:00Z",
                    "result": "irregular",
                    "weapons_found": True,
                    "revenue_irregularity": True,
                }
            ]
        },
    )
    assert response.status_code == 200, response.text
    after = score(client, later)[0]
    assert after["risk"] != before["risk"]
    assert after["risk"]["revenue"] > before["risk"]["revenue"]


class MatrixRecorder:
    """Wraps the served builder's `transform_columns` to keep every matrix it computed, by
    declaration id: the online features, which the API does not return (why the test wraps)."""

    def __init__(self, builder: Any) -> None:
        self.builder = builder
        self.original = builder.transform_columns
        self.rows: dict[str, np.ndarray] = {}

    def __call__(self, columns: DeclarationColumns, live: Any = None) -> np.ndarray:
        matrix = self.original(columns, live)
        for identifier, values in zip(
            columns.strings("declaration_id").tolist(), matrix, strict=True
        ):
            self.rows.setdefault(str(identifier), values.copy())  # the first scoring
        return matrix


def test_features_scored_online_equal_features_rebuilt_offline_from_the_export(
    client: TestClient, declarations: pd.DataFrame, tmp_path: Path
) -> None:
    bundle = current_model(client.app.state.service).bundle  # type: ignore[attr-defined]
    recorder = MatrixRecorder(bundle.builder)
    bundle.builder.transform_columns = recorder
    try:
        rows = fresh(declarations, [f"P{i:02d}" for i in range(12)], [1 + i for i in range(12)])
        rows["importer_id"] = ["IMP-A", "IMP-B", "IMP-A"] * 4  # shared histories
        rows.loc[[3, 7], "itinerary"] = "GR>MK>RS>HU"
        score(client, rows.iloc[:4])  # one batch: these four do not see each other
        score(client, rows.iloc[[4]])
        outcomes = [
            {
                "declaration_id": "P00",
                "inspected_at": "2024-03-02T10:00:00Z",
                "result": "irregular",
                "weapons_found": True,
            },
            {
                "declaration_id": "P03",
                "inspected_at": "2024-03-05T10:00:00Z",
                "result": "irregular",
                "revenue_irregularity": True,
                "migrants_found": 2,
            },
            {"declaration_id": "P01", "inspected_at": "2024-03-03T10:00:00Z", "result": "clear"},
        ]
        assert client.post("/v1/outcomes", json={"outcomes": outcomes}).status_code == 200
        add_entry(
            client,
            entity_type="importer_id",
            entity_id="imp-b",
            threat="revenue",
            valid_from="2024-03-01T00:00:00Z",
        )
        add_entry(
            client,
            entity_type="itinerary",
            entity_id="MK>RS",
            threat="revenue",
            valid_from="2024-01-01T00:00:00Z",
        )
        score(client, rows.iloc[5:9])
        score(client, rows.iloc[9:])
        score(client, rows.iloc[:2])  # re-scored: not counted again, not compared
    finally:
        bundle.builder.transform_columns = recorder.original

    store = client.app.state.service.store  # type: ignore[attr-defined]
    written = export_training_tables(store, tmp_path)
    exported = pd.read_parquet(written.declarations_path)
    labels = derive_labels(
        exported, pd.read_parquet(written.outcomes_path), threats=bundle.builder.threats
    )
    from features.live import as_served

    labels, scored_at = as_served(exported, labels, pd.read_parquet(written.timeline_path))
    offline = bundle.builder.transform_point_in_time(
        exported, labels, pd.read_parquet(written.watchlist_path), scored_at=scored_at
    )
    offline.index = exported["declaration_id"].astype(str).to_numpy()
    ids = [f"P{i:02d}" for i in range(12)]
    online = pd.DataFrame(
        np.stack([recorder.rows[i] for i in ids]), index=ids, columns=offline.columns
    )
    pd.testing.assert_frame_equal(offline.loc[ids], online, check_exact=True)
    # the comparison is not between empty histories
    assert online["importer_hits_revenue"].max() == 1.0
    assert online["importer_inspections"].max() == 2.0
    assert online["watchlist_importer_revenue"].sum() > 0
    assert online["watchlist_itinerary_revenue"].sum() > 0
    assert online.loc["P11", "importer_declarations"] > 0


def test_watchlist_routes_validate_and_hide_restricted_sources_from_officers(
    client: TestClient,
) -> None:
    bad = client.post(
        "/v1/watchlist",
        json={
            "entries": [
                {
                    "entity_type": "importer_id",
                    "entity_id": "X",
                    "threat": "revenue",
                    "valid_from": "2024-01-01",
                },
                {
                    "entity_type": "ship",
                    "entity_id": "X",
                    "threat": "revenue",
                    "valid_from": "2024-01-01",
                    "handling_code": "H9",
                },
            ]
        },
        headers=as_risk_manager(client),
    )
    assert bad.status_code == 422
    paths = {tuple(item["loc"]) for item in bad.json()["detail"]}
    assert ("body", "entries", 1, "entity_type") in paths
    assert ("body", "entries", 1, "handling_code") in paths
    assert client.get("/v1/watchlist", headers=as_risk_manager(client)).json()["entries"] == []
    # an officer may not write
    officer = client.post(
        "/v1/watchlist",
        json={
            "entries": [
                {
                    "entity_type": "importer_id",
                    "entity_id": "X",
                    "threat": "revenue",
                    "valid_from": "2024-01-01",
                }
            ]
        },
        headers={"Authorization": f"Bearer {client.keys[Role.OFFICER]}"},
    )
    assert officer.status_code == 403

    open_id = add_entry(
        client,
        entity_type="vehicle_id",
        entity_id="AB 123",
        threat="migrants",
        valid_from="2024-01-01",
        source="seen at Evzoni",
        source_agency="GR-POL",
    )
    h3_id = add_entry(
        client,
        entity_type="carrier_id",
        entity_id="CAR-9",
        threat="weapons",
        valid_from="2024-01-01",
        source="undercover source",
        source_agency="EUROPOL",
        handling_code="h3",
        handling_note="not for court use",
    )
    seen = {e["id"]: e for e in client.get("/v1/watchlist").json()["entries"]}  # officer
    assert seen[open_id]["entity_id"] == "AB 123" and seen[open_id]["source_agency"] == "GR-POL"
    assert seen[open_id]["source"] is None  # the provider's text stays with risk managers
    restricted = seen[h3_id]
    assert restricted["restricted"] is True and restricted["handling_code"] == "H3"
    assert restricted["entity_id"] is None and restricted["source_agency"] is None
    assert "undercover" not in str(restricted) and "court" not in str(restricted)
    # checking one entity: the officer learns that a hit exists, nothing more
    checked = client.get("/v1/watchlist", params={"entity_type": "carrier_id", "value": "car-9"})
    assert [(e["id"], e["restricted"]) for e in checked.json()["entries"]] == [(h3_id, True)]
    full = client.get("/v1/watchlist", headers=as_risk_manager(client)).json()["entries"]
    assert {e["id"]: e["handling_note"] for e in full}[h3_id] == "not for court use"

    # an edit withdraws the entry it replaces
    response = client.post(
        "/v1/watchlist",
        json={
            "entries": [
                {
                    "entity_type": "vehicle_id",
                    "entity_id": "AB 124",
                    "threat": "migrants",
                    "valid_from": "2024-01-01",
                    "replaces": open_id,
                }
            ]
        },
        headers=as_risk_manager(client),
    )
    assert response.status_code == 201
    ids = [e["id"] for e in client.get("/v1/watchlist").json()["entries"]]
    assert open_id not in ids and response.json()["ids"][0] in ids


def test_watchlist_import_is_all_or_nothing(store_url: str, tmp_path: Path) -> None:  # noqa: F811
    from typer.testing import CliRunner

    from serving.store import watchlist as stored_watchlist
    from serving.store.database import Store
    from shiprisk.cli import app as shiprisk_app

    good = tmp_path / "good.yaml"
    good.write_text(
        "entries:\n"
        "  - {entity_type: hs_code, entity_id: '9305', threat: weapons, valid_from: 2024-01-01,"
        " handling_code: H1, source_agency: KS-POL}\n"
        "  - {entity_type: itinerary, entity_id: 'GR>MK', threat: migrants,"
        " valid_from: 2024-01-01}\n"
    )
    bad = tmp_path / "bad.csv"
    pd.DataFrame(
        {
            "entity_type": ["importer_id", "importer_id"],
            "entity_id": ["IMP-1", "IMP-2"],
            "threat": ["revenue", "revenue"],
            "valid_from": ["2024-01-01", "2024-02-01"],
            "valid_to": ["", "2024-01-01"],  # the second ends before it starts
        }
    ).to_csv(bad, index=False)
    runner = CliRunner()
    refused = runner.invoke(
        shiprisk_app, ["watchlist", "import", str(bad), "--database-url", store_url]
    )
    assert refused.exit_code == 2 and "valid_to" in refused.output
    added = runner.invoke(
        shiprisk_app,
        ["watchlist", "import", str(good), "--by", "analyst", "--database-url", store_url],
    )
    assert added.exit_code == 0, added.output
    opened = Store.open(store_url)
    with opened.transaction() as session:
        stored = stored_watchlist.export_watchlist(session)
    opened.close()
    assert stored["entity_id"].tolist() == ["9305", "GR>MK"]
    assert stored["handling_code"].tolist() == ["h1", "h0"]
    assert set(stored["added_by"]) == {"analyst"}
