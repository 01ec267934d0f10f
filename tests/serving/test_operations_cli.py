"""`shiprisk export` feeds training with selection probabilities; `shiprisk monitor` reports drift."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import typer
import yaml
from mlflow import MlflowClient
from typer.testing import CliRunner

from features.dataset import load_dataset
from features.live import LiveInputs
from features.sources import SourceConfig
from features.validation import validate_declarations
from models import registry
from models.bundle import DRIFT_REFERENCE_FILE, ModelBundle, verify_bundle
from models.monitoring import lane_shares, population_stability_index
from serving.inspections import service as operations
from serving.inspections.cli import export
from serving.model.cli import monitor
from serving.model.monitor import latest_drift
from serving.model.performance import latest_performance
from serving.store import scores
from serving.store.database import Store
from tests.serving.conftest import TrainedModel
from tests.serving.store_backends import store_url  # noqa: F401
from training.config import load_config

OFFICE = "RS-HORGOS"


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("export")(export)
    app.command("monitor")(monitor)
    return app


def scored_store(url: str, trained: TrainedModel) -> tuple[Store, pd.DataFrame]:
    """A store holding 30 scored declarations of one office and day, and their frame."""
    raw = pd.read_parquet(trained.declarations_path).head(30).reset_index(drop=True)
    raw["office_id"] = OFFICE
    raw["lodged_at"] = pd.Timestamp("2024-02-20T09:00:00Z")
    declarations = validate_declarations(raw)
    bundle = ModelBundle.load(trained.bundle_dir)
    store = Store.open(url)
    with store.transaction() as session:
        scores.record_scores(
            session,
            declarations,
            bundle.score(declarations, top_k=0, explain=False),
            model_name="shiprisk",
            model_version=trained.version,
        )
    return store, declarations


def test_export_gives_training_the_selection_probabilities(
    trained: TrainedModel,
    store_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    store, _ = scored_store(store_url, trained)
    draw = operations.worklist(store, OFFICE, date(2024, 2, 20), 20, operations.OperationsPolicy())
    assert draw.write is not None  # a new draw: its picks are recorded with the write
    with store.transaction() as session:
        draw.write(session)
    listed = draw.worklist
    drawn = next(p for p in listed.picks if p.reason == "random")
    top = listed.picks[0]
    operations.record_outcomes(
        store,
        pd.DataFrame(
            [
                {
                    "declaration_id": pick.declaration_id,
                    "inspected_at": "2024-02-20T15:00:00Z",
                    "result": "irregular" if pick is drawn else "clear",
                    "revenue_irregularity": pick is drawn,
                }
                for pick in (top, drawn)
            ]
        ),
    )
    store.close()

    result = CliRunner().invoke(
        cli(), ["export", "--out", str(tmp_path / "export"), "--database-url", store_url]
    )
    assert result.exit_code == 0, result.output
    assert "30 declarations" in result.output
    assert "2 outcomes (2 with a selection probability, 1 random picks)" in result.output

    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "source": {
                    "declarations": str(tmp_path / "export" / "declarations.parquet"),
                    "outcomes": str(tmp_path / "export" / "outcomes.parquet"),
                },
                "split": {
                    "train": ["2024-02-20", "2024-02-20"],
                    "valid": ["2024-02-21", "2024-02-21"],
                    "test": ["2024-02-22", "2024-02-22"],
                },
                "model": {"propensity_weights": True},
            }
        )
    )
    dataset = load_dataset(load_config(config).source)
    labels = dataset.labels.set_index(dataset.declarations["declaration_id"])
    assert labels["inspected"].sum() == 2
    assert labels.loc[drawn.declaration_id, "selection_probability"] == pytest.approx(
        drawn.selection_probability
    )
    assert labels.loc[drawn.declaration_id, "selection_reason"] == "random"
    assert labels.loc[drawn.declaration_id, "label_revenue"] == 1.0
    assert labels.loc[top.declaration_id, "selection_probability"] == 1.0
    assert labels.loc[top.declaration_id, "label_revenue"] == 0.0


def test_monitor_writes_the_report_logs_it_and_keeps_the_figures(
    store: TrainedModel,
    store_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    opened, _ = scored_store(store_url, store)
    draw = operations.worklist(
        opened, OFFICE, date(2024, 2, 20), 10, operations.OperationsPolicy(exploration_share=0.2)
    )
    assert draw.write is not None
    with opened.transaction() as session:
        draw.write(session)
    drawn = draw.worklist
    operations.record_outcomes(
        opened,
        pd.DataFrame(
            [
                {
                    "declaration_id": pick.declaration_id,
                    "inspected_at": "2024-02-20T15:00:00Z",
                    "result": "irregular" if pick.rank <= 3 else "clear",
                    "revenue_irregularity": pick.rank <= 3,
                }
                for pick in drawn.picks
            ]
        ),
    )
    opened.close()
    out = tmp_path / "report"
    result = CliRunner().invoke(cli(), ["monitor", "--out", str(out), "--database-url", store_url])
    assert result.exit_code == 0, result.output
    # Hit rates of the stored outcomes first: 8 model picks with 3 hits, 2 random picks.
    assert "performance over 1 week(s), 2024-02-19 to 2024-02-25 (10 inspected" in result.output
    assert "revenue: model picks 37.5% of 8, random picks 0.0% of 2" in result.output
    assert (out / "drift.png").read_bytes()[:4] == b"\x89PNG"
    text = (out / "drift.md").read_text()
    assert f"# Drift report: shiprisk version {store.version}" in text
    assert "(30 declarations)" in text

    client = MlflowClient(tracking_uri=store.tracking_uri)
    experiment = client.get_experiment_by_name("shiprisk-monitoring")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], order_by=["start_time DESC"])
    assert runs[0].data.tags["shiprisk.monitored_version"] == store.version
    assert "psi.overall" in runs[0].data.metrics
    assert runs[0].data.metrics["lane_share.recent.red"] + runs[0].data.metrics[
        "lane_share.recent.yellow"
    ] + runs[0].data.metrics["lane_share.recent.green"] == pytest.approx(1.0)

    reopened = Store.open(store_url)
    kept = latest_drift(reopened)
    performance = latest_performance(reopened)
    reopened.close()
    assert performance is not None
    assert performance["threats"]["revenue"]["window"]["model"]["hits"] == 3
    assert kept is not None
    assert kept["recent_rows"] == 30
    assert kept["score_psi"]["overall"] == pytest.approx(runs[0].data.metrics["psi.overall"])


def training_window(trained: TrainedModel, bundle: ModelBundle) -> tuple[pd.DataFrame, LiveInputs]:
    """The declarations of the session model's training window, read from its training data,
    with the entity history and watchlist hits each had at lodging."""
    data = trained.bundle_dir.parent / "data"
    source = SourceConfig(
        declarations=str(data / "declarations.parquet"),
        outcomes=str(data / "outcomes.parquet"),
        watchlist=str(data / "watchlist.parquet"),
    )
    dataset = load_dataset(source)
    declarations = dataset.declarations
    live = bundle.builder.live_point_in_time(declarations, dataset.labels, dataset.watchlist)
    day = declarations["lodged_at"].dt.tz_convert("UTC").dt.date.astype(str)
    rows = np.flatnonzero(((day >= "2024-01-01") & (day <= "2024-01-31")).to_numpy())
    return declarations.iloc[rows].reset_index(drop=True), live.take(rows)


def test_monitor_figures_from_the_bundle_equal_psi_against_the_training_data(
    store: TrainedModel,
    store_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The monitor reads no training file, yet gives the figures of a PSI computed directly
    from the training window: the reference the bundle keeps loses nothing.

    (Checked against the previous monitor, which scored the training data at monitoring
    time, when the reference moved into the bundle: the summaries were equal to the bit.)
    """
    opened, recent = scored_store(store_url, store)
    opened.close()
    out = tmp_path / "report"
    result = CliRunner().invoke(cli(), ["monitor", "--out", str(out), "--database-url", store_url])
    assert result.exit_code == 0, result.output
    figures = json.loads((out / "drift.json").read_text())

    bundle = ModelBundle.load(store.bundle_dir)
    assert (store.bundle_dir / DRIFT_REFERENCE_FILE).is_file()
    assert DRIFT_REFERENCE_FILE in verify_bundle(store.bundle_dir).files
    reference, reference_live = training_window(store, bundle)
    reference_matrix = bundle.matrix(reference, reference_live)
    recent_matrix = bundle.matrix(recent)  # scored outside the score route: no history counted
    categorical = set(bundle.builder.categorical_features_)
    expected_features = {
        feature: population_stability_index(
            reference_matrix[:, i], recent_matrix[:, i], categorical=feature in categorical
        )
        for i, feature in enumerate(bundle.features)
    }
    reference_scores = bundle.risk_frame(reference, live=reference_live)
    recent_scores = bundle.risk_frame(recent)
    expected_scores = {
        name: population_stability_index(
            reference_scores[name].to_numpy(dtype=float), recent_scores[name].to_numpy(dtype=float)
        )
        for name in [*(f"risk_{t}" for t in bundle.threats), "overall"]
    }
    assert figures["feature_psi"] == pytest.approx(expected_features, rel=1e-12, abs=1e-15)
    assert figures["score_psi"] == pytest.approx(expected_scores, rel=1e-12, abs=1e-15)
    assert figures["lane_shares"]["reference"] == lane_shares(reference_scores["lane"].tolist())
    assert figures["reference_rows"] == len(reference) > 1000
    assert figures["reference_window"] == {"start": "2024-01-01", "end": "2024-01-31"}
    assert max(expected_features.values()) > 0.01  # the comparison is not between zeros


def test_monitor_asks_to_retrain_a_model_without_a_drift_reference(
    store: TrainedModel,
    store_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    old = ModelBundle.load(store.bundle_dir)
    old.drift_reference = None  # as bundles were saved before they kept one
    old.save(tmp_path / "old")
    assert not (tmp_path / "old" / DRIFT_REFERENCE_FILE).exists()
    with mlflow.start_run():
        version = registry.log_bundle(
            tmp_path / "old", registered_model_name="shiprisk-before-references", alias=None
        )
    opened, _ = scored_store(store_url, store)
    opened.close()
    result = CliRunner().invoke(
        cli(),
        [
            "monitor",
            "--model",
            f"models:/shiprisk-before-references/{version}",
            "--database-url",
            store_url,
        ],
    )
    assert result.exit_code == 2
    assert f"/{version} (version {version}): this model carries no drift reference" in (
        " ".join(result.output.split())
    )
    assert "retrain it" in result.output


def test_monitor_without_recent_scores_says_what_to_do(
    store: TrainedModel,
    store_url: str,  # noqa: F811
) -> None:
    result = CliRunner().invoke(cli(), ["monitor", "--database-url", store_url, "--days", "3"])
    assert result.exit_code == 2
    assert "widen --days or score declarations first" in result.output
