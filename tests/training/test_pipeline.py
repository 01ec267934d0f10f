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

from features.columns import DeclarationColumns
from features.dataset import load_dataset
from features.live import live_point_in_time
from features.validation import DataValidationError
from models.registry import load_bundle
from training.config import load_config
from training.evaluation import bundle_metrics
from training.fit import FitSettings
from training.pipeline import fit_run, train
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
    # Issue 14: what the risk is a rate of, and a bootstrap interval beside every rate metric.
    assert written["risk_basis"] == "all_declarations"
    assert written["intervals"] == {
        "method": "bootstrap",
        "resamples": 300,
        "level": 0.95,
        "seed": 42,
    }
    for values in [*written["threats"].values(), *written["baselines"]["rules"].values()]:
        for key in ("precision_at", "recall_at", "revenue_at"):
            assert list(values[f"{key}_interval"]) == RATES
            for rate in RATES:
                lo, hi = values[f"{key}_interval"][rate]
                if values[key][rate] is not None and lo is not None:
                    assert lo - 1e-12 <= values[key][rate] <= hi + 1e-12, (key, rate)


def test_precision_at_matches_a_recount_from_the_bundle(first, config_path: Path) -> None:
    """The metrics file agrees with scoring the test window through the bundle again."""
    result, _ = first
    config = load_config(config_path)
    dataset = load_dataset(config.source)
    test = dataset.declarations["lodged_at"].dt.strftime("%Y-%m-%d") >= "2024-03-26"
    # Each declaration with the entity history and watchlist hits it had at lodging, as the
    # evaluation scores it (and as the service would have).
    live = live_point_in_time(
        DeclarationColumns(dataset.declarations),
        dataset.labels,
        list(result.bundle.builder.threats),
        dataset.watchlist,
    ).take(np.flatnonzero(test.to_numpy()))
    risk = result.bundle.risk_frame(dataset.declarations[test], live=live)
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
    lo = run.data.metrics["test.revenue.precision_at_interval.0.05.lo"]
    hi = run.data.metrics["test.revenue.precision_at_interval.0.05.hi"]
    assert lo <= result.metrics["threats"]["revenue"]["precision_at"]["0.05"] <= hi
    shap_files = {a.path for a in client.list_artifacts(result.run_id, "shap/explanations")}
    assert {f"shap/explanations/{t}.{ext}" for t in ("revenue",) for ext in ("npz", "json")} <= (
        shap_files
    )
    assert any(
        a.path.endswith("revenue_beeswarm.png")
        for a in client.list_artifacts(result.run_id, "shap/plots")
    )
    card = mlflow.artifacts.load_text(f"runs:/{result.run_id}/model_card.md")
    assert "Risk basis: `all_declarations`" in card
    # The correction measured on the data itself: mean risk beside the Horvitz-Thompson rate
    # of the test window's known-probability picks, and what no weighting can correct.
    mean = result.metrics["threats"]["revenue"]["mean_risk"]
    estimated = result.metrics["hit_rates"]["revenue"]["estimated_rate"]
    assert f"| revenue | {mean:.3g} | {estimated:.3g} (" in card
    assert f"| {mean / estimated:.2f} |" in card
    assert "What no weighting corrects" in card
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
    # The key serving shows beside every risk (issue 14), in the metadata and the manifest.
    assert bundle.metadata["risk_basis"] == "all_declarations"
    assert (
        bundle.manifest is not None and bundle.manifest.metadata["risk_basis"] == "all_declarations"
    )


def test_same_config_and_seed_give_the_same_metrics_and_promotion_gates(
    first, config_path: Path, store: str, tmp_path: Path, synthetic_dir: Path
) -> None:
    result, _ = first
    second = train(load_config(config_path), tracking_uri=store)
    assert second.version == "2"
    assert second.metrics["threats"] == result.metrics["threats"]

    assert promote("shiprisk", "1").previous is None
    promotion = promote("shiprisk", "2")  # the same model: no difference at all
    assert promotion.previous == "1"
    assert set(promotion.comparison) == {"weapons", "migrants", "revenue"}
    for compared in promotion.comparison.values():
        assert compared["difference"] == 0.0 and compared["interval"] == [0.0, 0.0]

    older = write_config(
        tmp_path / "older.yaml",
        synthetic_dir,
        split={
            "train": ["2024-01-01", "2024-02-20"],
            "valid": ["2024-02-21", "2024-03-15"],
            "test": ["2024-03-16", "2024-04-09"],
        },
    )
    third = train(load_config(older), tracking_uri=store)
    forced = promote("shiprisk", third.version, force=True, reason="older windows, for the test")
    assert forced.forced and forced.previous == "2" and forced.comparison == {}
    client = MlflowClient(tracking_uri=store)
    tags = client.get_model_version("shiprisk", third.version).tags
    assert tags["shiprisk.promotion_forced"] == "true"
    assert tags["shiprisk.promotion_reason"] == "older windows, for the test"

    back = rollback("shiprisk")
    assert back.version == "2"
    assert str(client.get_model_version_by_alias("shiprisk", "champion").version) == "2"

    # A retrain on newer data (version 2's windows are newer than version 3's) is compared
    # on its own test window and promoted without --force; the old gate refused it as
    # "tested on another window".
    promote("shiprisk", third.version, force=True, reason="champion on older windows")
    newer = promote("shiprisk", "2")
    assert not newer.forced and newer.previous == third.version
    assert set(newer.comparison) == {"weapons", "migrants", "revenue"}
    for compared in newer.comparison.values():
        assert compared["interval"][1] >= 0.0
    tags = client.get_model_version("shiprisk", "2").tags
    assert json.loads(tags["shiprisk.promotion_evidence"]).keys() == newer.comparison.keys()


