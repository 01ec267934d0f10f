"""Reading a source's tables: CSV or Parquet files, or every file a glob matches as one table.

CSV columns are read as text (codes keep their leading zeros, only an empty cell is missing)
and validation coerces the types; the separator is guessed from the first line.
"""

from __future__ import annotations

import csv
import glob
from pathlib import Path

import pandas as pd

from features.sources import ConfigError

_CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".csv.zip")
_PARQUET_SUFFIXES = (".parquet", ".pq")


class SourceNotFoundError(ConfigError, FileNotFoundError):
    """No file matches a configured path or glob."""


def _has_glob(pattern: str) -> bool:
    return any(char in pattern for char in "*?[")


def _csv_separator(path: Path) -> str:
    """The separator of a CSV (comma, semicolon, tab or pipe), guessed from its first line."""
    if path.name.lower().endswith((".tsv", ".tsv.gz")):
        return "\t"
    if path.suffix.lower() in (".gz", ".zip"):
        return ","
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        sample = handle.readline()
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _read_one(path: Path) -> pd.DataFrame:
    name = path.name.lower()
    if name.endswith(_PARQUET_SUFFIXES):
        return pd.read_parquet(path)
    if name.endswith(_CSV_SUFFIXES):
        # All columns as text so codes keep their leading zeros; only an empty cell is missing
        # ("NA" is Namibia). Validation coerces the types.
        return pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            sep=_csv_separator(path),
            encoding="utf-8-sig",
        )
    raise ConfigError(
        [
            f"cannot read '{path}': use CSV ({', '.join(_CSV_SUFFIXES)}) or Parquet "
            f"({', '.join(_PARQUET_SUFFIXES)})"
        ],
        source=str(path),
    )


def read_table(pattern: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file, or every file a glob matches as one table (sorted file order)."""
    text = str(pattern)
    if _has_glob(text):
        files = [Path(f) for f in sorted(glob.glob(text, recursive=True)) if Path(f).is_file()]
    else:
        files = [Path(text)] if Path(text).is_file() else []
    if not files:
        raise SourceNotFoundError(
            [
                f"no file matches '{text}'; check the path (relative paths start at the "
                "configuration file's folder)"
            ],
            source=text,
        )
    frames = [_read_one(f) for f in files]
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True)


def source_name(pattern: str) -> str:
    """A short label for messages: the file name, or the glob pattern."""
    return pattern if _has_glob(pattern) else Path(pattern).name
