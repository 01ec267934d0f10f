"""The scoring service, run in process with its lifespan (model loaded from a real MLflow store)."""

from __future__ import annotations

import gc
import json
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from features.validation import validate_declarations
from models import registry
from serving.app import create_app
from serving.scoring.live import read_batch
from serving.settings import ServiceSettings
from tests.serving.access_keys import KeyedClient as TestClient  # one key per role
from tests.serving.conftest import MODEL_NAME, TrainedModel, json_payload


def settings_for(model_uri: str, **overrides: Any) -> ServiceSettings:
    return ServiceSettings(model_uri=model_uri, num_threads=1, **overrides)


@pytest.fixture
def declarations(store: TrainedModel) -> pd.DataFrame:
    """Raw test-window declarations, all with an itinerary."""
    frame = pd.read_parquet(store.declarations_path)
    return frame[frame["itinerary"].notna()].reset_index(drop=True)


@pytest.fixture
def client(store: TrainedModel) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(store.model_uri))) as test_client:
        yield test_client


def metric_value(client: TestClient, name: str, **labels: str) -> float:
    """A sample's value from /metrics (0 when the series does not exist yet)."""
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("#"):
            continue
        series, value = line.rsplit(" ", 1)
        metric, _, label_text = series.partition("{")
        if metric == name and all(f'{k}="{v}"' in label_text for k, v in labels.items()):
            return float(value)
    return 0.0


def test_scores_have_the_design_shape_and_the_model_header(
    client: TestClient, store: TrainedModel, declarations: pd.DataFrame
) -> None:
    payload = {"declarations": json_payload(declarations.head(3)), "top_k": 2}
    response = client.post("/v1/scores", json=payload)

    assert response.status_code == 200
    assert response.headers["X-Model-Version"] == f"{MODEL_NAME}/{store.version}"
    body = response.json()
    assert body["model"] == {"name": MODEL_NAME, "version": store.version}
    assert [r["declaration_id"] for r in body["results"]] == list(
        declarations["declaration_id"].head(3)
    )
    result = body["results"][0]
    assert set(result) == {"declaration_id", "risk", "overall", "lane", "reasons"}
    assert result["lane"] in {"red", "yellow", "green"}
    threats = set(result["risk"])
    expected_overall = 1 - np.prod([1 - p for p in result["risk"].values()])
    assert result["overall"] == pytest.approx(expected_overall, abs=1e-12)
    for row in body["results"]:
        assert len(row["reasons"]) <= 2
        for reason in row["reasons"]:
            assert set(reason) == {
                "threat",
                "feature",
                "value",
                "contribution",
                "text",
                "kind",
                "source_agency",
                "handling_code",
                "profile_id",
                "title",
                "rationale",
            }
            assert reason["kind"] == "model"  # nothing is listed in this store
            assert reason["threat"] in threats
            assert reason["contribution"] > 0


def test_lanes_are_counted_in_metrics(client: TestClient, declarations: pd.DataFrame) -> None:
    body = client.post(
        "/v1/scores", json={"declarations": json_payload(declarations.head(4)), "top_k": 0}
    ).json()
    lanes = [r["lane"] for r in body["results"]]
    for lane in set(lanes):
        assert metric_value(client, "shiprisk_scores_total", lane=lane) == lanes.count(lane)
    latency = metric_value(
        client, "shiprisk_request_duration_seconds_count", route="/v1/scores", status="200"
    )
    assert latency == 1.0


