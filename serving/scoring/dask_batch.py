"""Batch scoring on Dask: the verified bundle mapped over the input's partitions.

The input (CSV or Parquet, a path, a glob or an fsspec URL such as ``s3://...``) is read by
``dask.dataframe`` in partitions; each partition is validated and scored on a worker by
`serving.scoring.batch.score_chunk`, the same function the one-process path runs, with the
bundle that worker verified and loaded once (`models.cluster.send_bundle`), and written as
``part-NNNNN.parquet`` into the output directory. Each partition reads its entity history
and watchlist hits from the operational store as that function does in one process
(`serving.scoring.live.read_batch`): every worker opens the store once
(`StoreOnWorkers`), so a cluster needs the store where its workers can reach it
(PostgreSQL; a SQLite file only on shared storage or a local cluster). ``_SUCCESS`` is written last, when every
partition succeeded; a failed run removes the parts it wrote. Scores equal the one-process
scores: same code, same bundle, one row at a time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import dask
import dask.dataframe as dd
import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from distributed import Client, WorkerPlugin, as_completed

from features.sources import SourceConfig
from features.validation import DataValidationError, Problem
from models.cluster import send_bundle, worker_bundle
from serving.scoring.batch import (
    BatchInputError,
    BatchSummary,
    file_format,
    lane_counts,
    output_schema,
    score_chunk,
    shifted,
)
from serving.store.database import Store, normalised_url

DEFAULT_PARTITION_SIZE = "64MiB"
SUCCESS_FILE = "_SUCCESS"
# Operational stores opened in this worker process, by the name of their plugin.
_STORES: dict[str, Store] = {}


@dataclass(frozen=True)
class PartitionResult:
    """What one partition's task did: rows read, lanes, or the problems that stopped it."""

    index: int
    rows: int
    lanes: dict[str, int]
    problems: tuple[Problem, ...] = ()


def worker_database_url(url: str) -> str:
    """``url`` as a worker opens it: a relative SQLite path made absolute here (a local
    cluster's workers may start elsewhere); any other URL as it is."""
    parsed = normalised_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return url
    if database.startswith("file:") or Path(database).is_absolute():
        return url
    return parsed.set(database=str(Path(database).resolve())).render_as_string(hide_password=False)


