"""Batch scoring on Dask: the verified bundle mapped over the input's partitions.

The input (CSV or Parquet, a path, a glob or an fsspec URL such as ``s3://...``) is read in
partitions: CSV by ``dask.dataframe.read_csv`` in byte blocks, Parquet by rows
(`parquet_partitions`: row ranges of at most `MAX_PARTITION_ROWS` rows planned from the
files' footers alone, each read on its worker, so one large row group still makes many
partitions). Each partition is validated and scored on a worker in chunks of at most
``chunk_rows`` rows by `serving.scoring.batch.score_chunk`, the same function the one-process
path runs, with the bundle that worker verified and loaded once
(`models.cluster.send_bundle`), and written as ``part-NNNNN.parquet`` into the output
directory. Each partition reads its entity history
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
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import dask
import dask.dataframe as dd
import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from dask.delayed import Delayed
from dask.utils import parse_bytes
from distributed import Client, WorkerPlugin, as_completed

from features.sources import SourceConfig
from features.validation import DataValidationError, Problem
from models.cluster import send_bundle, worker_bundle
from serving.scoring.batch import (
    DEFAULT_CHUNK_ROWS,
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
# Rows of a Parquet partition at most, whatever its bytes: a partition is one task, and
# 64 MiB of declarations is about 800,000 rows, so a million would make two tasks the
# scheduler cannot balance. Tasks score their rows chunk by chunk, so memory does not grow
# with this.
MAX_PARTITION_ROWS = 100_000
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


@dataclass(frozen=True)
class RowRange:
    """Rows ``start`` (included) to ``stop`` (excluded) of one Parquet file: a partition."""

    url: str
    start: int
    stop: int


def row_ranges(group_rows: Sequence[int], partition_rows: int) -> list[tuple[int, int]]:
    """Consecutive ``(start, stop)`` ranges of at most ``partition_rows`` rows that cover a
    file whose row groups hold ``group_rows`` rows: small row groups share a range, a large
    one is split into nearly equal ranges that never reach into its neighbours."""
    ranges: list[tuple[int, int]] = []
    start = stop = 0
    for rows in group_rows:
        if stop - start + rows <= partition_rows:
            stop += rows
            continue
        if stop > start:
            ranges.append((start, stop))
        start = stop
        if rows <= partition_rows:
            stop += rows
            continue
        pieces = -(-rows // partition_rows)
        ranges.extend(
            (start + rows * piece // pieces, start + rows * (piece + 1) // pieces)
            for piece in range(pieces)
        )
        start = stop = start + rows
    if stop > start:
        ranges.append((start, stop))
    return ranges


def partition_rows(metadata: pq.FileMetaData, partition_size: str | int) -> int:
    """Rows of one partition: ``partition_size`` bytes of the file's uncompressed data, at
    most `MAX_PARTITION_ROWS`."""
    size = parse_bytes(partition_size) if isinstance(partition_size, str) else partition_size
    data = sum(
        metadata.row_group(group).total_byte_size for group in range(metadata.num_row_groups)
    )
    row_bytes = max(1.0, data / metadata.num_rows) if metadata.num_rows else 1.0
    return max(1, min(MAX_PARTITION_ROWS, int(size // row_bytes)))


def parquet_partitions(source: str, partition_size: str | int) -> list[RowRange]:
    """The row ranges of every Parquet file ``source`` names, in input order, planned from
    the files' footers alone (nothing else is read here); a file without rows is one empty
    range, so its part still carries the output's columns."""
    files = fsspec.open_files(source, "rb")
    if not files:
        raise BatchInputError(f"{source}: no such file")
    partitions: list[RowRange] = []
    for file in files:
        with file as handle:
            metadata = pq.ParquetFile(handle).metadata
        url = file.fs.unstrip_protocol(file.path)
        groups = [metadata.row_group(group).num_rows for group in range(metadata.num_row_groups)]
        ranges = row_ranges(groups, partition_rows(metadata, partition_size)) or [(0, 0)]
        partitions.extend(RowRange(url, start, stop) for start, stop in ranges)
    return partitions


