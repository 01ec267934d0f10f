"""`shiprisk demo`: synthetic data, training, registration, promotion and a running service.

One command shows a newcomer the whole path a customs administration takes: its export
(here synthetic) is validated and learned from, the model version is registered and made
champion, and the service answers a scoring request with reasons.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console

console = Console()

DEMO_START = dt.date(2024, 1, 1)


def demo_split(start: dt.date, days: int) -> dict[str, list[str]]:
    """Train on the oldest ~70% of days, validate on the next ~15%, test on the newest ~15%."""
    if days < 60:
        raise typer.BadParameter("the demo needs at least 60 days of data", param_hint="--days")
    end = start + dt.timedelta(days=days - 1)
    window = max(14, days * 15 // 100)
    test_start = end - dt.timedelta(days=window - 1)
    valid_start = test_start - dt.timedelta(days=window)
    return {
        "train": [str(start), str(valid_start - dt.timedelta(days=1))],
        "valid": [str(valid_start), str(test_start - dt.timedelta(days=1))],
        "test": [str(test_start), str(end)],
    }


def earlier_split(split: dict[str, list[str]]) -> dict[str, list[str]]:
    """The windows ending one test window earlier (training starts on the same first day):
    what was known before the newest data came."""
    test_start, test_end = (dt.date.fromisoformat(day) for day in split["test"])
    shift = test_end - test_start + dt.timedelta(days=1)
    earlier = {
        name: [str(dt.date.fromisoformat(day) - shift) for day in days]
        for name, days in split.items()
    }
    earlier["train"][0] = split["train"][0]
    return earlier


def write_demo_config(data_dir: Path, days: int, *, earlier: bool = False) -> Path:
    """The training configuration of the demo data, written beside it.

    With ``earlier``, every window ends one test window sooner: the model the demo retrains.
    """
    from training.synthetic import TABLES, training_config

    synthetic = data_dir / "synthetic"
    split = demo_split(DEMO_START, days)
    config = training_config(
        {table: (synthetic / f"{table}.parquet").resolve() for table in TABLES},
        earlier_split(split) if earlier else split,
        evaluation={"inspection_rates": [0.01, 0.02, 0.05, 0.1]},
    )
    path = data_dir / ("demo_earlier.yaml" if earlier else "demo.yaml")
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def example_request(declarations: Path, port: int, key: str = "<officer key>") -> str:
    """A curl command that scores one of the demo's newest declarations with an officer key."""
    import pandas as pd

    row = pd.read_parquet(declarations).tail(1)
    record = json.loads(row.to_json(orient="records", date_format="iso"))[0]
    payload = {k: v for k, v in record.items() if v is not None}
    body = json.dumps({"declarations": [payload]})
    return (
        f"curl -s -X POST http://127.0.0.1:{port}/v1/scores "
        f"-H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' -d '{body}'"
    )


def demo_keys(data_dir: Path) -> dict[str, str]:
    """Make one API key per role in the store the demo's service will open."""
    import os
    from datetime import UTC, datetime

    from serving.access.key_store import add_key
    from serving.access.keys import Role, new_key
    from serving.settings import ServiceSettings
    from serving.store.database import Store

    # The service reads SHIPRISK_DATA_DIR; without it, the demo's data directory (see demo()).
    settings = ServiceSettings()
    if "SHIPRISK_DATA_DIR" not in os.environ:
        settings = ServiceSettings(data_dir=data_dir)
    store = Store.open(settings.resolved_database_url())
    keys: dict[str, str] = {}
    try:
        with store.transaction() as session:
            for role in Role:
                text, key = new_key(
                    f"demo {role.value}",
                    role,
                    pepper=settings.pepper(),
                    created_at=datetime.now(UTC),
                )
                add_key(session, key)
                keys[role.value] = text
    finally:
        store.close()
    return keys


def _promote(name: str, version: str) -> None:
    """Promote on evidence; a refusal is shown and the champion stays (never forced here)."""
    from training.promotion import PromotionError, describe_comparison, promote

    try:
        promotion = promote(name, version)
    except PromotionError as why:
        console.print(f"version {version} not promoted: {why}", highlight=False)
        return
    for threat, compared in promotion.comparison.items():
        console.print(f"  {describe_comparison(threat, compared)}", highlight=False)
    console.print(f"{name} version {promotion.version} is champion")


def demo(
    data_dir: Annotated[Path, typer.Option(help="Where the synthetic data goes.")] = Path("data"),
    days: Annotated[int, typer.Option(min=60, help="Days of synthetic declarations.")] = 120,
    rows_per_day: Annotated[int, typer.Option(min=50, help="Declarations per day.")] = 400,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic data.")] = 7,
    port: Annotated[int, typer.Option(help="Port of the service.")] = 8000,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Start the service at the end.")
    ] = True,
) -> None:
    """Generate synthetic data, train, register, promote a champion and serve it."""
    from training import tracking
    from training.settings import TrainingSettings
    from training.synthetic import generate

    settings = TrainingSettings()
    console.rule("1. synthetic declarations, outcomes and watchlist")
    paths = generate(
        data_dir / "synthetic",
        start=DEMO_START,
        days=days,
        seed=seed,
        rows_per_day=rows_per_day,
    )
    console.print(f"{days * rows_per_day:,} declarations in {data_dir / 'synthetic'}")

    console.rule("2. a first model on the older data, tracked in MLflow and registered")
    from training.commands import _metrics_table
    from training.config import load_config
    from training.pipeline import train

    tracking.configure(settings.resolved_tracking_uri())
    earlier_path = write_demo_config(data_dir, days, earlier=True)
    first = train(
        load_config(earlier_path),
        tracking_uri=settings.resolved_tracking_uri(),
        model_name=settings.model_name,
        config_path=earlier_path,
    )
    assert first.version is not None
    _promote(settings.model_name, first.version)

    console.rule("3. a retrain on the newer data, promoted on evidence (no --force)")
    config_path = write_demo_config(data_dir, days)
    result = train(
        load_config(config_path),
        tracking_uri=settings.resolved_tracking_uri(),
        model_name=settings.model_name,
        config_path=config_path,
        metrics_out=data_dir / "metrics.json",
    )
    console.print(_metrics_table(result.metrics, result.bundle.metadata.get("baselines")))
    assert result.version is not None
    _promote(settings.model_name, result.version)

    console.rule("4. API keys, one per role (shown once; only their hashes are kept)")
    keys = demo_keys(data_dir)
    for role, text in keys.items():
        console.print(f"{role:<13} {text}", highlight=False, soft_wrap=True)

    console.rule("5. the service")
    console.print("score one declaration with:\n")
    console.print(
        example_request(paths["declarations"], port, keys["officer"]),
        soft_wrap=True,
        highlight=False,
    )
    console.print()
    if serve:
        import os

        from serving.cli import serve as run_server

        os.environ.setdefault("SHIPRISK_DATA_DIR", str(data_dir))  # where the keys were made

        run_server(
            host="127.0.0.1", port=port, workers=1, threads=None, model=None, access_log=False
        )
