"""Service settings: the SHIPRISK_ variables of DESIGN.md, MLflow's own variable winning."""

from __future__ import annotations

import pytest

from serving.settings import ServiceSettings


def test_defaults_are_the_documented_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MLFLOW_TRACKING_URI", "SHIPRISK_TRACKING_URI", "SHIPRISK_MODEL_URI"):
        monkeypatch.delenv(name, raising=False)
    settings = ServiceSettings()
    assert settings.model_uri == "models:/shiprisk@champion"
    assert settings.resolved_tracking_uri() == "sqlite:///mlruns/mlflow.db"
    assert (settings.max_rows, settings.max_body_bytes, settings.top_k) == (1000, 1048576, 5)


def test_shiprisk_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("SHIPRISK_TRACKING_URI", "sqlite:////srv/store.db")
    monkeypatch.setenv("SHIPRISK_MODEL_URI", "models:/shiprisk/7")
    monkeypatch.setenv("SHIPRISK_MAX_ROWS", "50")
    settings = ServiceSettings()
    assert settings.resolved_tracking_uri() == "sqlite:////srv/store.db"
    assert (settings.model_uri, settings.max_rows) == ("models:/shiprisk/7", 50)


def test_mlflow_tracking_uri_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPRISK_TRACKING_URI", "sqlite:////srv/store.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.internal:5000")
    assert ServiceSettings().resolved_tracking_uri() == "http://tracking.internal:5000"


def test_lightgbm_threads_never_exceed_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("serving.settings.available_cores", lambda: 2)
    assert ServiceSettings(num_threads=None).lightgbm_threads() == 2
    assert ServiceSettings(num_threads=1).lightgbm_threads() == 1
    assert ServiceSettings(num_threads=8).lightgbm_threads() == 2
