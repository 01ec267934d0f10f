"""Service test helpers. The session's registered model (`trained`) lives in tests/conftest.py,
so the service and web tests share one training run.

Tests that talk to its MLflow store point MLFLOW_TRACKING_URI there (it wins over
SHIPRISK_TRACKING_URI, as in production).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import mlflow
import pandas as pd
import pytest

from tests.conftest import MODEL_NAME, TrainedModel

__all__ = ["MODEL_NAME", "TrainedModel", "json_payload"]


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
