"""Batch scoring on Dask: the verified bundle mapped over the input's partitions.

The input (CSV or Parquet, a path, a glob or an fsspec URL such as ``s3://...``) is read by
``dask.dataframe`` in partitions; each partition is validated and scored on a worker by
`serving.scoring.batch.score_chunk`, the same function the one-process path runs, with the
bundle that worker verified and loaded once (`models.cluster.send_bundle`), and written as
``part-NNNNN.parquet`` into the output directory. ``_SUCCESS`` is written last, when every
partition succeeded; a failed run removes the parts it wrote. Scores equal the one-process
scores: same code, same bundle, one row at a time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dask
import dask.dataframe as dd
import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from distributed import Client, as_completed

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

DEFAULT_PARTITION_SIZE = "64MiB"
SUCCESS_FILE = "_SUCCESS"


@dataclass(frozen=True)
class PartitionResult:
    """What one partition's task did: rows read, lanes, or the problems that stopped it."""

    index: int
    rows: int
    lanes: dict[str, int]
    problems: tuple[Problem, ...] = ()


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
) -> PartitionResult:
    """Validate and score one partition on a worker and write it as Parquet."""
    bundle = worker_bundle(pin)
    try:
        frame = score_chunk(raw, bundle, name, version, source=source, top_k=top_k)
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
) -> BatchSummary:
    """Score every declaration of ``source`` into Parquet parts under ``output_dir``.

    Raises:
        BatchInputError: the output directory already holds files.
        DataValidationError: a partition does not validate; rows are numbered from the
            start of the input.
    """
    fs, root = fsspec.core.url_to_fs(output_dir)
    if fs.exists(root) and fs.ls(root):
        raise BatchInputError(f"{output_dir}: not empty; batch output goes into a new directory")
    fs.makedirs(root, exist_ok=True)
    pin = send_bundle(client, bundle_dir)
    partitions = read_partitions(source, partition_size).to_delayed()
    tasks = [
        dask.delayed(score_partition)(part, index, pin, output_dir, name, version, source, top_k)
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
