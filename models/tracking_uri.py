"""Where the MLflow tracking store and registry are: one rule for training and serving.

The default is the embedded store under mlruns/ (DESIGN.md, Settings); MLflow's own
MLFLOW_TRACKING_URI wins over SHIPRISK_TRACKING_URI when set. This module imports nothing, so
the settings of every command can use it without loading MLflow (``models.registry`` does,
and costs seconds to import).
"""

from __future__ import annotations

import os

DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"


def resolved_tracking_uri(configured: str) -> str:
    """MLFLOW_TRACKING_URI when set, else ``configured`` (SHIPRISK_TRACKING_URI or the default)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or configured
