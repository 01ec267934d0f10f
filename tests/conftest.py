"""Suite-wide safety: tests never write to the project's mlruns/ or data/, and never call home."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

_MLFLOW_HOME = Path(tempfile.mkdtemp(prefix="shiprisk-tests-mlflow-"))


def pytest_configure(config: pytest.Config) -> None:
    # A test that forgets to choose its own store lands here, never in mlruns/.
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{_MLFLOW_HOME / 'mlflow.db'}"
    # An app built without a database URL keeps its store here, never in the checkout's data/.
    os.environ["SHIPRISK_DATA_DIR"] = str(_MLFLOW_HOME / "data")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    # Idle OpenMP threads sleep instead of spinning: on a busy 2-core machine spinning
    # LightGBM threads slow each other down tenfold. Must be set before lightgbm loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@pytest.fixture(scope="session", autouse=True)
def _in_process_apps_skip_heap_settling() -> Iterator[None]:
    """In-process apps start without `settle_heap`: a full collection of the test session's
    heap (every test module and fixture) costs about a second per app start, and most service
    tests start an app of their own. The servers tests start in their own processes settle
    theirs, and the test that checks settling asks for `heap_settling`."""
    import serving.lifespan
    import serving.model.routes

    patch = pytest.MonkeyPatch()
    for module in (serving.lifespan, serving.model.routes):
        patch.setattr(module, "settle_heap", lambda: None)
    yield
    patch.undo()


@pytest.fixture
def heap_settling(monkeypatch: pytest.MonkeyPatch) -> None:
    """The apps of this test settle their heap at start and after a reload, as in production."""
    import serving.lifespan
    import serving.model.routes
    from serving.model.heap import settle_heap

    for module in (serving.lifespan, serving.model.routes):
        monkeypatch.setattr(module, "settle_heap", settle_heap)


# Small synthetic data shared by the tests that train: 100 days from 2024-01-01.
SYNTH_START = "2024-01-01"
SYNTH_DAYS = 100
SYNTH_ROWS_PER_DAY = 300
SYNTH_SPLIT = {
    "train": ["2024-01-01", "2024-02-29"],
    "valid": ["2024-03-01", "2024-03-25"],
    "test": ["2024-03-26", "2024-04-09"],
}
# One thread and a reduced search keep a training run to seconds on a shared 2-core machine.
FAST_MODEL = {"num_threads": 1, "sizes": ["small", "medium"], "num_boost_round": 300}


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic declarations, outcomes, watchlist and truth as Parquet, generated once."""
    from training.synthetic import generate

    directory = tmp_path_factory.mktemp("synthetic")
    generate(
        directory, start=SYNTH_START, days=SYNTH_DAYS, seed=11, rows_per_day=SYNTH_ROWS_PER_DAY
    )
    return directory


def write_config(
    path: Path,
    data_dir: Path,
    *,
    split: dict[str, list[str]] | None = None,
    model: dict[str, object] | None = None,
    **source_overrides: object,
) -> Path:
    """A training configuration for the synthetic tables in ``data_dir``, written as YAML."""
    import yaml

    from training.synthetic import TABLES, training_config

    config = training_config(
        {table: data_dir / f"{table}.parquet" for table in TABLES},
        split or SYNTH_SPLIT,
        evaluation={"inspection_rates": [0.01, 0.02, 0.05, 0.1]},
        model=FAST_MODEL if model is None else model,
    )
    config["source"].update(source_overrides)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture
def tracking_uri(tmp_path: Path) -> Iterator[str]:
    """A private MLflow store for one test; MLflow's global URIs are restored afterwards."""
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    yield uri
    mlflow.set_tracking_uri(previous[0])
    mlflow.set_registry_uri(previous[1])


# -- the service and web tests' registered model ----------------------------------------------

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
    # Imported here, not at the top: lightgbm must load after pytest_configure set its env.
    import mlflow
    import pandas as pd
    import yaml

    from models import registry
    from training.config import load_config
    from training.pipeline import train
    from training.synthetic import generate, training_config

    root = tmp_path_factory.mktemp("serving-model")
    tables = generate(root / "data", start="2024-01-01", days=60, rows_per_day=150, seed=3)
    config_path = root / "config.yaml"
    split = {
        "train": ["2024-01-01", "2024-01-31"],
        "valid": ["2024-02-01", "2024-02-14"],
        "test": ["2024-02-15", "2024-02-29"],
    }
    config = training_config(tables, split, evaluation={"inspection_rates": [0.05, 0.1]})
    config_path.write_text(yaml.safe_dump(config))
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


@pytest.fixture(scope="session")
def dask_scheduler() -> Iterator[str]:
    """A 2-worker LocalCluster (processes, one thread each) shared by the Dask tests."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address
