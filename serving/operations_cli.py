"""Commands of the operations loop: `export` (store -> training tables) and `monitor` (drift).

Heavy imports stay inside the command functions so that `shiprisk --help` is fast.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from serving.console import console, fail


def _store_url(database_url: str | None) -> str:
    from serving.settings import ServiceSettings

    return database_url or ServiceSettings().resolved_database_url()


def export(
    out: Annotated[Path, typer.Option("--out", help="Directory for the two Parquet tables.")],
    database_url: Annotated[
        str | None,
        typer.Option(help="Operational store (default SHIPRISK_DATABASE_URL)."),
    ] = None,
) -> None:
    """Write the store's declarations and outcomes (with selection probabilities) for training.

    Point a training configuration's source.declarations and source.outcomes at the two
    files and set model.propensity_weights: true to correct for selection.
    """
    from serving.operations import export_training_tables
    from serving.store.database import Store

    store = Store.open(_store_url(database_url))
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


def monitor(
    days: Annotated[
        int, typer.Option(min=1, help="Recent window: the last N days of scoring.")
    ] = 7,
    model: Annotated[
        str | None, typer.Option(help="Model URI (default SHIPRISK_MODEL_URI).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Report directory (default <SHIPRISK_DATA_DIR>/monitoring/<time>)."),
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="Operational store (default SHIPRISK_DATABASE_URL).")
    ] = None,
) -> None:
    """Compare recent scoring with the training window: PSI per feature and score, lane shares.

    The training window's figures come from the model itself (kept at training), so no
    training data is read.
    """
    from models.monitoring import MissingDriftReference
    from models.registry import log_monitoring_report
    from serving.model_holder import registry_loader
    from serving.operations import NoRecentScores, drift_check
    from serving.settings import ServiceSettings
    from serving.store.database import Store

    settings = ServiceSettings()
    model_uri = model or settings.model_uri
    try:
        bundle, name, version = registry_loader(settings.resolved_tracking_uri())(model_uri)
    except Exception as error:
        raise fail(f"could not load {model_uri}: {type(error).__name__}: {error}") from None
    now = datetime.now(UTC)
    directory = out or Path(settings.data_dir) / "monitoring" / now.strftime("%Y%m%dT%H%M%SZ")
    store = Store.open(_store_url(database_url))
    try:
        summary, files = drift_check(
            store,
            bundle,
            model={"name": name, "version": version},
            recent=(now - timedelta(days=days), now),
            directory=directory,
        )
    except MissingDriftReference as error:
        raise fail(f"{model_uri} (version {version}): {error}") from None
    except NoRecentScores as error:
        raise fail(str(error)) from None
    finally:
        store.close()
    run_id = log_monitoring_report(
        files, summary.as_dict(), tracking_uri=settings.resolved_tracking_uri()
    )
    console.print(f"drift report in {directory} (MLflow run {run_id})", highlight=False)
    for alert in summary.alerts or ["no major shift"]:
        console.print(f"  {alert}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the operations commands to the top-level `shiprisk` app."""
    app.command("export")(export)
    app.command("monitor")(monitor)
