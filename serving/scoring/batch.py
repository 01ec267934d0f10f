"""Batch scoring of declaration files of any size, with the same results as the API.

A CSV or Parquet file is read in chunks (pandas ``read_csv(chunksize=)``,
``ParquetFile.iter_batches``), each chunk validated by `features.validation` (after the
training configuration's column mapping, for a file in an export's own columns) and scored by
the bundle exactly as POST /v1/scores does (reasons as `models.explain.Reason.to_dict`), and
written out at once, so memory stays flat whatever the file size. Output goes to a temporary file beside the
target and is renamed into place only when every chunk succeeded.

Output columns: ``declaration_id``, ``model_name``, ``model_version``, ``risk_<threat>`` per
threat, ``overall``, ``lane`` and ``reasons`` (the API's reasons list as JSON text).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.dataset import source_declarations
from features.extras import conform_extras, validated_for_model
from features.sources import SourceConfig
from features.validation import DataValidationError
from models.bundle import ModelBundle, ScoredDeclaration
from models.explain import Reason
from serving.scoring.lanes import with_office_lanes
from serving.scoring.live import read_batch, watchlist_reasons, with_watchlist_reasons
from serving.scoring.profiles import profile_decisions, with_profiles
from serving.store.database import Store
from serving.store.offices import live_versions

DEFAULT_CHUNK_ROWS = 20_000
CSV_SUFFIXES = (".csv",)
PARQUET_SUFFIXES = (".parquet", ".pq")

ProgressCallback = Callable[[int, float], None]
"""Called after each chunk with the rows scored so far and the fraction of the input read."""


class BatchInputError(ValueError):
    """The input or output file cannot be used (format, missing file); the message says why."""


@dataclass(frozen=True)
class BatchSummary:
    """What a batch run produced."""

    rows: int
    lanes: dict[str, int]
    output: Path


def file_format(path: Path) -> str:
    """``csv`` or ``parquet`` from the file name; anything else is refused with the choices."""
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    raise BatchInputError(
        f"{path}: unknown file type {suffix or '(none)'!r}; use .csv, .parquet or .pq"
    )


def _csv_chunks(
    handle: IO[bytes], chunk_rows: int, size: int
) -> Iterator[tuple[pd.DataFrame, float]]:
    # Every column as text, and no "NA" -> missing: NA is Namibia. Validation decides types.
    reader = pd.read_csv(handle, dtype=str, keep_default_na=False, chunksize=chunk_rows)
    for chunk in reader:
        yield chunk, min(1.0, handle.tell() / size) if size else 1.0


def read_chunks(path: Path, chunk_rows: int) -> Iterator[tuple[pd.DataFrame, float]]:
    """Raw declaration frames of at most ``chunk_rows`` rows, with the fraction read so far."""
    if not path.is_file():
        raise BatchInputError(f"{path}: no such file")
    if file_format(path) == "csv":
        with path.open("rb") as handle:
            yield from _csv_chunks(handle, chunk_rows, path.stat().st_size)
        return
    parquet = pq.ParquetFile(path)
    total = parquet.metadata.num_rows
    done = 0
    for batch in parquet.iter_batches(batch_size=chunk_rows):
        done += batch.num_rows
        yield batch.to_pandas(), done / total if total else 1.0


def result_frame(
    scored: Sequence[ScoredDeclaration], threats: tuple[str, ...], name: str, version: str
) -> pd.DataFrame:
    """One row per scored declaration, reasons as the API's JSON list (`Reason.to_dict`)."""
    columns: dict[str, object] = {
        "declaration_id": pd.array([str(s.declaration_id) for s in scored], dtype="str"),
        "model_name": pd.array([name] * len(scored), dtype="str"),
        "model_version": pd.array([version] * len(scored), dtype="str"),
    }
    for threat in threats:
        columns[f"risk_{threat}"] = pd.array([s.risk[threat] for s in scored], dtype="float64")
    columns["overall"] = pd.array([s.overall for s in scored], dtype="float64")
    columns["lane"] = pd.array([str(s.lane) for s in scored], dtype="str")
    write = ReasonsJson()
    columns["reasons"] = pd.array([write(s.reasons) for s in scored], dtype="str")
    return pd.DataFrame(columns)


