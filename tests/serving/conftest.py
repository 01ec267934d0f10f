"""A real registered model for the service tests: small synthetic data, trained once per session.

The MLflow store lives in a temporary directory; tests that talk to it point
MLFLOW_TRACKING_URI there (it wins over SHIPRISK_TRACKING_URI, as in production).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
import yaml

from models import registry

MODEL_NAME = "shiprisk"


@dataclass(frozen=True)
class TrainedModel:
    """Where the session's model lives, and declarations it has not seen."""

    tracking_uri: str
    model_uri: str  # the champion alias
    version: str  # the champion's version
    second_version: str  # the same bundle registered again, for reload tests
    bundle_dir: Path
    declarations_path: Path  # raw declarations of the test window (Parquet)


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> TrainedModel:
    """Generate 60 days x 150 declarations, train and register, set the champion alias."""
    from features.sources import load_config
    from training.pipeline import train
    from training.synthetic import generate

    root = tmp_path_factory.mktemp("serving-model")
    tables = generate(root / "data", start="2024-01-01", days=60, rows_per_day=150, seed=3)
    config_path = root / "config.yaml"
    config_path.write_text(
        yaml.safe_dump(
            {
                "source": {
                    "declarations": str(tables["declarations"]),
                    "outcomes": str(tables["outcomes"]),
                    "watchlist": str(tables["watchlist"]),
                    "columns": {},
                },
                "split": {
                    "train": ["2024-01-01", "2024-01-31"],
                    "valid": ["2024-02-01", "2024-02-14"],
                    "test": ["2024-02-15", "2024-02-29"],
                },
                "evaluation": {"inspection_rates": [0.05, 0.1]},
            }
        )
    )
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    result = train(load_config(config_path), tracking_uri=tracking_uri, register=True)
    assert result.version is not None
    registry.set_alias(MODEL_NAME, "champion", result.version)

    bundle_dir = root / "bundle"
    result.bundle.save(bundle_dir)
    with mlflow.start_run():
        second = registry.log_bundle(bundle_dir, registered_model_name=MODEL_NAME, alias=None)

    declarations = pd.read_parquet(tables["declarations"])
    test_window = declarations[declarations["lodged_at"].astype(str) >= "2024-02-15"]
    declarations_path = root / "test_declarations.parquet"
    test_window.head(120).to_parquet(declarations_path, index=False)
    return TrainedModel(
        tracking_uri=tracking_uri,
        model_uri=f"models:/{MODEL_NAME}@champion",
        version=result.version,
        second_version=second,
        bundle_dir=bundle_dir,
        declarations_path=declarations_path,
    )


@pytest.fixture
def store(trained: TrainedModel, monkeypatch: pytest.MonkeyPatch) -> Iterator[TrainedModel]:
    """The trained model, with MLflow (and so the service's settings) pointed at its store."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained.tracking_uri)
    mlflow.set_tracking_uri(trained.tracking_uri)
    mlflow.set_registry_uri(trained.tracking_uri)
    yield trained


def json_payload(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Declarations as an API client sends them: missing values left out, times as ISO text."""
    records = []
    for row in frame.to_dict(orient="records"):
        record: dict[str, Any] = {}
        for name, value in row.items():
            key = str(name)
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            if value is pd.NaT:
                continue
            if isinstance(value, pd.Timestamp):
                value = value.isoformat()
            elif key == "packages":
                value = int(value)
            record[key] = value
        records.append(record)
    return records
