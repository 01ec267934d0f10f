"""`shiprisk score --dask`: the same scores as one process, on a 2-worker LocalCluster, with
the live inputs (entity history, watchlist) each worker reads from the operational store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from features.validation import DataValidationError
from models.bundle import ModelBundle
from models.cluster import dask_client
from serving import cli as serving_cli
from serving.scoring.batch import BatchInputError, BatchSummary, score_file
from serving.scoring.dask_batch import (
    MAX_PARTITION_ROWS,
    SUCCESS_FILE,
    RowRange,
    parquet_partitions,
    read_row_range,
    row_ranges,
    score_on_dask,
    worker_database_url,
)
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


def many_declarations(trained: TrainedModel, copies: int) -> pd.DataFrame:
    """The test window's declarations ``copies`` times over, each copy with its own ids."""
    raw = pd.read_parquet(trained.declarations_path)
    frames = [
        raw.assign(declaration_id=raw["declaration_id"].astype(str) + f"-{copy}")
        for copy in range(copies)
    ]
    return pd.concat(frames, ignore_index=True)


def test_one_row_group_parquet_is_split_by_rows_and_scores_as_one_process(
    trained: TrainedModel, dask_scheduler: str, tmp_path: Path
) -> None:
    """A file written by pyarrow's defaults is one row group, which Dask's Parquet reader
    never splits: the partitions are row ranges, so small partitions really are small."""
    raw = many_declarations(trained, 25)
    source = tmp_path / "declarations.parquet"
    pq.write_table(pa.Table.from_pandas(raw, preserve_index=False), source)
    assert pq.ParquetFile(source).metadata.num_row_groups == 1
    expected = one_process_scores(trained, source, tmp_path)
    output = tmp_path / "scores"
    row_bytes = pq.ParquetFile(source).metadata.row_group(0).total_byte_size / len(raw)
    summary = score_partitions(
        dask_scheduler,
        source,
        output,
        trained.bundle_dir,
        top_k=3,
        partition_size=int(700 * row_bytes),
        chunk_rows=300,
    )
    parts = sorted(output.glob("part-*.parquet"))
    rows = [pq.ParquetFile(part).metadata.num_rows for part in parts]
    assert len(parts) == 5 and max(rows) <= 700 and sum(rows) == len(raw) == 3000
    got = pd.concat([pd.read_parquet(part) for part in parts], ignore_index=True)
    assert got["declaration_id"].tolist() == expected["declaration_id"].tolist()  # input order
    assert_same_scores(got, expected)
    assert summary.rows == len(raw)
    assert summary.lanes == expected["lane"].value_counts().to_dict()


@pytest.mark.parametrize(
    ("group_rows", "partition_rows", "expected"),
    [
        ([10], 4, [(0, 3), (3, 6), (6, 10)]),  # one large row group: split evenly
        ([2, 2, 2, 5], 4, [(0, 4), (4, 6), (6, 8), (8, 11)]),  # small ones share a range
        ([3, 9, 1], 4, [(0, 3), (3, 6), (6, 9), (9, 12), (12, 13)]),  # never across groups
        ([4, 4], 4, [(0, 4), (4, 8)]),
        ([], 4, []),
    ],
)
def test_row_ranges_cover_the_file_in_bounded_ranges(
    group_rows: list[int], partition_rows: int, expected: list[tuple[int, int]]
) -> None:
    assert row_ranges(group_rows, partition_rows) == expected


def test_a_row_range_reads_exactly_its_rows(tmp_path: Path) -> None:
    frame = pd.DataFrame({"declaration_id": [f"D{i}" for i in range(1000)], "packages": 1.0})
    source = tmp_path / "many_groups.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), source, row_group_size=300)
    for start, stop in [(0, 1000), (250, 310), (300, 600), (599, 601), (990, 1000), (7, 7)]:
        got = read_row_range(RowRange(str(source), start, stop), batch_rows=64)
        assert got["declaration_id"].tolist() == [f"D{i}" for i in range(start, stop)]
        assert list(got.columns) == ["declaration_id", "packages"]


def test_parquet_partitions_are_planned_from_footers_with_a_row_cap(tmp_path: Path) -> None:
    """A glob of files, in name order, each split alone; the byte size cannot make a
    partition longer than MAX_PARTITION_ROWS; a file without rows is one empty range."""
    rows = MAX_PARTITION_ROWS + 10
    pq.write_table(pa.table({"declaration_id": [str(i) for i in range(rows)]}), tmp_path / "a.pq")
    pq.write_table(pa.table({"declaration_id": pa.array([], pa.string())}), tmp_path / "b.pq")
    parts = parquet_partitions(str(tmp_path / "*.pq"), "10GiB")
    assert [(Path(p.url).name, p.start, p.stop) for p in parts] == [
        ("a.pq", 0, rows // 2),
        ("a.pq", rows // 2, rows),
        ("b.pq", 0, 0),
    ]
    with pytest.raises(BatchInputError, match="no such file"):
        parquet_partitions(str(tmp_path / "missing-*.parquet"), "64MiB")


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


def test_a_bad_row_in_a_later_chunk_of_a_row_range_is_numbered_from_the_start(
    trained: TrainedModel, dask_scheduler: str, tmp_path: Path
) -> None:
    raw = many_declarations(trained, 10)
    raw.loc[1034, "hs_code"] = "not-a-code"
    source = tmp_path / "declarations.parquet"
    pq.write_table(pa.Table.from_pandas(raw, preserve_index=False), source)
    row_bytes = pq.ParquetFile(source).metadata.row_group(0).total_byte_size / len(raw)
    output = tmp_path / "scores"
    with pytest.raises(DataValidationError) as error:
        score_partitions(
            dask_scheduler,
            source,
            output,
            trained.bundle_dir,
            partition_size=int(500 * row_bytes),
            chunk_rows=100,
        )
    assert [problem.rows for problem in error.value.problems] == [(1035,)]
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