class StoreOnWorkers(WorkerPlugin):
    """Opens the operational store once on each worker, for the partitions' live inputs.

    Never migrates (the client did) and never creates a SQLite file: a worker that cannot
    see the store fails the run rather than score with an empty one.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.name = f"shiprisk-store-{hashlib.sha256(url.encode()).hexdigest()[:16]}"

    def setup(self, worker: object) -> None:
        parsed = normalised_url(self.url)
        database = parsed.database or ""
        if parsed.get_backend_name() == "sqlite" and not Path(database).is_file():
            raise BatchInputError(
                f"{database}: the operational store is not on this Dask worker; give the "
                "workers a store they can reach (SHIPRISK_DATABASE_URL=postgresql://...)"
            )
        _STORES[self.name] = Store.open(self.url, migrate=False)

    def teardown(self, worker: object) -> None:
        store = _STORES.pop(self.name, None)
        if store is not None:
            store.close()


@contextmanager
def store_on_workers(client: Client, url: str) -> Iterator[str]:
    """The store at ``url`` opened on every worker of ``client`` while the block runs; the
    name tasks find it by (`worker_store`)."""
    plugin = StoreOnWorkers(worker_database_url(url))
    try:
        client.register_plugin(plugin)
        yield plugin.name
    finally:
        client.unregister_worker_plugin(plugin.name)


def worker_store(name: str) -> Store:
    """The store this worker opened under ``name`` (see `store_on_workers`)."""
    return _STORES[name]


def part_name(index: int) -> str:
    """The file of partition ``index`` in the output directory (sorts in input order)."""
    return f"part-{index:05d}.parquet"


def read_partitions(source: str, partition_size: str | int) -> dd.DataFrame:
    """The raw declarations as a Dask frame, every column text as the one-process reader has it."""
    if file_format(Path(source.rsplit("/", 1)[-1])) == "csv":
        # No "NA" -> missing: NA is Namibia. Validation decides types.
        return dd.read_csv(source, dtype=str, keep_default_na=False, blocksize=partition_size)
    return dd.read_parquet(source, blocksize=partition_size)


def score_partition(
    raw: pd.DataFrame,
    index: int,
    pin: str,
    output_dir: str,
    name: str,
    version: str,
    source: str,
    top_k: int,
    store_name: str | None = None,
    mapping: SourceConfig | None = None,
) -> PartitionResult:
    """Validate and score one partition on a worker, with the live inputs the store holds
    now (``store_name``; None: an empty store), and write it as Parquet."""
    bundle = worker_bundle(pin)
    store = None if store_name is None else worker_store(store_name)
    try:
        frame = score_chunk(
            raw, bundle, name, version, source=source, top_k=top_k, store=store, mapping=mapping
        )
    except DataValidationError as error:
        return PartitionResult(index, len(raw), {}, tuple(error.problems))
    schema = output_schema(tuple(bundle.threats))
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    with fsspec.open(f"{output_dir.rstrip('/')}/{part_name(index)}", "wb") as handle:
        pq.write_table(table, handle)
    return PartitionResult(index, len(frame), lane_counts(frame))


def score_on_dask(
    client: Client,
    source: str,
    output_dir: str,
    bundle_dir: Path,
    name: str,
    version: str,
    *,
    top_k: int = 5,
    partition_size: str | int = DEFAULT_PARTITION_SIZE,
    on_partition: Callable[[int, float], None] | None = None,
    database_url: str | None = None,
    mapping: SourceConfig | None = None,
) -> BatchSummary:
    """Score every declaration of ``source`` into Parquet parts under ``output_dir``, each
    partition with the live inputs the store at ``database_url`` holds when it is scored
    (None: an empty store), as `serving.scoring.batch.score_file` scores its chunks (and
    mapped by ``mapping``, a training configuration's `source` section, as it maps them).

    Raises:
        BatchInputError: the output directory already holds files, or a worker cannot
            reach a SQLite store.
        DataValidationError: a partition does not validate; rows are numbered from the
            start of the input.
    """
    fs, root = fsspec.core.url_to_fs(output_dir)
    if fs.exists(root) and fs.ls(root):
        raise BatchInputError(f"{output_dir}: not empty; batch output goes into a new directory")
    fs.makedirs(root, exist_ok=True)
    pin = send_bundle(client, bundle_dir)
    with ExitStack() as stack:
        store_name = (
            None
            if database_url is None
            else stack.enter_context(store_on_workers(client, database_url))
        )
        partitions = read_partitions(source, partition_size).to_delayed()
        tasks = [
            dask.delayed(score_partition)(
                part, index, pin, output_dir, name, version, source, top_k, store_name, mapping
            )
            for index, part in enumerate(partitions)
        ]
        futures = client.compute(tasks)
        results: list[PartitionResult] = []
        try:
            for future in as_completed(futures):
                results.append(future.result())
                if on_partition is not None:
                    rows = sum(result.rows for result in results)
                    on_partition(rows, len(results) / len(futures))
            results.sort(key=lambda result: result.index)
            offset = 0
            for result in results:
                if result.problems:
                    raise shifted(DataValidationError(result.problems), source, offset)
                offset += result.rows
        except BaseException:
            client.cancel(futures)
            for path in fs.glob(f"{root.rstrip('/')}/part-*.parquet"):
                fs.rm(path)
            raise
    lanes: dict[str, int] = {}
    for result in results:
        for lane, count in result.lanes.items():
            lanes[lane] = lanes.get(lane, 0) + count
    summary = {"rows": offset, "lanes": lanes, "partitions": len(results), "model": [name, version]}
    with fs.open(f"{root.rstrip('/')}/{SUCCESS_FILE}", "w") as handle:
        handle.write(json.dumps(summary) + "\n")
    return BatchSummary(rows=offset, lanes=lanes, output=Path(output_dir))