def test_online_scores_match_the_bundle_and_the_evaluation_path(
    client: TestClient, store: TrainedModel, declarations: pd.DataFrame
) -> None:
    """API risk = bundle.score = calibrated margins (what training's evaluation computes)."""
    sample = declarations.head(25)
    payload = {"declarations": json_payload(sample), "top_k": 5}
    # Scored once first, so the store's history no longer changes when they are scored again
    # (a declaration counts once); the bundle then scores them with the same live inputs.
    client.post("/v1/scores", json=payload)
    body = client.post("/v1/scores", json=payload).json()
    bundle, _, _ = registry.load_bundle(store.model_uri)
    canonical = validate_declarations(sample)
    state = client.app.state.service  # type: ignore[attr-defined]
    live = read_batch(state.store, canonical, list(bundle.builder.threats)).live
    margins = bundle.margins(canonical, live=live)
    explanations = bundle.explain(canonical, live=live)
    for row, result in enumerate(body["results"]):
        for threat, risk in result["risk"].items():
            evaluated = bundle.calibrators[threat].predict(margins[threat][row : row + 1])[0]
            assert risk == pytest.approx(evaluated, abs=1e-9)
        model_reasons = [r for r in result["reasons"] if r["kind"] == "model"]
        for reason in model_reasons:
            shap = explanations[reason["threat"]].contributions.iloc[row][reason["feature"]]
            assert reason["contribution"] == pytest.approx(shap, abs=1e-12)
        contributions = [r["contribution"] for r in model_reasons]
        assert contributions == sorted(contributions, reverse=True)
        # the reasons are the largest positive contributions over all threats
        every = pd.concat([explanations[t].contributions.iloc[row] for t in bundle.threats])
        largest = sorted(every[every > 0], reverse=True)[: len(contributions)]
        assert contributions == pytest.approx(largest, abs=1e-12)


def test_a_pydantic_error_names_the_field_and_the_expectation_without_the_value(
    client: TestClient, declarations: pd.DataFrame
) -> None:
    good, bad = json_payload(declarations.head(2))
    bad["hs_code"] = "SECRET-CODE"
    bad["transport_mode"] = "teleport"
    del bad["importer_id"]
    response = client.post("/v1/scores", json={"declarations": [good, bad]})

    assert response.status_code == 422
    detail = response.json()["detail"]
    by_path = {tuple(item["loc"]): item["msg"] for item in detail}
    assert by_path[("body", "declarations", 1, "hs_code")] == (
        "Value error, bad HS code (need 6 to 10 digits): write HS codes as text of 6 to 10 "
        "digits, e.g. 930510 or 9305.10"
    )
    assert by_path[("body", "declarations", 1, "importer_id")] == "Field required"
    assert by_path[("body", "declarations", 1, "transport_mode")].startswith(
        "Value error, unknown transport mode: use one of sea, rail, road, air, postal"
    )
    assert "SECRET-CODE" not in response.text
    assert "teleport" not in response.text


def test_a_validation_problem_is_a_422_with_row_path_and_fix_but_no_value(
    client: TestClient, declarations: pd.DataFrame
) -> None:
    rows = json_payload(declarations.head(3))
    rows[2]["declaration_id"] = "SECRET-ID"
    rows[1]["declaration_id"] = " SECRET-ID"  # the same id once stripped: only a frame sees it
    response = client.post("/v1/scores", json={"declarations": rows})

    assert response.status_code == 422
    problem = {
        "msg": "duplicate declaration id in 2 rows",
        "type": "declaration_invalid",
        "fix": "give every declaration a unique id (amendments replace the original row)",
    }
    assert response.json()["detail"] == [
        {"loc": ["body", "declarations", 1, "declaration_id"], **problem},
        {"loc": ["body", "declarations", 2, "declaration_id"], **problem},
    ]
    assert "SECRET" not in response.text


