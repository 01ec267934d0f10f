"""Write the synthetic tables as Parquet or CSV, byte-identical for a given seed.

Parquet is written with fixed options (compression, dictionary, statistics, row groups) and
CSV with a fixed float and date format, so two runs with the same seed give the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from training.synthetic.languages import LOCAL_LANGUAGE_SHARE
from training.synthetic.simulation import simulate
from training.synthetic.tables import SyntheticData
from training.synthetic.tactic import NewTactic

FileFormat = Literal["parquet", "csv"]
TABLES: tuple[str, ...] = ("declarations", "outcomes", "watchlist", "truth")

_CSV_FLOAT_FORMAT = "%.12g"  # exact for values rounded to cents below 10**10 EUR
_CSV_DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_PARQUET_ROW_GROUP = 262_144


def write_table(frame: pd.DataFrame, path: Path, file_format: FileFormat) -> Path:
    """Write one table atomically (a temporary file renamed into place); returns the path."""
    partial = path.with_name(path.name + ".partial")
    if file_format == "parquet":
        table = pa.Table.from_pandas(frame, preserve_index=False)
        pq.write_table(
            table,
            partial,
            compression="zstd",
            compression_level=3,
            use_dictionary=True,
            write_statistics=True,
            row_group_size=_PARQUET_ROW_GROUP,
        )
    elif file_format == "csv":
        frame.to_csv(
            partial,
            index=False,
            float_format=_CSV_FLOAT_FORMAT,
            date_format=_CSV_DATE_FORMAT,
            lineterminator="\n",
        )
    else:
        raise ValueError(f"unknown file format {file_format!r}: use 'parquet' or 'csv'")
    partial.replace(path)
    return path


def write_tables(
    data: SyntheticData, out_dir: str | Path, file_format: FileFormat = "parquet"
) -> dict[str, Path]:
    """Write declarations, outcomes, watchlist and truth into `out_dir` (created if needed)."""
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    return {
        name: write_table(getattr(data, name), directory / f"{name}.{file_format}", file_format)
        for name in TABLES
    }


def generate(
    out_dir: str | Path,
    *,
    start: date | str = "2023-01-01",
    days: int = 365,
    seed: int = 0,
    rows_per_day: int = 500,
    file_format: FileFormat = "parquet",
    local_language_share: float = LOCAL_LANGUAGE_SHARE,
    new_tactic: NewTactic | None = None,
) -> dict[str, Path]:
    """Simulate `days * rows_per_day` declarations and write the four tables; returns their paths.

    `truth` holds the hidden labels of every declaration: only simulations may read it.
    `local_language_share` of the descriptions are in the office country's languages;
    `new_tactic` switches on a weapons tactic starting mid-period (off by default).
    """
    data = simulate(
        start=start,
        days=days,
        seed=seed,
        rows_per_day=rows_per_day,
        local_language_share=local_language_share,
        new_tactic=new_tactic,
    )
    return write_tables(data, out_dir, file_format)


def training_config(
    tables: Mapping[str, Path], split: Mapping[str, Sequence[str]], **sections: Any
) -> dict[str, Any]:
    """A training configuration (as a dict, ready for YAML) for tables written by `generate`.

    The synthetic tables use canonical column names, so the mapping is empty; ``split`` holds
    the train/valid/test date pairs and ``sections`` any further sections (``model``, ...).
    """
    return {
        "source": {
            "declarations": str(tables["declarations"]),
            "outcomes": str(tables["outcomes"]),
            "watchlist": str(tables["watchlist"]),
            "columns": {},
        },
        "split": {name: [str(day) for day in days] for name, days in split.items()},
        **sections,
    }
