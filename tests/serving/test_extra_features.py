"""A model trained on an export's own columns, with extra ``x_`` features, scores everywhere.

The model is trained through `configs/research.yaml` (its extra features: Import Type, Import
Use, Payment Type, Tax Type, Country of Origin Indicator) on a small research-style export of
the synthetic data. The API, `shiprisk score` (canonical columns, or the export's own columns
with `--config`) and the pyfunc give the risks the bundle gives on the training mapping's
frame; before, those paths dropped the ``x_`` columns and failed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from features.dataset import load_dataset
from models.bundle import ModelBundle
from serving.app import create_app
from serving.model.holder import local_loader
from serving.settings import ServiceSettings
from tests.serving.access_keys import KeyedClient as TestClient  # one key per role
from tests.serving.conftest import json_payload
from tests.serving.test_cli import shiprisk_app
from tests.training.test_research_format import research_config, research_export
from training.config import load_config
from training.fit import FitSettings
from training.pipeline import fit_run
from training.synthetic import generate

SPLIT = {
    "train": ["2024-01-01", "2024-02-29"],
    "valid": ["2024-03-01", "2024-03-25"],
    "test": ["2024-03-26", "2024-04-09"],
}
TINY_MODEL = {"num_threads": 1, "sizes": ["small"], "num_boost_round": 80, "select_groups": False}
SCORED = 60  # declarations of the test window scored on every path
runner = CliRunner()


@dataclass(frozen=True)
class ResearchModel:
    """A bundle trained through the research mapping, the export file and the config."""

    bundle_dir: Path
    bundle: ModelBundle
    config: Path
    export: pd.DataFrame  # the export's own columns, as text (the last SCORED rows)
    canonical: pd.DataFrame  # the same rows as the training mapping reads them
    expected: pd.DataFrame  # the bundle's risks on them


@pytest.fixture(scope="module")
def research(tmp_path_factory: pytest.TempPathFactory) -> ResearchModel:
    root = tmp_path_factory.mktemp("research")
    generate(root / "synthetic", start="2024-01-01", days=100, seed=5, rows_per_day=100)
    research_export(root / "synthetic", root / "export")
    path = research_config(root / "export", root / "research.yaml", split=SPLIT, model=TINY_MODEL)
    training = load_config(path)
    dataset = load_dataset(training.source)
    run = fit_run(training, dataset, FitSettings.from_config(training.model))
    assert run.bundle.extra_features[0]  # the mapping's extra columns are model features
    # As training writes it when selection probabilities allowed the correction (issue 14).
    run.bundle.metadata["risk_basis"] = "all_declarations"
    run.bundle.save(root / "bundle")
    bundle = ModelBundle.load(root / "bundle")
    export = pd.read_csv(root / "export" / "part-2.csv", dtype=str).tail(SCORED)
    canonical = dataset.declarations.tail(SCORED).reset_index(drop=True)
    return ResearchModel(
        root / "bundle", bundle, path, export, canonical, bundle.risk_frame(canonical)
    )


def assert_same_risks(scores: pd.DataFrame, research: ResearchModel) -> None:
    assert scores["declaration_id"].astype(str).tolist() == (
        research.canonical["declaration_id"].tolist()
    )
    for threat in research.bundle.threats:
        column = f"risk_{threat}"
        assert scores[column].to_numpy() == pytest.approx(
            research.expected[column].to_numpy(), abs=1e-12
        )


@contextmanager
def serving(research: ResearchModel, database: Path) -> Iterator[TestClient]:
    """The service with the research bundle, on an empty store of its own."""
    settings = ServiceSettings(
        model_uri=str(research.bundle_dir),
        num_threads=1,
        database_url=f"sqlite:///{database}",
    )
    with TestClient(create_app(settings, loader=local_loader)) as test_client:
        yield test_client


@pytest.fixture
def client(research: ResearchModel, tmp_path: Path) -> Iterator[TestClient]:
    with serving(research, tmp_path / "store.db") as test_client:
        yield test_client


def api_scores(client: TestClient, declarations: list[dict[str, object]]) -> pd.DataFrame:
    response = client.post("/v1/scores", json={"declarations": declarations, "top_k": 1})
    assert response.status_code == 200, response.text
    return pd.DataFrame(
        [
            {
                "declaration_id": r["declaration_id"],
                **{f"risk_{t}": v for t, v in r["risk"].items()},
            }
            for r in response.json()["results"]
        ]
    )


def test_the_api_scores_with_the_extra_features_as_text_or_json_numbers(
    client: TestClient, research: ResearchModel, tmp_path: Path
) -> None:
    payload = json_payload(research.canonical)
    assert all("x_import_type" in record for record in payload)
    assert_same_risks(api_scores(client, payload), research)
    # Codes sent as JSON numbers read as the same codes (as the mapping reads a number column).
    as_numbers = [
        {k: int(v) if k == "x_import_type" else v for k, v in record.items()}
        for record in json_payload(research.canonical)
    ]
    # On an empty store again: a re-scoring reads the first scoring's declarations as history.
    with serving(research, tmp_path / "numbers.db") as fresh:
        assert_same_risks(api_scores(fresh, as_numbers), research)


def test_the_api_reads_a_left_out_extra_feature_as_missing(
    client: TestClient, research: ResearchModel
) -> None:
    record = json_payload(research.canonical.head(1))[0]
    left_out = {k: v for k, v in record.items() if k != "x_import_type"}
    missing = research.canonical.head(1).assign(x_import_type=math.nan)
    expected = research.bundle.risk_frame(missing)
    scores = api_scores(client, [left_out])
    for threat in research.bundle.threats:
        assert scores[f"risk_{threat}"][0] == pytest.approx(
            expected[f"risk_{threat}"][0], abs=1e-12
        )


def score_command(research: ResearchModel, source: Path, out: Path, *extra: str) -> Any:
    """`shiprisk score` of ``source`` into ``out`` with the research model, reading live
    inputs from an empty store beside ``out`` (as the API's scores in these tests do)."""
    command = ["score", "-i", str(source), "-o", str(out), "--model", str(research.bundle_dir)]
    store = {"SHIPRISK_DATABASE_URL": f"sqlite:///{out.parent / 'batch.db'}"}
    return runner.invoke(shiprisk_app(), [*command, *extra], env=store)


def scored_file(research: ResearchModel, source: Path, out: Path, *extra: str) -> pd.DataFrame:
    """`score_command` that succeeded, and the file it wrote (CSV or Parquet)."""
    result = score_command(research, source, out, *extra)
    assert result.exit_code == 0, result.output
    if out.suffix == ".parquet":
        return pd.read_parquet(out)
    return pd.read_csv(out, dtype={"declaration_id": str})


def refused_file(research: ResearchModel, source: Path, out: Path, *extra: str) -> str:
    """What `score_command` answered when it refused the file (exit code 2)."""
    result = score_command(research, source, out, *extra)
    assert result.exit_code == 2, result.output
    return str(result.output)


def test_batch_scoring_reads_an_export_through_the_training_mapping(
    research: ResearchModel, tmp_path: Path
) -> None:
    export = tmp_path / "to-score.csv"
    research.export.to_csv(export, index=False)
    out = tmp_path / "scores.parquet"
    assert_same_risks(
        scored_file(research, export, out, "--config", str(research.config)), research
    )

    # The same file without the mapping: its columns are not canonical, and the answer says so.
    assert "declaration_id" in refused_file(research, export, out)


def test_batch_scoring_of_canonical_columns_keeps_the_extra_features(
    research: ResearchModel, tmp_path: Path
) -> None:
    canonical = tmp_path / "canonical.csv"
    research.canonical.to_csv(canonical, index=False)
    out = tmp_path / "scores.csv"
    assert_same_risks(scored_file(research, canonical, out), research)

    # A file without a column the model reads is refused, naming the column.
    research.canonical.drop(columns="x_tax_type").to_csv(canonical, index=False)
    refused = refused_file(research, canonical, out)
    assert "x_tax_type" in refused and "extra feature column is missing" in refused


def test_the_pyfunc_scores_with_the_extra_features(research: ResearchModel) -> None:
    from models.pyfunc_model import ShipriskPyfuncModel

    model = ShipriskPyfuncModel()
    model.load_context(SimpleNamespace(artifacts={"bundle": str(research.bundle_dir)}))
    raw = pd.DataFrame(json_payload(research.canonical))
    assert_same_risks(model.predict(None, raw), research)


def test_requests_with_text_extra_features_batch_together(research: ResearchModel) -> None:
    from features.extras import validated_for_model
    from features.records import CanonicalRecords

    frame = research.canonical
    parts = [
        CanonicalRecords.from_frame(validated_for_model(part, research.bundle.extra_features))
        for part in (frame.head(20), frame.tail(SCORED - 20))
    ]
    together = CanonicalRecords.concat(parts)  # the scoring queue's batch of two requests
    assert together.columns.strings("x_import_type").tolist() == (frame["x_import_type"].tolist())
    scores = research.bundle.risk_frame(together)
    assert_same_risks(scores, research)


def test_the_risk_basis_of_the_bundle_is_shown_with_the_model_and_every_score(
    client: TestClient, research: ResearchModel
) -> None:
    assert client.get("/v1/model").json()["risk_basis"] == "all_declarations"
    response = client.post(
        "/v1/scores", json={"declarations": json_payload(research.canonical.head(1))}
    )
    assert response.json()["risk_basis"] == "all_declarations"


def test_a_bundle_without_a_risk_basis_reads_inspected_only() -> None:
    from serving.base import risk_basis

    assert risk_basis({}) == "inspected_only"  # trained before the correction existed
    assert risk_basis({"risk_basis": "all_declarations"}) == "all_declarations"
    assert risk_basis({"risk_basis": "something else"}) == "inspected_only"
