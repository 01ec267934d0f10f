"""MLflow tracking: where runs and artifacts go, and what every run records.

Only this module, training/ and models/registry.py talk to MLflow.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient


def configure(tracking_uri: str) -> None:
    """Point MLflow's tracking and registry at ``tracking_uri``, creating a SQLite folder."""
    sqlite_path = sqlite_file(tracking_uri)
    if sqlite_path is not None:
        sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)


def sqlite_file(tracking_uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (relative or absolute), else None."""
    if not tracking_uri.startswith("sqlite:"):
        return None
    path = urlparse(tracking_uri).path
    # sqlite:///relative/path -> "/relative/path"; sqlite:////abs/path -> "//abs/path"
    return Path(path[1:]) if path.startswith("/") else Path(path)


def ensure_experiment(name: str, tracking_uri: str) -> str:
    """The id of experiment ``name``, created with artifacts beside the SQLite store.

    With the embedded store, artifacts go under the database's folder (``mlruns/``) instead of
    wherever the process happens to run.
    """
    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    sqlite_path = sqlite_file(tracking_uri)
    location = None
    if sqlite_path is not None:
        location = (sqlite_path.parent.resolve() / "artifacts" / name).as_uri()
    return str(client.create_experiment(name, artifact_location=location))


def data_fingerprint(declarations: pd.DataFrame, labels: pd.DataFrame) -> dict[str, Any]:
    """Row counts, date range and a content hash of the data a run was trained on."""
    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(declarations, index=False).to_numpy().tobytes())
    digest.update(pd.util.hash_pandas_object(labels, index=False).to_numpy().tobytes())
    lodged = declarations["lodged_at"]
    return {
        "declarations": len(declarations),
        "inspected": int(labels["inspected"].sum()),
        "lodged_from": lodged.min().isoformat(),
        "lodged_to": lodged.max().isoformat(),
        "sha256": digest.hexdigest(),
    }


def flatten_metrics(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """MLflow metric names from the nested metrics dict: ``revenue.precision_at.0.05``."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_metrics(value, f"{name}."))
        elif _is_interval(value):
            # A bootstrap interval [lo, hi]: two metrics, name.lo and name.hi.
            flat.update(flatten_metrics({"lo": value[0], "hi": value[1]}, f"{name}."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
            # NaN (an undefined AUC on one class) is left out: MLflow cannot chart it.
            flat[name] = float(value)
    return flat


def _is_interval(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(v is None or isinstance(v, (int, float)) for v in value)
    )
