"""Training settings read the tracking store by the same rule as the service (one home:
models.tracking_uri): SHIPRISK_TRACKING_URI, the embedded store by default, MLflow's own
variable winning."""

from __future__ import annotations

import pytest

from serving.settings import ServiceSettings
from training.settings import TrainingSettings


@pytest.mark.parametrize(
    ("mlflow_uri", "shiprisk_uri", "expected"),
    [
        (None, None, "sqlite:///mlruns/mlflow.db"),
        (None, "sqlite:////srv/store.db", "sqlite:////srv/store.db"),
        (
            "http://tracking.internal:5000",
            "sqlite:////srv/store.db",
            "http://tracking.internal:5000",
        ),
    ],
)
def test_training_and_serving_find_the_same_tracking_store(
    monkeypatch: pytest.MonkeyPatch,
    mlflow_uri: str | None,
    shiprisk_uri: str | None,
    expected: str,
) -> None:
    for name, value in (
        ("MLFLOW_TRACKING_URI", mlflow_uri),
        ("SHIPRISK_TRACKING_URI", shiprisk_uri),
    ):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert TrainingSettings().resolved_tracking_uri() == expected
    assert ServiceSettings().resolved_tracking_uri() == expected


def test_model_name_and_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPRISK_MODEL_NAME", "shiprisk-ks")
    monkeypatch.setenv("SHIPRISK_DATA_DIR", "/srv/data")
    settings = TrainingSettings()
    assert (settings.model_name, str(settings.data_dir)) == ("shiprisk-ks", "/srv/data")