def test_unknown_fields_are_refused_unless_they_are_extra_features(
    client: TestClient, declarations: pd.DataFrame
) -> None:
    row = json_payload(declarations.head(1))[0]
    response = client.post("/v1/scores", json={"declarations": [{**row, "importer": "typo"}]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "declarations", 0]
    assert "unknown field 'importer'" in response.json()["detail"][0]["msg"]


def test_empty_and_malformed_requests(client: TestClient) -> None:
    empty = client.post("/v1/scores", json={"declarations": []})
    assert empty.status_code == 422
    assert empty.json()["detail"][0]["loc"] == ["body", "declarations"]
    broken = client.post(
        "/v1/scores", content=b'{"declarations": [', headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422
    assert broken.json()["detail"][0]["type"] == "json_invalid"


def test_a_body_over_the_limit_is_413_by_header_and_by_stream(
    store: TrainedModel, declarations: pd.DataFrame
) -> None:
    app = create_app(settings_for(store.model_uri, max_body_bytes=2048))
    body = json.dumps({"declarations": json_payload(declarations.head(8))}).encode()
    assert len(body) > 2048
    with TestClient(app) as client:
        by_header = client.post(
            "/v1/scores", content=body, headers={"content-type": "application/json"}
        )
        assert by_header.status_code == 413
        assert by_header.json()["detail"].startswith("request body larger than 2048 bytes")

        def chunks() -> Iterator[bytes]:  # no Content-Length: the size is counted as it arrives
            for start in range(0, len(body), 500):
                yield body[start : start + 500]

        streamed = client.post(
            "/v1/scores", content=chunks(), headers={"content-type": "application/json"}
        )
        assert streamed.status_code == 413
        small = json.dumps({"declarations": json_payload(declarations.head(1))}).encode()
        assert len(small) < 2048
        ok = client.post("/v1/scores", content=small, headers={"content-type": "application/json"})
        assert ok.status_code == 200


def test_more_declarations_than_allowed_is_413_with_the_limit(
    store: TrainedModel, declarations: pd.DataFrame
) -> None:
    with TestClient(create_app(settings_for(store.model_uri, max_rows=2))) as client:
        response = client.post(
            "/v1/scores", json={"declarations": json_payload(declarations.head(3))}
        )
    assert response.status_code == 413
    assert response.json()["detail"] == (
        "3 declarations in one request, at most 2: split the request, or score files with "
        "`shiprisk score`"
    )


def test_without_a_model_the_app_starts_but_is_not_ready(
    store: TrainedModel, declarations: pd.DataFrame
) -> None:
    app = create_app(settings_for(f"models:/{MODEL_NAME}@nobody"))
    with TestClient(app) as client:
        assert client.get("/livez").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["status"] == "not ready"
        assert ready.json()["reason"].startswith(f"could not load models:/{MODEL_NAME}@nobody")
        scores = client.post(
            "/v1/scores", json={"declarations": json_payload(declarations.head(1))}
        )
        assert scores.status_code == 503
        assert scores.json()["detail"].startswith("no model loaded (could not load")
        assert client.get("/v1/model").status_code == 503
        assert metric_value(client, "shiprisk_model_load_failures_total") == 1.0
        assert metric_value(client, "shiprisk_model_loaded") == 0.0


def test_ready_and_model_info(client: TestClient, store: TrainedModel) -> None:
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "model": {"name": MODEL_NAME, "version": store.version},
    }
    info = client.get("/v1/model").json()
    bundle, _, _ = registry.load_bundle(store.model_uri)
    assert info["model"] == {"name": MODEL_NAME, "version": store.version}
    assert info["threats"] == list(bundle.threats)
    assert info["training_window"] == bundle.metadata["training_window"]
    assert info["training_window"]["test"]["start"] == "2024-02-15"
    assert info["metrics"]["threats"].keys() == set(bundle.threats)
    assert "0.05" in info["metrics"]["threats"][bundle.threats[0]]["precision_at"]
    importance = info["importance"][bundle.threats[0]]
    assert list(importance.values()) == sorted(importance.values(), reverse=True)


def test_reload_under_concurrent_requests_never_fails_a_request(
    store: TrainedModel, declarations: pd.DataFrame
) -> None:
    """Threads score without pause while the alias moves and the admin reloads."""
    registry.set_alias(MODEL_NAME, "reloading", store.version)
    app = create_app(settings_for(f"models:/{MODEL_NAME}@reloading"))
    payload = {"declarations": json_payload(declarations.head(1)), "top_k": 3}
    outcomes: list[tuple[int, str | None]] = []
    lock = threading.Lock()
    reloads_done = threading.Event()

    with TestClient(app) as client:

        def hammer() -> None:
            count = 0
            while not reloads_done.is_set() or count < 3:
                response = client.post("/v1/scores", json=payload)
                with lock:
                    outcomes.append((response.status_code, response.headers.get("X-Model-Version")))
                count += 1

        workers = [threading.Thread(target=hammer) for _ in range(4)]
        for worker in workers:
            worker.start()
        time.sleep(0.2)
        registry.set_alias(MODEL_NAME, "reloading", store.second_version)
        reload = client.post("/v1/admin/reload")
        reloads_done.set()
        for worker in workers:
            worker.join(timeout=120)
        after = client.post("/v1/scores", json=payload)

    assert reload.status_code == 200
    assert reload.json() == {
        "model": {"name": MODEL_NAME, "version": store.second_version},
        "previous": {"name": MODEL_NAME, "version": store.version},
        "changed": True,
    }
    assert len(outcomes) >= 12
    assert {status for status, _ in outcomes} == {200}
    served = {header for _, header in outcomes}
    assert served <= {f"{MODEL_NAME}/{store.version}", f"{MODEL_NAME}/{store.second_version}"}
    assert after.headers["X-Model-Version"] == f"{MODEL_NAME}/{store.second_version}"


def _collected_by_gc(target: object) -> bool:
    """Whether garbage collections still walk ``target`` (False once it is frozen)."""
    return any(candidate is target for candidate in gc.get_objects())


def test_the_heap_is_settled_at_start_and_after_a_reload_which_frees_the_old_model(
    store: TrainedModel, heap_settling: None
) -> None:
    """The loaded model is frozen out of garbage collection; a replaced one is still freed."""
    registry.set_alias(MODEL_NAME, "settling", store.version)
    app = create_app(settings_for(f"models:/{MODEL_NAME}@settling"))
    with TestClient(app) as client:
        holder = app.state.service.model_holder
        first = holder.current.bundle
        first_walked = _collected_by_gc(first)
        old_bundle = weakref.ref(first)
        del first
        registry.set_alias(MODEL_NAME, "settling", store.second_version)
        reload = client.post("/v1/admin/reload")
        second_walked = _collected_by_gc(holder.current.bundle)
        replaced = old_bundle()

    assert reload.status_code == 200
    assert not first_walked
    assert not second_walked
    assert replaced is None


def test_a_failed_reload_keeps_the_old_model_and_says_why(
    store: TrainedModel, declarations: pd.DataFrame
) -> None:
    client_mlflow = MlflowClient()
    champion = client_mlflow.get_model_version(MODEL_NAME, store.version)
    # A version registered outside shiprisk: no manifest pin, so it must be refused.
    assert champion.source is not None
    unpinned = client_mlflow.create_model_version(
        MODEL_NAME, champion.source, run_id=champion.run_id
    ).version
    registry.set_alias(MODEL_NAME, "failing", store.version)
    app = create_app(settings_for(f"models:/{MODEL_NAME}@failing"))
    with TestClient(app) as client:
        registry.set_alias(MODEL_NAME, "failing", str(unpinned))
        reload = client.post("/v1/admin/reload")
        scores = client.post(
            "/v1/scores", json={"declarations": json_payload(declarations.head(1))}
        )
        ready = client.get("/readyz")
        failures = metric_value(client, "shiprisk_model_load_failures_total")

    assert reload.status_code == 503
    detail = reload.json()["detail"]
    assert detail.startswith(
        f"reload failed, still serving {MODEL_NAME}/{store.version}: could not load "
        f"models:/{MODEL_NAME}@failing: BundleIntegrityError"
    )
    assert "model version has no manifest_sha256 tag" in detail
    assert scores.status_code == 200
    assert scores.headers["X-Model-Version"] == f"{MODEL_NAME}/{store.version}"
    assert ready.status_code == 200
    assert failures == 1.0


def test_a_declaration_without_itinerary_is_scored(client: TestClient, store: TrainedModel) -> None:
    frame = pd.read_parquet(store.declarations_path)
    without = frame[frame["itinerary"].isna()].head(1)
    response = client.post("/v1/scores", json={"declarations": json_payload(without)})
    assert response.status_code == 200
    assert response.json()["results"][0]["declaration_id"] == without["declaration_id"].iloc[0]
