"""Suite-wide safety: MLflow never writes to the project's mlruns/ and never calls home."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_MLFLOW_HOME = Path(tempfile.mkdtemp(prefix="shiprisk-tests-mlflow-"))


def pytest_configure(config: pytest.Config) -> None:
    # A test that forgets to choose its own store lands here, never in mlruns/.
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{_MLFLOW_HOME / 'mlflow.db'}"
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    # Idle OpenMP threads sleep instead of spinning: on a busy 2-core machine spinning
    # LightGBM threads slow each other down tenfold. Must be set before lightgbm loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
