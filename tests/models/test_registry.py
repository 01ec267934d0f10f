"""The bundle in the MLflow registry: logged as models-from-code pyfunc, aliased, pinned by hash.

MLflow points at a temporary SQLite store and artifact directory, never at mlruns/.
"""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

import models.bundle
from features.validation import DataValidationError, validate_declarations
from models.bundle import ModelBundle
from models.manifest import BundleIntegrityError, manifest_sha256
from models.registry import MANIFEST_SHA256_TAG, load_bundle, log_bundle, resolve, set_alias
from tests.models.test_bundle import StandInFeatureBuilder, make_bundle


@pytest.fixture(scope="module")
def tracking(tmp_path_factory: pytest.TempPathFactory):
    """A private tracking store and experiment; restores the previous tracking URI afterwards."""
    root = tmp_path_factory.mktemp("mlflow")
    previous_env = os.environ.get("MLFLOW_TRACKING_URI")
    previous_uri = mlflow.get_tracking_uri()
    uri = f"sqlite:///{root}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    experiment_id = mlflow.create_experiment(
        "models-tests", artifact_location=(root / "artifacts").as_uri()
    )
    yield experiment_id
    mlflow.set_tracking_uri(previous_uri)
    if previous_env is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = previous_env


@pytest.fixture(autouse=True)
def stand_in_builder(monkeypatch: pytest.MonkeyPatch) -> None:
    # The pyfunc and load_bundle load the bundle with the default loader, the documented
    # features.builder.FeatureBuilder; these bundles hold the stand-in builder's files.
    monkeypatch.setattr(models.bundle, "load_feature_builder", StandInFeatureBuilder.load)


@pytest.fixture(scope="module")
def registered(tracking, tmp_path_factory: pytest.TempPathFactory):
    """One bundle, saved, logged and registered as version 1 with alias challenger."""
    bundle, declarations = make_bundle(300, seed=7)
    bundle_dir = tmp_path_factory.mktemp("bundle") / "bundle"
    bundle.save(bundle_dir)
    with mlflow.start_run(experiment_id=tracking):
        version = log_bundle(bundle_dir, registered_model_name="shiprisk-test")
    return bundle, declarations, bundle_dir, version


def test_log_bundle_registers_a_version_with_alias_and_manifest_pin(registered) -> None:
    _, _, bundle_dir, version = registered
    assert version == "1"
    assert resolve("models:/shiprisk-test@challenger") == ("shiprisk-test", "1")
    model_version = MlflowClient().get_model_version("shiprisk-test", "1")
    assert model_version.tags[MANIFEST_SHA256_TAG] == manifest_sha256(bundle_dir)


def as_json_records(declarations: pd.DataFrame) -> list[dict[str, object]]:
    """Declarations as a client of `mlflow models serve` sends them: raw JSON objects with the
    required fields the stand-in bundle does not read, missing values left out."""
    records = []
    for row in declarations.to_dict(orient="records"):
        record = {key: value for key, value in row.items() if not pd.isna(value)}
        record.update(
            lodged_at="2024-03-01T10:00:00Z",
            declarant_id="DC1",
            importer_id="IM1",
            origin_country="TR",
            dispatch_country="BG",
        )
        records.append(record)
    return records


def test_pyfunc_from_the_alias_predicts_the_bundle_risks(registered) -> None:
    bundle, declarations, _, _ = registered
    pyfunc = mlflow.pyfunc.load_model("models:/shiprisk-test@challenger")
    raw = pd.DataFrame(as_json_records(declarations.head(50)))
    # No itinerary, flow or vehicle columns at all: the pyfunc validates before it scores.
    assert "itinerary" not in raw.columns
    predicted = pyfunc.predict(raw)
    expected = bundle.risk_frame(validate_declarations(raw))
    pd.testing.assert_frame_equal(predicted.reset_index(drop=True), expected)
    pd.testing.assert_frame_equal(
        predicted[["risk_weapons", "risk_migrants", "risk_revenue"]].reset_index(drop=True),
        bundle.risk_frame(declarations.head(50))[
            ["risk_weapons", "risk_migrants", "risk_revenue"]
        ].reset_index(drop=True),
    )


