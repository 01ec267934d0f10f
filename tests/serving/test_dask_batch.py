"""`shiprisk score --dask`: the same scores as one process, on a 2-worker LocalCluster, with
the live inputs (entity history, watchlist) each worker reads from the operational store."""

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
from serving.scoring.batch import BatchInputError, BatchSummary, score_file
from serving.scoring.dask_batch import SUCCESS_FILE, score_on_dask, worker_database_url
from serving.store.database import Store
from tests.conftest import TrainedModel
from tests.serving.store_backends import store_url  # noqa: F401

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


def one_process_scores(
    trained: TrainedModel, source: Path, tmp_path: Path, database_url: str | None = None
) -> pd.DataFrame:
    """`score_file`'s scores, reading live inputs from the store at ``database_url``."""
    output = tmp_path / f"one-{len(list(tmp_path.glob('one-*')))}.parquet"
    bundle = ModelBundle.load(trained.bundle_dir)
    store = None if database_url is None else Store.open(database_url)
    try:
        score_file(
            source, output, bundle, "shiprisk", "local", top_k=3, chunk_rows=1000, store=store
        )
    finally:
        if store is not None:
            store.close()
    return pd.read_parquet(output)


def stores_open() -> int:
    """Operational stores open in this (worker) process."""
    from serving.scoring import dask_batch

    return len(dask_batch._STORES)


def fill_store(url: str, raw: pd.DataFrame) -> None:
    """History for every entity of ``raw`` (its declarations counted once, as a first scoring
    counts them) and a partner's watchlist entry on the first declaration's importer."""
    from datetime import UTC, datetime

    from features.columns import DeclarationColumns
    from features.validation import validate_declarations
    from serving.intelligence.service import add_entries
    from serving.store.intelligence import count_declarations, declaration_entities

    declarations = validate_declarations(raw, source="test")
    store = Store.open(url)
    try:
        with store.transaction() as session:
            ids = declarations["declaration_id"].astype(str).tolist()
            count_declarations(
                session,
                ids,
                declaration_entities(DeclarationColumns(declarations)),
                [datetime(2024, 1, 2, tzinfo=UTC)] * len(declarations),
                first_recorded=set(ids),
            )
        entry = {
            "entity_type": "importer_id",
            "entity_id": str(raw["importer_id"].iloc[0]),
            "threat": "revenue",
            "valid_from": "2024-01-01",
            "handling_code": "H1",
            "source_agency": "KS-POL",
        }
        add_entries(store, pd.DataFrame([entry]), added_by="test")
    finally:
        store.close()


def assert_same_scores(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    got = got.set_index("declaration_id").loc[expected["declaration_id"]].reset_index()
    assert list(got.columns) == list(expected.columns)
    risks = [c for c in expected.columns if c.startswith("risk_")] + ["overall"]
    np.testing.assert_allclose(got[risks], expected[risks], rtol=0, atol=1e-12)
    assert got["lane"].tolist() == expected["lane"].tolist()
    for mine, theirs in zip(got["reasons"], expected["reasons"], strict=True):
        a, b = json.loads(mine), json.loads(theirs)
        assert [(r["kind"], r["feature"], r["text"]) for r in a] == [
            (r["kind"], r["feature"], r["text"]) for r in b
        ]
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


def test_partitions_read_live_inputs_from_the_store_as_one_process(
    trained: TrainedModel,
    dask_scheduler: str,
    tmp_path: Path,
    store_url: str,  # noqa: F811
) -> None:
    """Each worker reads the partition's history and watchlist hits from the store (SQLite
    file, or PostgreSQL as on a real cluster): scores and watchlist reasons as score_file's."""
    raw = pd.read_parquet(trained.declarations_path)
    fill_store(store_url, raw)
    expected = one_process_scores(trained, trained.declarations_path, tmp_path, store_url)
    empty = one_process_scores(trained, trained.declarations_path, tmp_path)
    listed = ["watchlist" in {r["kind"] for r in json.loads(text)} for text in expected["reasons"]]
    assert listed[0] and sum(listed) < len(listed)  # the entry hit its importer's rows
    assert not np.allclose(expected["overall"], empty["overall"], rtol=0, atol=1e-12)
    output = tmp_path / "scores"
    source = tmp_path / "declarations.csv"
    raw.to_csv(source, index=False)
    with dask_client(dask_scheduler) as client:
        score_on_dask(
            client,
            str(source),
            str(output),
            trained.bundle_dir,
            "shiprisk",
            "local",
            top_k=3,
            partition_size=8_000,
            database_url=store_url,
        )
        assert set(client.run(stores_open).values()) == {0}  # closed once the run ended
    assert len(list(output.glob("part-*.parquet"))) > 2
    assert_same_scores(pd.read_parquet(output), expected)


def test_a_store_the_workers_cannot_see_stops_the_run(
    trained: TrainedModel, dask_scheduler: str, tmp_path: Path
) -> None:
    """A SQLite file missing on a worker is refused, not created empty (scores would then
    silently ignore history and the watchlist)."""
    missing = tmp_path / "elsewhere" / "shiprisk.db"
    with pytest.raises(BatchInputError, match="not on this Dask worker"):
        score_partitions(
            dask_scheduler,
            trained.declarations_path,
            tmp_path / "scores",
            trained.bundle_dir,
            database_url=f"sqlite:///{missing}",
        )
    assert not missing.parent.exists()


def test_a_relative_sqlite_store_is_made_absolute_for_the_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert worker_database_url("sqlite:///data/shiprisk.db") == (
        f"sqlite:///{tmp_path / 'data' / 'shiprisk.db'}"
    )
    postgres = "postgresql://shiprisk:secret@db:5432/shiprisk"
    assert worker_database_url(postgres) == postgres


def test_score_command_on_dask_writes_parquet_parts(
    trained: TrainedModel, dask_scheduler: str, tmp_path: Path
) -> None:
    database_url = f"sqlite:///{tmp_path / 'batch.db'}"
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
        env={"SHIPRISK_DASK_SCHEDULER": dask_scheduler, "SHIPRISK_DATABASE_URL": database_url},
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
