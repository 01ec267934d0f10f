"""`shiprisk export`: the store's declarations and outcomes as training tables.

Heavy imports stay inside the command functions so that `shiprisk --help` is fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from serving.console import DatabaseUrl, console


def export(
    out: Annotated[Path, typer.Option("--out", help="Directory for the Parquet tables.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Write the store's declarations, outcomes (with selection probabilities), watchlist
    and timeline for training.

    Point a training configuration's source.declarations, source.outcomes and
    source.watchlist at the files and set model.propensity_weights: true to correct for
    selection; timeline.parquet says when each declaration was scored and its outcome
    recorded, for rebuilding live features exactly as they were served.
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
        f"probability, {written.random:,} random picks) to {written.outcomes_path}, "
        f"{written.watchlist:,} watchlist entries to {written.watchlist_path} and when each "
        f"declaration was scored and its outcome recorded to {written.timeline_path}",
        highlight=False,
    )
