"""Commands that fit and manage models: train, evaluate, promote.

Each command validates its input, prints what a data scientist needs to decide the next
step, and exits non-zero with one clear message when something is wrong. Heavy imports stay
inside the functions so that `shiprisk --help` is fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console()
err = Console(stderr=True)

ConfigOption = Annotated[
    Path,
    typer.Option(
        "--config",
        "-c",
        help="Training configuration YAML (DESIGN.md).",
        exists=True,
        dir_okay=False,
    ),
]


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def _metrics_table(metrics: dict, baselines: dict | None = None) -> Table:
    rates = None
    table = Table(title="test window (labelled declarations)")
    table.add_column("threat", no_wrap=True)
    table.add_column("ranking", no_wrap=True)
    table.add_column("ROC-AUC", justify="right")
    table.add_column("PR-AUC", justify="right")
    for threat, values in metrics["threats"].items():
        if rates is None:
            rates = list(values["precision_at"])
            for rate in rates:
                table.add_column(f"prec@{float(rate):.0%}", justify="right", no_wrap=True)
        rows = [("shiprisk", values)]
        for name, per_threat in (baselines or {}).items():
            if threat in per_threat:
                rows.append((name.replace("_regression", ""), per_threat[threat]))
        for label, m in rows:
            cells = [_cell(m.get("roc_auc")), _cell(m.get("pr_auc"))]
            cells += [_cell(m["precision_at"].get(r)) for r in rates or []]
            table.add_row(threat, label, *cells)
    return table


def _cell(value: float | None) -> str:
    if value is None or value != value:
        return "n/a"
    return f"{value:.3f}"


def train(
    config: ConfigOption,
    metrics_out: Annotated[
        Path | None, typer.Option(help="Write the test-window metrics JSON here.")
    ] = None,
    experiment: Annotated[str, typer.Option(help="MLflow experiment name.")] = "shiprisk",
    register: Annotated[
        bool, typer.Option("--register/--no-register", help="Register the model version.")
    ] = True,
    model_name: Annotated[str | None, typer.Option(help="Registered model name.")] = None,
    dask: Annotated[
        str | None,
        typer.Option(
            "--dask",
            help="Build features and fit the final models on Dask: a scheduler address "
            "(tcp://host:8786) or local[:N] to start N local workers (default: the "
            "configuration's dask.scheduler, then SHIPRISK_DASK_SCHEDULER).",
        ),
    ] = None,
) -> None:
    """Train per-threat models on a configuration, evaluate on its test window, track in MLflow."""
    from features.validation import DataValidationError
    from training.config import load_config
    from training.pipeline import TrainingError
    from training.pipeline import train as run_training
    from training.settings import TrainingSettings
    from training.splits import SplitError

    settings = TrainingSettings()
    try:
        training_config = load_config(config)
        result = run_training(
            training_config,
            tracking_uri=settings.resolved_tracking_uri(),
            experiment=experiment,
            model_name=model_name or settings.model_name,
            register=register,
            config_path=config,
            metrics_out=metrics_out,
            dask_scheduler=dask or training_config.dask.scheduler or settings.dask_scheduler,
        )
    except (DataValidationError, SplitError, TrainingError, ValueError) as exc:
        raise _fail(str(exc)) from None
    console.print(_metrics_table(result.metrics, result.bundle.metadata.get("baselines")))
    model = result.metrics["model"]
    if result.version:
        console.print(
            f"registered [bold]{model['name']}[/] version [bold]{result.version}[/] "
            f"(alias challenger), run {result.run_id}"
        )
        console.print(f"promote it with: shiprisk promote --version {result.version}")
    else:
        console.print(f"run {result.run_id} (not registered)")
    if metrics_out:
        console.print(f"metrics written to {metrics_out}")


def evaluate(
    config: ConfigOption,
    model: Annotated[
        str, typer.Option(help="Model URI, e.g. models:/shiprisk@champion or models:/shiprisk/3.")
    ] = "models:/shiprisk@champion",
    metrics_out: Annotated[Path | None, typer.Option(help="Write the metrics JSON here.")] = None,
) -> None:
    """Evaluate a registered model on the test window of a configuration."""
    from features.dataset import load_dataset
    from features.validation import DataValidationError
    from models.manifest import BundleIntegrityError
    from models.registry import load_bundle
    from training import tracking
    from training.config import load_config
    from training.evaluation import bundle_metrics
    from training.fit import FitSettings
    from training.pipeline import _json_safe
    from training.settings import TrainingSettings
    from training.splits import SplitError, split_positions, windows_from_config

    settings = TrainingSettings()
    tracking.configure(settings.resolved_tracking_uri())
    try:
        training_config = load_config(config)
        dataset = load_dataset(training_config.source)
        positions = split_positions(
            dataset.declarations, dataset.labels, windows_from_config(training_config.split)
        )
        bundle, name, version = load_bundle(model)
        metrics, _ = bundle_metrics(
            bundle,
            dataset,
            positions["test"],
            training_config.evaluation.inspection_rates,
            bootstrap=FitSettings.from_config(training_config.model).bootstrap(),
        )
    except (DataValidationError, SplitError, BundleIntegrityError, ValueError) as exc:
        raise _fail(str(exc)) from None
    out = {"model": {"name": name, "version": version, "run_id": None}, **metrics}
    console.print(_metrics_table(out))
    if metrics_out:
        metrics_out.write_text(json.dumps(_json_safe(out), indent=2) + "\n")
        console.print(f"metrics written to {metrics_out}")


def promote(
    version: Annotated[str | None, typer.Option(help="Model version to make champion.")] = None,
    force: Annotated[
        bool, typer.Option(help="Promote even if it is worse than the champion (recorded).")
    ] = False,
    reason: Annotated[str | None, typer.Option(help="Why; recorded on the version.")] = None,
    rollback: Annotated[
        bool, typer.Option(help="Give champion back to the version the current one replaced.")
    ] = False,
    model_name: Annotated[str | None, typer.Option(help="Registered model name.")] = None,
) -> None:
    """Make a registered version champion unless it is worse on its own test window."""
    from training import tracking
    from training.promotion import PromotionError
    from training.promotion import promote as run_promotion
    from training.promotion import rollback as run_rollback
    from training.settings import TrainingSettings

    settings = TrainingSettings()
    tracking.configure(settings.resolved_tracking_uri())
    name = model_name or settings.model_name
    if rollback == (version is not None):
        raise _fail("give either --version N or --rollback")
    if force and not reason:
        raise _fail("--force needs a --reason, which is recorded on the model version")
    try:
        if rollback:
            result = run_rollback(name, reason=reason)
        else:
            assert version is not None
            result = run_promotion(name, version, force=force, reason=reason)
    except PromotionError as exc:
        raise _fail(str(exc)) from None
    from training.promotion import describe_comparison

    for threat, scores in result.comparison.items():
        console.print(f"  {describe_comparison(threat, scores)}", highlight=False)
    replaced = f" (was version {result.previous})" if result.previous else ""
    console.print(f"{name} champion is now version [bold]{result.version}[/]{replaced}")


def register(app: typer.Typer) -> None:
    """Add the model commands to the top-level `shiprisk` app."""
    app.command("train")(train)
    app.command("evaluate")(evaluate)
    app.command("promote")(promote)
