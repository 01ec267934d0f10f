"""Commands owned by serving/: `serve` (the HTTP service) and `score` (batch files), and the
registration of the rooms' commands (`keys`, `audit`, `export`, `monitor`, `exchange`).

Heavy imports stay inside the command functions so that `shiprisk --help` is fast.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from serving.console import ModelUri, console, err, fail

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from features.sources import SourceConfig
    from serving.scoring.batch import BatchSummary
    from serving.settings import ServiceSettings
    from serving.store.database import Store


def worker_threads(workers: int, threads: int | None, cores: int) -> int:
    """LightGBM threads per worker so that workers x threads never exceeds the cores.

    Raises:
        ValueError: the explicit ``threads`` would oversubscribe the cores.
    """
    if workers < 1:
        raise ValueError("--workers must be at least 1")
    if threads is None:
        return max(1, cores // workers)
    if threads < 1 or workers * threads > cores:
        raise ValueError(
            f"{workers} workers x {threads} threads = {workers * threads} > {cores} cores: "
            f"lower --threads to at most {max(1, cores // workers)} or use fewer workers"
        )
    return threads


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    threads: Annotated[
        int | None,
        typer.Option(help="LightGBM threads per worker (default: cores / workers)."),
    ] = None,
    model: ModelUri = None,
    access_log: Annotated[
        bool,
        typer.Option(
            "--access-log/--no-access-log",
            help="uvicorn's request lines; off by default because paths carry declaration ids "
            "(the service logs route templates, status and key id instead).",
        ),
    ] = False,
) -> None:
    """Serve risk scores over HTTP (FastAPI; OpenAPI docs at /docs)."""
    import uvicorn

    from serving.settings import available_cores

    try:
        per_worker = worker_threads(workers, threads, available_cores())
    except ValueError as error:
        raise fail(str(error)) from None
    # Worker processes build their own app from the environment (uvicorn factory mode).
    os.environ["SHIPRISK_NUM_THREADS"] = str(per_worker)
    if model is not None:
        os.environ["SHIPRISK_MODEL_URI"] = model
    console.print(
        f"serving on http://{host}:{port} with {workers} worker(s) x {per_worker} "
        f"LightGBM thread(s)",
        highlight=False,
    )
    uvicorn.run(
        "serving.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
    )


def score(
    input_path: Annotated[
        Path,
        typer.Option(
            "--input",
            "-i",
            help="Declarations, CSV or Parquet: canonical columns, or the export's own with --config.",
        ),
    ],
    output_path: Annotated[
        Path, typer.Option("--output", "-o", help="Scores, CSV or Parquet (by extension).")
    ],
    model: Annotated[
        str | None,
        typer.Option(
            "--model", help="Model URI or a bundle directory (default SHIPRISK_MODEL_URI)."
        ),
    ] = None,
    top_k: Annotated[int, typer.Option("--top-k", min=0, help="Reasons per declaration.")] = 5,
    chunk_rows: Annotated[
        int, typer.Option(min=1, help="Declarations read and scored at a time.")
    ] = 20_000,
    dask: Annotated[
        str | None,
        typer.Option(
            "--dask",
            help="Score on Dask: a scheduler address (tcp://host:8786), or local[:N] to start "
            "N local workers (default SHIPRISK_DASK_SCHEDULER). --output is then a directory "
            "of Parquet parts, and --input may be a glob or an fsspec URL (s3://...).",
        ),
    ] = None,
    partition_size: Annotated[
        str,
        typer.Option(
            help="With --dask: input bytes per partition (e.g. 64MiB; Parquet partitions "
            "hold at most 100,000 rows)."
        ),
    ] = "64MiB",
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Training configuration whose source mapping reads the input: a file in the "
            "export's own columns, mapped as for training (its file paths are not read).",
        ),
    ] = None,
) -> None:
    """Score a file of declarations in chunks, with the same results as the API."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from features.config_file import load_source_config
    from features.sources import ConfigError
    from features.validation import DataValidationError
    from serving.model.holder import ModelLoadError, local_loader, registry_loader
    from serving.scoring.batch import BatchInputError, file_format, score_file
    from serving.settings import ServiceSettings
    from serving.store.database import Store

    settings = ServiceSettings()
    model_uri = model or settings.model_uri
    try:
        source = None if config is None else load_source_config(config)
    except ConfigError as error:
        raise fail(str(error)) from None
    scheduler = dask or settings.dask_scheduler
    if scheduler:
        _score_on_dask(
            scheduler,
            str(input_path),
            str(output_path),
            model_uri,
            settings,
            top_k,
            partition_size,
            source,
            chunk_rows,
        )
        return
    try:
        file_format(input_path)
        file_format(output_path)
    except BatchInputError as error:
        raise fail(str(error)) from None
    if not input_path.is_file():
        raise fail(f"{input_path}: no such file")
    # Our own progress bar is enough; MLflow's download bar would interleave with it.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    is_directory = Path(model_uri).is_dir()
    loader = local_loader if is_directory else registry_loader(settings.resolved_tracking_uri())
    try:
        bundle, name, version = loader(model_uri)
    except Exception as error:
        raise fail(
            str(ModelLoadError(f"could not load {model_uri}: {type(error).__name__}: {error}"))
        ) from None
    console.print(f"scoring {input_path} with {name}/{version}", highlight=False)

    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as progress:
        task = progress.add_task("0 declarations", total=1.0)

        def advance(rows: int, fraction: float) -> None:
            progress.update(task, completed=fraction, description=f"{rows:,} declarations")

        # entity history and the watchlist come from the operational store, as for the API
        store = Store.open(settings.resolved_database_url())
        try:
            summary = score_file(
                input_path,
                output_path,
                bundle,
                name,
                version,
                top_k=top_k,
                num_threads=settings.lightgbm_threads(),
                chunk_rows=chunk_rows,
                on_chunk=advance,
                source=source,
                store=store,
            )
        except (BatchInputError, ConfigError, DataValidationError) as error:
            raise fail(str(error)) from None
        finally:
            store.close()
    _print_written(summary)


