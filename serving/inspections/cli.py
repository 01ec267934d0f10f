"""`shiprisk export`: the store's declarations and outcomes as training tables.

Heavy imports stay inside the command functions so that `shiprisk --help` is fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from serving.console import DatabaseUrl, console


def export(
    out: Annotated[Path, typer.Option("--out", help="Directory for the two Parquet tables.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Write the store's declarations and outcomes (with selection probabilities) for training.

    Point a training configuration's source.declarations and source.outcomes at the two
    files and set model.propensity_weights: true to correct for selection.
    """
    from serving.inspections.service import export_training_tables
    from serving.settings import store_url
    from serving.store.database import Store

    store = Store.open(store_url(database_url))
    try:
        written = export_training_tables(store, out)
    finally:
        store.close()
    console.print(
        f"wrote {written.declarations:,} declarations to {written.declarations_path} and "
        f"{written.outcomes:,} outcomes ({written.with_probability:,} with a selection "
        f"probability, {written.random:,} random picks) to {written.outcomes_path}",
        highlight=False,
    )
