"""Commands owned by training/: synth, train, evaluate, promote.

Heavy imports stay inside the command functions so that `shiprisk --help` is fast.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer


def register(app: typer.Typer) -> None:
    """Add the training commands to the top-level `shiprisk` app."""
    app.command("synth")(synth)


# -- synth -------------------------------------------------------------------------------


class TableFormat(StrEnum):
    """File format of the generated tables."""

    parquet = "parquet"
    csv = "csv"


def _iso_date(text: str) -> str:
    """Accept YYYY-MM-DD only, so a typo fails before anything is generated."""
    try:
        date.fromisoformat(text)
    except ValueError as error:
        raise typer.BadParameter(f"expected a date as YYYY-MM-DD, got {text!r}") from error
    return text


def synth(
    out: Path = typer.Option(
        Path("data/synthetic"), "--out", help="Directory to write the tables into."
    ),
    start: str = typer.Option(
        "2023-01-01", "--start", callback=_iso_date, help="First day (YYYY-MM-DD)."
    ),
    days: int = typer.Option(365, "--days", min=1, help="Number of days to simulate."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed writes the same bytes."),
    rows_per_day: int = typer.Option(
        500, "--rows-per-day", min=1, help="Declarations per day on average."
    ),
    file_format: TableFormat = typer.Option(
        TableFormat.parquet, "--format", help="parquet or csv."
    ),
    local_language_share: float | None = typer.Option(
        None,
        "--local-language-share",
        min=0.0,
        max=1.0,
        help="Share of goods descriptions written in the office country's languages and "
        "scripts (Serbian, Macedonian, Albanian, ...), the rest in English; 0 writes them all "
        "in English. Default: the generator's mix (training.synthetic.languages).",
    ),
) -> None:
    """Generate synthetic Western Balkans declarations, outcomes, watchlist and hidden truth."""
    from training.synthetic import simulate, write_tables

    # Unset, the generator's own default applies (kept there, not repeated here).
    languages: dict[str, Any] = (
        {} if local_language_share is None else {"local_language_share": local_language_share}
    )
    data = simulate(start=start, days=days, seed=seed, rows_per_day=rows_per_day, **languages)
    paths = write_tables(data, out, file_format.value)
    truth = data.truth
    typer.echo(
        f"{len(data.declarations)} declarations, {len(data.outcomes)} inspected, "
        f"{len(data.watchlist)} watchlist entries; hidden truth: "
        f"{int(truth['weapons'].sum())} weapons, {int(truth['migrants'].sum())} migrants, "
        f"{int(truth['revenue'].sum())} revenue cases"
    )
    for name, path in paths.items():
        typer.echo(f"{name}: {path}")