class ReasonsJson:
    """A declaration's reasons as JSON text: what ``json.dumps`` writes for their
    `Reason.to_dict` dicts, byte for byte, written directly.

    ``json.dumps`` of `Reason.to_dict` built a dict per reason and encoded the same
    sentences and names over and over (about a tenth of batch scoring); here each distinct
    string is encoded once per batch, by the encoder ``json.dumps`` uses, and a reason is
    one format: 0.72 of the time on the same 20,000 declarations (bench/RESULTS.md).
    """

    def __init__(self) -> None:
        self._strings: dict[str, str] = {}

    def __call__(self, reasons: Sequence[Reason]) -> str:
        return "[" + ", ".join([self._reason(reason) for reason in reasons]) + "]"

    def _reason(self, reason: Reason) -> str:
        value = reason.value
        shown = None if value is None or not math.isfinite(value) else float(value)
        item = self._item
        return (
            f'{{"threat": {item(reason.threat)}, "feature": {item(reason.feature)}, '
            f'"value": {item(shown)}, "contribution": {item(float(reason.contribution))}, '
            f'"text": {item(reason.text)}, "kind": {item(reason.kind)}, '
            f'"source_agency": {item(reason.source_agency)}, '
            f'"handling_code": {item(reason.handling_code)}, '
            f'"profile_id": {item(reason.profile_id)}, "title": {item(reason.title)}, '
            f'"rationale": {item(reason.rationale)}}}'
        )

    def _item(self, value: object) -> str:
        if value is None:
            return "null"
        if type(value) is str:
            written = self._strings.get(value)
            if written is None:
                written = self._strings[value] = _JSON_STRING(value)
            return written
        if type(value) is float and math.isfinite(value):
            return float.__repr__(value)
        return json.dumps(value)


_JSON_STRING = json.encoder.encode_basestring_ascii  # json.dumps's own, with ensure_ascii


def output_schema(threats: tuple[str, ...]) -> pa.Schema:
    """Fixed Parquet schema, so every chunk appends to the same file."""
    return pa.schema(
        [
            ("declaration_id", pa.string()),
            ("model_name", pa.string()),
            ("model_version", pa.string()),
            *[(f"risk_{threat}", pa.float64()) for threat in threats],
            ("overall", pa.float64()),
            ("lane", pa.string()),
            ("reasons", pa.string()),
        ]
    )


def shifted(error: DataValidationError, source: str, offset: int) -> DataValidationError:
    """The chunk's problems with row numbers counted from the start of the file."""
    return DataValidationError(
        replace(problem, source=source, rows=tuple(row + offset for row in problem.rows))
        for problem in error.problems
    )


def _declarations(
    raw: pd.DataFrame, bundle: ModelBundle, name: str, source: SourceConfig | None
) -> pd.DataFrame:
    """A chunk as the model reads it: mapped when a source mapping is given, validated, and
    with every extra feature the model reads (a column it lacks is a problem)."""
    if source is None:
        return validated_for_model(raw, bundle.extra_features, source=name, required=True)
    categorical, numeric = bundle.extra_features
    mapped = source_declarations(raw, source, name)
    return conform_extras(mapped, categorical, numeric, source=name, required=True)