def test_pyfunc_refuses_invalid_declarations_with_the_validation_problems(registered) -> None:
    _, declarations, _, _ = registered
    pyfunc = mlflow.pyfunc.load_model("models:/shiprisk-test@challenger")
    records = as_json_records(declarations.head(2))
    records[1]["origin_country"] = "Narnia"
    with pytest.raises(DataValidationError) as error:
        pyfunc.predict(pd.DataFrame(records))
    assert [(p.column, p.message, p.rows) for p in error.value.problems] == [
        ("origin_country", "unknown country code in 1 row", (2,))
    ]


def test_load_bundle_reads_the_store_it_is_given_not_the_current_one(
    registered, tmp_path: Path
) -> None:
    bundle, declarations, _, _ = registered
    store_uri = mlflow.get_tracking_uri()
    environment = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/empty.db")
    mlflow.set_registry_uri(f"sqlite:///{tmp_path}/empty.db")
    try:
        with pytest.raises(MlflowException):
            resolve("models:/shiprisk-test@challenger")  # the current store has no such model
        assert resolve("models:/shiprisk-test@challenger", tracking_uri=store_uri) == (
            "shiprisk-test",
            "1",
        )
        loaded, name, version = load_bundle(
            "models:/shiprisk-test@challenger", tracking_uri=store_uri
        )
    finally:
        mlflow.set_tracking_uri(store_uri)
        mlflow.set_registry_uri(store_uri)
    assert (name, version) == ("shiprisk-test", "1")
    assert os.environ.get("MLFLOW_TRACKING_URI") == environment
    pd.testing.assert_frame_equal(loaded.risk_frame(declarations), bundle.risk_frame(declarations))


def test_load_bundle_verifies_and_returns_name_and_version(registered, tmp_path: Path) -> None:
    bundle, declarations, _, _ = registered
    loaded, name, version = load_bundle("models:/shiprisk-test@challenger")
    assert (name, version) == ("shiprisk-test", "1")
    assert isinstance(loaded, ModelBundle)
    pd.testing.assert_frame_equal(loaded.risk_frame(declarations), bundle.risk_frame(declarations))
    kept, _, _ = load_bundle("models:/shiprisk-test/1", dst_path=tmp_path / "download")
    assert kept.manifest == loaded.manifest
    downloaded = [p.name for p in (tmp_path / "download").rglob("*") if p.is_file()]
    assert "pyfunc_model.py" in downloaded  # models from code: the model is this source file
    assert [name for name in downloaded if name.endswith((".pkl", ".pickle"))] == []


def test_set_alias_moves_an_alias(registered) -> None:
    set_alias("shiprisk-test", "champion", "1")
    assert resolve("models:/shiprisk-test@champion") == ("shiprisk-test", "1")


def test_a_version_whose_manifest_differs_from_its_pin_is_refused(registered) -> None:
    _, _, bundle_dir, _ = registered
    client = MlflowClient()
    client.set_model_version_tag("shiprisk-test", "1", MANIFEST_SHA256_TAG, "0" * 64)
    try:
        with pytest.raises(BundleIntegrityError) as error:
            load_bundle("models:/shiprisk-test/1")
        problems = error.value.problems
        assert problems == [
            f"manifest.json: sha256 {manifest_sha256(bundle_dir)} differs from the registry tag "
            f"{MANIFEST_SHA256_TAG}={'0' * 64}"
        ]
    finally:
        client.set_model_version_tag(
            "shiprisk-test", "1", MANIFEST_SHA256_TAG, manifest_sha256(bundle_dir)
        )


def test_a_tampered_bundle_never_reaches_the_registry(tracking, tmp_path: Path) -> None:
    bundle, _ = make_bundle(200, seed=8)
    bundle.save(tmp_path / "bundle")
    (tmp_path / "bundle" / "lanes.json").write_text("{}")
    with mlflow.start_run(experiment_id=tracking), pytest.raises(BundleIntegrityError) as error:
        log_bundle(tmp_path / "bundle", registered_model_name="shiprisk-tampered")
    assert error.value.problems == ["lanes.json: sha256 does not match the manifest (file changed)"]
    assert MlflowClient().search_model_versions("name='shiprisk-tampered'") == []


def test_log_bundle_needs_an_active_run(tracking, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError) as error:
        log_bundle(tmp_path)
    assert str(error.value) == (
        "log_bundle logs into the active MLflow run: call it inside mlflow.start_run()"
    )


def test_resolve_refuses_other_uris() -> None:
    with pytest.raises(ValueError) as error:
        resolve("runs:/abc/model")
    assert str(error.value) == (
        "model URI 'runs:/abc/model' is not models:/<name>@<alias> or models:/<name>/<version>"
    )