def _register_like(bundle, run_id: str, store: str, directory: Path) -> str:
    """Register ``bundle`` in a run that logged the same configuration and data as ``run_id``."""
    from models import registry

    client = MlflowClient(tracking_uri=store)
    source = client.get_run(run_id)
    config = json.loads(mlflow.artifacts.load_text(f"runs:/{run_id}/config/config.json"))
    bundle.save(directory)
    with mlflow.start_run(experiment_id=source.info.experiment_id):
        mlflow.set_tags({"shiprisk.data_sha256": source.data.tags["shiprisk.data_sha256"]})
        mlflow.log_dict(config, "config/config.json")
        return registry.log_bundle(directory, registered_model_name="shiprisk")


def test_a_worse_version_is_refused_by_promote(first, store: str, tmp_path: Path) -> None:
    """A bundle whose boosters rank the wrong threats is refused, and the champion stays."""
    from models.bundle import ModelBundle

    result, _ = first
    mlflow.set_tracking_uri(store)
    mlflow.set_registry_uri(store)
    client = MlflowClient(tracking_uri=store)
    promote("shiprisk", "1", force=True, reason="a known champion for this test")
    good = result.bundle
    threats = list(good.threats)
    rotated = {t: good.boosters[threats[(i + 1) % len(threats)]] for i, t in enumerate(threats)}
    worse = ModelBundle(
        good.builder, rotated, good.calibrators, good.lanes, good.features, good.metadata
    )
    version = _register_like(worse, result.run_id, store, tmp_path / "worse")
    with pytest.raises(PromotionError, match="is worse than champion version 1") as refused:
        promote("shiprisk", version)
    assert "revenue" in str(refused.value)
    assert str(client.get_model_version_by_alias("shiprisk", "champion").version) == "1"
    assert "shiprisk.promotion_forced" not in client.get_model_version("shiprisk", version).tags


def test_compare_bundles_finds_a_worse_ranking_beyond_its_interval(
    first, config_path: Path
) -> None:
    from training.promotion import compare_bundles, worse_threats
    from training.splits import split_positions, windows_from_config

    result, _ = first
    config = load_config(config_path)
    dataset = load_dataset(config.source)
    windows = windows_from_config(config.split)
    test = split_positions(dataset.declarations, dataset.labels, windows)["test"]
    same = compare_bundles(result.bundle, result.bundle, dataset, test, [0.05, 0.1])
    assert worse_threats(same) == []
    assert all(c["difference"] == 0.0 for c in same.values())

    class Reversed:
        """The same bundle ranking revenue backwards."""

        threats = result.bundle.threats
        calibrators = result.bundle.calibrators

        def margins(self, declarations, *, live=None):
            margins = result.bundle.margins(declarations, live=live)
            margins["revenue"] = -margins["revenue"]
            return margins

    reversed_ = compare_bundles(Reversed(), result.bundle, dataset, test, [0.05, 0.1])
    assert worse_threats(reversed_) == ["revenue"]
    lo, hi = reversed_["revenue"]["interval"]
    assert lo <= reversed_["revenue"]["difference"] <= hi < 0


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


def test_history_features_from_the_whole_tables_live_inputs_equal_their_own(
    first, config_path: Path
) -> None:
    """fit_run builds every declaration's live inputs once and gives the history rows (up to
    the valid window's end) their share: later declarations must not change what an earlier
    one saw at lodging."""
    result, _ = first
    dataset = load_dataset(load_config(config_path).source)
    declarations, labels = dataset.declarations, dataset.labels
    builder = result.bundle.builder
    lodged = declarations["lodged_at"].dt.tz_convert("UTC").dt.date
    history = np.flatnonzero(np.asarray(lodged <= pd.Timestamp("2024-03-25").date()))
    assert 0 < len(history) < len(declarations)
    own = builder.transform_point_in_time(
        declarations.iloc[history], labels.iloc[history], dataset.watchlist
    )
    everyone = builder.live_point_in_time(declarations, labels, dataset.watchlist)
    shared = builder.transform_point_in_time(
        declarations.iloc[history],
        labels.iloc[history],
        dataset.watchlist,
        live=everyone.take(history),
    )
    pd.testing.assert_frame_equal(shared, own)
    # The inputs do carry history: some importer was seen before its declaration.
    assert (own["importer_declarations"] > 0).any()