def score_chunk(
    raw: pd.DataFrame,
    bundle: ModelBundle,
    name: str,
    version: str,
    *,
    source: str,
    top_k: int = 5,
    num_threads: int = 1,
    store: Store | None = None,
    mapping: SourceConfig | None = None,
) -> pd.DataFrame:
    """One raw chunk validated and scored as POST /v1/scores scores it: the result frame.

    Its entity history, watchlist hits and risk profiles are read from ``store`` as the API
    reads them, at this moment (None: an empty store); watchlist and profile hits become
    reasons, and a matching profile's lane comes first.

    ``mapping``: the `source` section of a training configuration when the chunk is in the
    export's own columns (see `score_file`).

    Raises:
        DataValidationError: the chunk does not validate; rows are numbered within it.
    """
    declarations = _declarations(raw, bundle, source, mapping)
    live = None if store is None else read_batch(store, declarations, bundle.builder.threats)
    scored = bundle.score(
        declarations,
        top_k=top_k,
        explain=top_k > 0,
        live=None if live is None else live.live,
        num_threads=num_threads,
    )
    # whether office lanes or profiles changed: one query for both
    versions = None if store is None else live_versions(store)
    scored = with_office_lanes(
        store,
        declarations,
        scored,
        (name, version),
        version=None if versions is None else versions.offices,
    )
    if live is not None:
        scored = with_watchlist_reasons(scored, watchlist_reasons(live, len(scored)))
    decisions = profile_decisions(
        store, declarations, live, version=None if versions is None else versions.profiles
    )
    scored = with_profiles(scored, decisions)
    return result_frame(scored, tuple(bundle.threats), name, version)


def lane_counts(frame: pd.DataFrame) -> dict[str, int]:
    """Scored declarations per lane in a result frame."""
    return {str(lane): int(count) for lane, count in frame["lane"].value_counts().items()}


def score_file(
    input_path: Path,
    output_path: Path,
    bundle: ModelBundle,
    name: str,
    version: str,
    *,
    top_k: int = 5,
    num_threads: int = 1,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    on_chunk: ProgressCallback | None = None,
    source: SourceConfig | None = None,
    store: Store | None = None,
) -> BatchSummary:
    """Score every declaration of ``input_path`` into ``output_path`` (CSV or Parquet).

    Each chunk reads its entity history, watchlist hits and risk profiles from ``store`` as
    the API does (None: an empty store); batch scoring records nothing, so it changes no
    history.

    Args:
        source: the `source` section of a training configuration: the input is in the
            export's own columns and is mapped as training maps it (columns, values,
            defaults, extra features, date format). Without it the input has canonical
            columns, plus the ``x_`` extra features the model was trained with.
        store: the operational store the live inputs are read from.

    Raises:
        BatchInputError: unusable file names or a missing input.
        ConfigError: the mapping names columns the input does not have.
        DataValidationError: a chunk does not validate; rows are numbered from the file start.
    """
    output_kind = file_format(output_path)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    partial = output_path.with_name(f".{output_path.name}.partial")
    threats = tuple(bundle.threats)
    rows = 0
    lanes: dict[str, int] = {}
    writer: pq.ParquetWriter | None = None
    try:
        if output_kind == "parquet":
            writer = pq.ParquetWriter(partial, output_schema(threats))
        else:
            partial.write_text("")
        for raw, fraction in read_chunks(input_path, chunk_rows):
            try:
                frame = score_chunk(
                    raw,
                    bundle,
                    name,
                    version,
                    source=str(input_path),
                    top_k=top_k,
                    num_threads=num_threads,
                    store=store,
                    mapping=source,
                )
            except DataValidationError as error:
                raise shifted(error, str(input_path), rows) from None
            if writer is not None:
                writer.write_table(
                    pa.Table.from_pandas(frame, schema=writer.schema, preserve_index=False)
                )
            else:
                frame.to_csv(partial, mode="a", header=rows == 0, index=False)
            rows += len(frame)
            for lane, count in lane_counts(frame).items():
                lanes[lane] = lanes.get(lane, 0) + count
            if on_chunk is not None:
                on_chunk(rows, fraction)
        if writer is not None:
            writer.close()
            writer = None
        elif rows == 0:  # an input with a header and no rows still gets a header
            result_frame([], threats, name, version).to_csv(partial, index=False)
        os.replace(partial, output_path)
    finally:
        if writer is not None:
            writer.close()
        partial.unlink(missing_ok=True)
    return BatchSummary(rows=rows, lanes=lanes, output=output_path)