def read_row_range(part: RowRange, batch_rows: int = 65_536) -> pd.DataFrame:
    """One partition's raw declarations, as `serving.scoring.batch.read_chunks` reads them.

    Only the row groups the range lies in are read. Rows before ``start`` in the first of
    them are decoded and dropped: without a page index Parquet cannot seek to a row, and a
    file written with default settings has no page index.
    """
    with fsspec.open(part.url, "rb") as handle:
        parquet = pq.ParquetFile(handle)
        groups: list[int] = []
        position = first = 0  # where a row group starts; where the first one read starts
        for group in range(parquet.num_row_groups):
            rows = parquet.metadata.row_group(group).num_rows
            if position < part.stop and position + rows > part.start:
                first = position if not groups else first
                groups.append(group)
            position += rows
        batches: list[pa.RecordBatch] = []
        position = first
        if groups:
            for batch in parquet.iter_batches(batch_size=batch_rows, row_groups=groups):
                begin = max(part.start - position, 0)
                end = min(part.stop - position, batch.num_rows)
                if end > begin:
                    batches.append(batch.slice(begin, end - begin))
                position += batch.num_rows
                if position >= part.stop:
                    break
        table = pa.Table.from_batches(batches) if batches else parquet.schema_arrow.empty_table()
    return table.to_pandas()


def read_partitions(source: str, partition_size: str | int) -> list[Delayed | RowRange]:
    """The raw declarations' partitions in input order, every column text as the one-process
    reader has it: CSV as Dask's byte blocks (read when their task runs), Parquet as the row
    ranges each task reads (`parquet_partitions`)."""
    if file_format(Path(source.rsplit("/", 1)[-1])) == "csv":
        # No "NA" -> missing: NA is Namibia. Validation decides types.
        frame = dd.read_csv(source, dtype=str, keep_default_na=False, blocksize=partition_size)
        return list(frame.to_delayed())
    return list(parquet_partitions(source, partition_size))


def score_partition(
    raw: pd.DataFrame | RowRange,
    index: int,
    pin: str,
    output_dir: str,
    name: str,
    version: str,
    source: str,
    top_k: int,
    store_name: str | None = None,
    mapping: SourceConfig | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> PartitionResult:
    """Validate and score one partition on a worker (read here when it is a Parquet row
    range), ``chunk_rows`` rows at a time as one process scores its chunks, each with the
    live inputs the store holds then (``store_name``; None: an empty store), and write it
    as one Parquet file. Rows of its problems are numbered within the partition."""
    if isinstance(raw, RowRange):
        raw = read_row_range(raw)
    bundle = worker_bundle(pin)
    store = None if store_name is None else worker_store(store_name)
    schema = output_schema(tuple(bundle.threats))
    lanes: dict[str, int] = {}
    path = f"{output_dir.rstrip('/')}/{part_name(index)}"
    with fsspec.open(path, "wb") as handle, pq.ParquetWriter(handle, schema) as writer:
        for begin in range(0, len(raw), chunk_rows):
            chunk = raw.iloc[begin : begin + chunk_rows].reset_index(drop=True)
            try:
                frame = score_chunk(
                    chunk,
                    bundle,
                    name,
                    version,
                    source=source,
                    top_k=top_k,
                    store=store,
                    mapping=mapping,
                )
            except DataValidationError as error:
                problems = shifted(error, source, begin).problems
                return PartitionResult(index, len(raw), {}, tuple(problems))
            writer.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False))
            for lane, count in lane_counts(frame).items():
                lanes[lane] = lanes.get(lane, 0) + count
    return PartitionResult(index, len(raw), lanes)


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
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    on_partition: Callable[[int, float], None] | None = None,
    database_url: str | None = None,
    mapping: SourceConfig | None = None,
) -> BatchSummary:
    """Score every declaration of ``source`` into Parquet parts under ``output_dir``, each
    partition with the live inputs the store at ``database_url`` holds when it is scored
    (None: an empty store), as `serving.scoring.batch.score_file` scores its chunks of
    ``chunk_rows`` rows (and mapped by ``mapping``, a training configuration's `source`
    section, as it maps them). ``partition_size``: input bytes per partition (uncompressed
    for Parquet, whose partitions also hold at most `MAX_PARTITION_ROWS` rows).

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
        partitions = read_partitions(source, partition_size)
        tasks = [
            dask.delayed(score_partition)(
                part,
                index,
                pin,
                output_dir,
                name,
                version,
                source,
                top_k,
                store_name,
                mapping,
                chunk_rows,
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
