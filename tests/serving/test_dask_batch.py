"""`shiprisk score --dask`: the same scores as one process, on a 2-worker LocalCluster."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from features.validation import DataValidationError
from models.bundle import ModelBundle
from models.cluster import dask_client
from serving import cli as serving_cli
from serving.scoring.batch import BatchSummary, score_file
from serving.scoring.dask_batch import SUCCESS_FILE, score_on_dask
from tests.conftest import TrainedModel

runner = CliRunner()


def shiprisk_app() -> typer.Typer:
    app = typer.Typer()
    serving_cli.register(app)
    return app


def score_partitions(
    scheduler: str, source: Path, output: Path, bundle_dir: Path, **options: object
) -> BatchSummary:
    """score_on_dask with a client of ``scheduler``."""
    with dask_client(scheduler) as client:
        return score_on_dask(
            client, str(source), str(output), bundle_dir, "shiprisk", "local", **options
        )


def one_process_scores(trained: TrainedModel, source: Path, tmp_path: Path) -> pd.DataFrame:
    output = tmp_path / "one.parquet"
    bundle = ModelBundle.load(trained.bundle_dir)
    score_file(source, output, bundle, "shiprisk", "local", top_k=3, chunk_rows=1000)
    return pd.read_parquet(output)


def assert_same_scores(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    got = got.set_index("declaration_id").loc[expected["declaration_id"]].reset_index()
    assert list(got.columns) == list(expected.columns)
    risks = [c for c in expected.columns if c.startswith("risk_")] + ["overall"]
    np.testing.assert_allclose(got[risks], expected[risks], rtol=0, atol=1e-12)
    assert got["lane"].tolist() == expected["lane"].tolist()
    for mine, theirs in zip(got["reasons"], expected["reasons"], strict=True):
        a, b = json.loads(mine), json.loads(theirs)
        assert [r["feature"] for r in a] == [r["feature"] for r in b]
        np.testing.assert_allclose(
            [r["contribution"] for r in a], [r["contribution"] for r in b], rtol=0, atol=1e-12
        )


def test_csv_partitions_on_two_workers_score_as_one_process(
    trained: TrainedModel, dask_scheduler: str, tmp_path: Path
) -> None:
    source = tmp_path / "declarations.csv"
    pd.read_parquet(trained.declarations_path).to_csv(source, index=False)
    expected = one_process_scores(trained, source, tmp_path)
    output = tmp_path / "scores"
    summary = score_partitions(
        dask_scheduler, source, output, trained.bundle_dir, top_k=3, partition_size=8_000
    )
    parts = sorted(output.glob("part-*.parquet"))
    assert len(parts) > 2  # small partitions: the work really was split
    got = pd.concat([pd.read_parquet(part) for part in parts], ignore_index=True)
    assert got["declaration_id"].tolist() == expected["declaration_id"].tolist()  # input order
    assert_same_scores(got, expected)
    assert summary.rows == len(expected)
    assert summary.lanes == expected["lane"].value_counts().to_dict()
    assert json.loads((output / SUCCESS_FILE).read_text())["rows"] == len(expected)


def test_score_command_on_dask_writes_parquet_parts(
    trained: TrainedModel, dask_scheduler: str, tmp_path: Path
) -> None:
    expected = one_process_scores(trained, trained.declarations_path, tmp_path)
    output = tmp_path / "scores"
    result = runner.invoke(
        shiprisk_app(),
        [
            "score",
            "-i",
            str(trained.declarations_path),
            "-o",
            str(output),
            "--top-k",
            "3",
            "--model",
            str(trained.bundle_dir),
        ],
        env={"SHIPRISK_DASK_SCHEDULER": dask_scheduler},
    )
    assert result.exit_code == 0, result.output
    assert f"wrote {len(expected)} scored declarations" in " ".join(result.output.split())
    assert_same_scores(pd.read_parquet(output), expected)


def test_a_bad_row_on_a_worker_is_numbered_from_the_start_of_the_input(
    trained: TrainedModel, dask_scheduler: str, tmp_path: Path
) -> None:
    raw = pd.read_parquet(trained.declarations_path)
    raw.loc[100, "hs_code"] = "not-a-code"
    source = tmp_path / "declarations.csv"
    raw.to_csv(source, index=False)
    output = tmp_path / "scores"
    with pytest.raises(DataValidationError) as error:
        score_partitions(dask_scheduler, source, output, trained.bundle_dir, partition_size=8_000)
    assert [problem.rows for problem in error.value.problems] == [(101,)]
    assert not list(output.glob("part-*")) and not (output / SUCCESS_FILE).exists()


def test_a_changed_bundle_is_refused_before_any_worker_scores(
    trained: TrainedModel, dask_scheduler: str, tmp_path: Path
) -> None:
    import shutil

    from models.manifest import BundleIntegrityError

    changed = tmp_path / "bundle"
    shutil.copytree(trained.bundle_dir, changed)
    models = next(changed.rglob("*.txt"))
    models.write_text(models.read_text() + "\n")
    with pytest.raises(BundleIntegrityError):
        score_partitions(dask_scheduler, trained.declarations_path, tmp_path / "out", changed)
