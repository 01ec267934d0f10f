"""End to end: synthetic data -> train -> MLflow run and registry -> promote and roll back."""

from __future__ import annotations

import json
import math
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from features.sources import load_dataset
from features.validation import DataValidationError
from models.registry import load_bundle
from training.config import load_config
from training.fit import FitSettings
from training.pipeline import bundle_metrics, fit_run, train
from training.promotion import PromotionError, promote, rollback
from training.splits import SplitError

from ..conftest import write_config

pytestmark = pytest.mark.slow
RATES = ["0.01", "0.02", "0.05", "0.1"]


@pytest.fixture(scope="module")
def config_path(synthetic_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_config(tmp_path_factory.mktemp("config") / "train.yaml", synthetic_dir)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One MLflow store for the whole module: versions 1, 2, 3 build on each other."""
    root = tmp_path_factory.mktemp("store")
    return f"sqlite:///{root / 'mlflow.db'}"


@pytest.fixture(scope="module")
def first(config_path: Path, store: str, tmp_path_factory: pytest.TempPathFactory):
    metrics_out = tmp_path_factory.mktemp("out") / "metrics.json"
    result = train(
        load_config(config_path),
        tracking_uri=store,
        config_path=config_path,
        metrics_out=metrics_out,
    )
    return result, metrics_out


def test_metrics_file_has_the_design_shape(first) -> None:
    result, metrics_out = first
    written = json.loads(metrics_out.read_text())
    assert written["model"] == {"name": "shiprisk", "version": "1", "run_id": result.run_id}
    assert written["n_test"] > 100
    assert set(written["threats"]) == {"weapons", "migrants", "revenue"}
    for values in written["threats"].values():
        assert list(values["precision_at"]) == RATES
        assert list(values["recall_at"]) == RATES
        assert list(values["revenue_at"]) == RATES
        for rate in RATES:
            assert 0.0 <= values["precision_at"][rate] <= 1.0
            share = values["revenue_at"][rate]
            assert share is None or 0.0 <= share <= 1.0
        assert values["roc_auc"] is None or 0.0 <= values["roc_auc"] <= 1.0
    assert set(written["baselines"]) == {"logistic_regression", "rules"}
    assert set(written["baselines"]["rules"]) == set(written["threats"])
    for threat, rates in written["hit_rates"].items():
        assert rates["declarations"] == written["n_test_declarations"]
        assert rates["inspected"] == written["n_test"], threat
        assert rates["random_selected"] > 0
    # Revenue is common enough to be learned from 60 days: clearly better than chance.
    assert written["threats"]["revenue"]["roc_auc"] > 0.7


def test_precision_at_matches_a_recount_from_the_bundle(first, config_path: Path) -> None:
    """The metrics file agrees with scoring the test window through the bundle again."""
    result, _ = first
    config = load_config(config_path)
    dataset = load_dataset(config.source)
    test = dataset.declarations["lodged_at"].dt.strftime("%Y-%m-%d") >= "2024-03-26"
    risk = result.bundle.risk_frame(dataset.declarations[test])
    labels = dataset.labels[test]
    y = labels["label_revenue"].to_numpy()
    mask = ~np.isnan(y)
    n = int(mask.sum())
    k = math.ceil(0.05 * n)
    order = np.argsort(-risk["risk_revenue"].to_numpy()[mask], kind="stable")[:k]
    expected = y[mask][order].mean()
    assert result.metrics["threats"]["revenue"]["precision_at"]["0.05"] == pytest.approx(expected)


def test_run_records_config_fingerprint_artifacts_and_alias(first, store: str) -> None:
    result, _ = first
    client = MlflowClient(tracking_uri=store)
    run = client.get_run(result.run_id)
    assert run.data.params["test_window"] == "2024-03-26..2024-04-09"
    assert len(run.data.tags["shiprisk.data_sha256"]) == 64
    assert run.data.metrics["test.revenue.roc_auc"] == pytest.approx(
        result.metrics["threats"]["revenue"]["roc_auc"]
    )
    artifacts = {a.path for a in client.list_artifacts(result.run_id)}
    assert {"plots", "config", "metrics", "model_card.md", "data_fingerprint.json"} <= artifacts
    plots = {a.path for a in client.list_artifacts(result.run_id, "plots")}
    assert plots == {"plots/rates.png", "plots/calibration.png", "plots/shap_summary.png"}
    card = mlflow.artifacts.load_text(f"runs:/{result.run_id}/model_card.md")
    assert "## Intended use" in card and "## Human oversight" in card
    assert "2024-03-26 to 2024-04-09" in card
    assert str(client.get_model_version_by_alias("shiprisk", "challenger").version) == "1"


def test_registered_bundle_scores_like_the_evaluation(first, config_path: Path, store: str) -> None:
    """Offline/registry parity: the registered bundle gives the training run's risks."""
    result, _ = first
    mlflow.set_tracking_uri(store)
    mlflow.set_registry_uri(store)
    bundle, name, version = load_bundle("models:/shiprisk@challenger")
    assert (name, version) == ("shiprisk", "1")
    dataset = load_dataset(load_config(config_path).source)
    sample = dataset.declarations.tail(300)
    pd.testing.assert_frame_equal(
        bundle.risk_frame(sample), result.bundle.risk_frame(sample), rtol=0, atol=1e-12
    )


def test_same_config_and_seed_give_the_same_metrics_and_promotion_gates(
    first, config_path: Path, store: str, tmp_path: Path, synthetic_dir: Path
) -> None:
    result, _ = first
    second = train(load_config(config_path), tracking_uri=store)
    assert second.version == "2"
    assert second.metrics["threats"] == result.metrics["threats"]

    assert promote("shiprisk", "1").previous is None
    promotion = promote("shiprisk", "2")  # identical metrics: at least as good
    assert promotion.previous == "1"
    assert set(promotion.comparison) == {"weapons", "migrants", "revenue"}

    shifted = write_config(
        tmp_path / "shifted.yaml",
        synthetic_dir,
        split={
            "train": ["2024-01-01", "2024-02-20"],
            "valid": ["2024-02-21", "2024-03-15"],
            "test": ["2024-03-16", "2024-04-09"],
        },
    )
    third = train(load_config(shifted), tracking_uri=store)
    with pytest.raises(PromotionError, match="cannot be compared"):
        promote("shiprisk", third.version)
    forced = promote("shiprisk", third.version, force=True, reason="new test window agreed")
    assert forced.forced and forced.previous == "2"
    client = MlflowClient(tracking_uri=store)
    tags = client.get_model_version("shiprisk", third.version).tags
    assert tags["shiprisk.promotion_forced"] == "true"
    assert tags["shiprisk.promotion_reason"] == "new test window agreed"

    back = rollback("shiprisk")
    assert back.version == "2"
    assert str(client.get_model_version_by_alias("shiprisk", "champion").version) == "2"


def test_a_worse_version_is_not_promoted() -> None:
    from training.promotion import compare

    champion = {"threats": {"revenue": {"precision_at": {"0.05": 0.5}, "pr_auc": 0.4}}}
    worse = {"threats": {"revenue": {"precision_at": {"0.05": 0.4}, "pr_auc": 0.6}}}
    comparison = compare(worse, champion)
    assert comparison["revenue"]["candidate"] < comparison["revenue"]["champion"]
    missing = compare({"threats": {}}, champion)
    assert missing["revenue"]["candidate"] == float("-inf")


def test_bad_mapping_stops_before_anything_is_tracked(
    synthetic_dir: Path, tmp_path: Path, tracking_uri: str
) -> None:
    config = write_config(tmp_path / "bad.yaml", synthetic_dir, columns={"hs_code": "HS Code"})
    with pytest.raises(ValueError, match="HS Code"):
        train(load_config(config), tracking_uri=tracking_uri)
    db = Path(tracking_uri.removeprefix("sqlite:///"))
    assert not db.exists(), "nothing may be written to MLflow when the mapping is wrong"


def test_bad_data_stops_with_the_validation_message(
    synthetic_dir: Path, tmp_path: Path, tracking_uri: str
) -> None:
    declarations = pd.read_parquet(synthetic_dir / "declarations.parquet")
    declarations["lodged_at"] = declarations["lodged_at"].astype(str)
    declarations.loc[5, "lodged_at"] = "31/02/2024"
    declarations.loc[9, "net_mass_kg"] = -3.0
    bad = tmp_path / "declarations.parquet"
    declarations.to_parquet(bad)
    config = write_config(tmp_path / "bad.yaml", synthetic_dir, declarations=str(bad))
    with pytest.raises(DataValidationError) as caught:
        train(load_config(config), tracking_uri=tracking_uri)
    message = str(caught.value)
    assert (
        "declarations.parquet, column 'lodged_at': date does not parse in 1 row; "
        "first rows 6 with values '31/02/2024'" in message
    )
    assert (
        "column 'net_mass_kg': negative value in 1 row; first rows 10 with values -3.0" in message
    )
    assert not Path(tracking_uri.removeprefix("sqlite:///")).exists()


def test_a_window_outside_the_data_is_named(synthetic_dir: Path, tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "late.yaml",
        synthetic_dir,
        split={
            "train": ["2024-01-01", "2024-02-29"],
            "valid": ["2024-03-01", "2024-03-31"],
            "test": ["2025-01-01", "2025-01-31"],
        },
    )
    dataset = load_dataset(load_config(config).source)
    with pytest.raises(
        SplitError, match=r"split.test \[2025-01-01 .. 2025-01-31\] holds no declarations"
    ):
        fit_run(load_config(config), dataset, FitSettings(num_threads=1))


def test_bundle_metrics_count_only_labelled_declarations(first, config_path: Path) -> None:
    result, _ = first
    dataset = load_dataset(load_config(config_path).source)
    positions = np.arange(len(dataset.declarations))
    metrics, slices = bundle_metrics(result.bundle, dataset, positions, [0.05])
    assert metrics["n_test"] == int(dataset.labels["inspected"].sum())
    assert metrics["threats"]["revenue"]["n"] == int(dataset.labels["label_revenue"].notna().sum())
    assert set(slices["revenue"]) == {"office_id", "origin_country", "hs_chapter"}