def _print_written(summary: BatchSummary) -> None:
    """What `score` wrote: rows, where, and how many went to each lane."""
    lanes = ", ".join(f"{lane} {count:,}" for lane, count in sorted(summary.lanes.items()))
    console.print(
        f"wrote {summary.rows:,} scored declarations to {summary.output} ({lanes or 'none'})",
        highlight=False,
    )


def _score_on_dask(
    scheduler: str,
    source: str,
    output_dir: str,
    model_uri: str,
    settings: ServiceSettings,
    top_k: int,
    partition_size: str,
    mapping: SourceConfig | None,
    chunk_rows: int,
) -> None:
    """`score --dask`: the bundle verified here, sent to the workers, mapped over partitions
    (in the export's own columns when ``mapping``, a configuration's `source`, is given)."""
    import tempfile

    from features.sources import ConfigError
    from features.validation import DataValidationError
    from models.cluster import dask_client
    from models.manifest import MANIFEST_FILE
    from models.registry import load_bundle
    from serving.scoring.batch import BatchInputError
    from serving.scoring.dask_batch import score_on_dask
    from serving.store.database import upgrade_to_head

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    with tempfile.TemporaryDirectory(prefix="shiprisk-score-") as download:
        try:
            if Path(model_uri).is_dir():
                bundle_dir, name, version = Path(model_uri), None, "local"
            else:
                _, name, version = load_bundle(
                    model_uri, dst_path=download, tracking_uri=settings.resolved_tracking_uri()
                )
                bundle_dir = next(Path(download).rglob(MANIFEST_FILE)).parent
        except Exception as error:
            raise fail(f"could not load {model_uri}: {type(error).__name__}: {error}") from None
        if name is None:
            name = str(json.loads((bundle_dir / MANIFEST_FILE).read_text()).get("name", "shiprisk"))
        try:
            # entity history and the watchlist come from the operational store, as in one
            # process: brought to the newest schema here, read by every worker
            database_url = settings.resolved_database_url()
            upgrade_to_head(database_url)
            with dask_client(scheduler) as client:
                info = client.scheduler_info()
                console.print(
                    f"scoring {source} with {name}/{version} on Dask "
                    f"({len(info['workers'])} workers at {info['address']})",
                    highlight=False,
                )
                summary = score_on_dask(
                    client,
                    source,
                    output_dir,
                    bundle_dir,
                    name,
                    version,
                    top_k=top_k,
                    partition_size=partition_size,
                    chunk_rows=chunk_rows,
                    database_url=database_url,
                    mapping=mapping,
                )
        except (BatchInputError, ConfigError, DataValidationError, ValueError, OSError) as error:
            raise fail(str(error)) from None
    _print_written(summary)


def record_command(
    store: Store,
    route: str,
    *,
    declaration_ids: Sequence[str],
    detail: dict[str, Any],
    writes: Sequence[Callable[[Session], object]],
) -> None:
    """A room command's consultation record, with the command's writes in the same commit
    (`serving.exchange.cli.CommandRecorder`): a failed write is raised as itself."""
    from datetime import UTC, datetime

    from serving.access.settings import InsecureSettings
    from serving.audit.chain import AuditEvent, AuditKey
    from serving.audit.records import AuditLog, AuditWriteError, RequestWriteError
    from serving.exchange.cli import actor
    from serving.settings import ServiceSettings

    settings = ServiceSettings()
    try:
        log = AuditLog(AuditKey(settings.audit_key_secret(settings.data_dir)))
    except InsecureSettings as error:
        raise fail(str(error)) from None
    event = AuditEvent(
        recorded_at=datetime.now(UTC),
        key_id="cli",
        key_name=actor(),
        role="admin",
        route=route,
        declaration_ids=tuple(declaration_ids),
        detail=detail,
    )
    try:
        log.append(store, event, writes)
    except RequestWriteError as failed:
        raise failed.error from None
    except AuditWriteError as error:
        raise fail(str(error)) from None


def register(app: typer.Typer) -> None:
    """Add the serving commands to the top-level `shiprisk` app, each from the room owning it."""
    from serving.audit.cli import register as register_keys_and_audit
    from serving.exchange.cli import exchange_commands
    from serving.inspections.cli import export
    from serving.intelligence.cli import register as register_watchlist
    from serving.model.cli import monitor
    from serving.profiles.cli import profiles_commands
    from serving.waivers.cli import waivers_commands

    app.command("serve")(serve)
    app.command("score")(score)
    register_keys_and_audit(app)
    app.command("export")(export)
    register_watchlist(app)
    app.command("monitor")(monitor)
    app.add_typer(exchange_commands(record_command), name="exchange")
    app.add_typer(profiles_commands(record_command), name="profiles")
    app.add_typer(waivers_commands(), name="waivers")
