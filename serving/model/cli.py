"""`shiprisk monitor`: compare recent scoring with the training window (drift).

Heavy imports stay inside the command function so that `shiprisk --help` is fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from serving.console import console, fail


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
    weeks: Annotated[
        int | None,
        typer.Option(
            min=1, help="Weeks of outcomes for the hit rates (default SHIPRISK_MONITOR_WEEKS)."
        ),
    ] = None,
) -> None:
    """Hit rates of stored outcomes (model picks against random picks, per threat and week),
    then recent scoring against the training window: PSI per feature and score, lane shares.

    The training window's figures come from the model itself (kept at training), so no
    training data is read.
    """
    from models.monitoring import MissingDriftReference
    from models.registry import log_monitoring_report
    from serving.model.holder import registry_loader
    from serving.model.monitor import NoRecentScores, drift_check
    from serving.model.performance import performance_check, performance_settings
    from serving.settings import ServiceSettings, store_url
    from serving.store.database import Store

    settings = ServiceSettings()
    if weeks is not None:
        settings = settings.model_copy(update={"monitor_weeks": weeks})
    store = Store.open(store_url(database_url))
    try:
        performance = performance_check(store, performance_settings(settings))
    finally:
        store.close()
    show_performance(performance)
    model_uri = model or settings.model_uri
    try:
        bundle, name, version = registry_loader(settings.resolved_tracking_uri())(model_uri)
    except Exception as error:
        raise fail(f"could not load {model_uri}: {type(error).__name__}: {error}") from None
    now = datetime.now(UTC)
    directory = out or Path(settings.data_dir) / "monitoring" / now.strftime("%Y%m%dT%H%M%SZ")
    store = Store.open(store_url(database_url))
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


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def show_performance(summary: Mapping[str, Any]) -> None:
    """Print the performance figures: per threat, the window's hit rates and its state."""
    window = summary["window"]
    if not summary["inspections"]:
        console.print("performance: no outcomes recorded yet", highlight=False)
        return
    console.print(
        f"performance over {window['weeks']} week(s), {window['start']} to {window['end']} "
        f"({summary['inspections']} inspected declarations):",
        highlight=False,
    )
    for threat, figures in summary["threats"].items():
        values = figures["window"]
        model, random_picks = values["model"], values["random"]
        interval = random_picks["interval"]
        shown = "" if interval is None else f" [{interval[0]:.1%}, {interval[1]:.1%}]"
        console.print(
            f"  {threat}: model picks {_percent(model['rate'])} of {model['n']}, random picks "
            f"{_percent(random_picks['rate'])} of {random_picks['n']}{shown}, estimated rate "
            f"{_percent(values['estimated_rate'])}: {figures['state']}",
            highlight=False,
        )
    for alert in summary["alerts"]:
        console.print(f"  alert: {alert}", highlight=False)
