"""`shiprisk watchlist import FILE`: a partner's watchlist into the store, all or nothing.

Heavy imports stay inside the command functions so that `shiprisk --help` is fast.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer

from serving.console import console, err

watchlist_app = typer.Typer(help="The watchlist read at scoring time.", no_args_is_help=True)


@watchlist_app.command("import")
def import_watchlist(
    path: Annotated[Path, typer.Argument(help="Entries: CSV, Parquet or YAML.")],
    added_by: Annotated[
        str | None, typer.Option("--by", help="Who adds them (default: your user name).")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="Operational store (default SHIPRISK_DATABASE_URL).")
    ] = None,
) -> None:
    """Add every entry of FILE to the watchlist, or none if any breaks a rule."""
    from features.validation import DataValidationError
    from serving.intelligence.service import import_file
    from serving.settings import store_url
    from serving.store.database import Store

    if not path.is_file():
        err.print(f"{path}: no such file")
        raise typer.Exit(2)
    store = Store.open(store_url(database_url))
    try:
        ids = import_file(store, path, added_by=added_by or getpass.getuser())
    except (DataValidationError, ValueError) as error:
        err.print(str(error), highlight=False)
        raise typer.Exit(2) from None
    finally:
        store.close()
    console.print(f"added {len(ids):,} watchlist entries from {path}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `shiprisk watchlist ...` to the top-level app."""
    app.add_typer(watchlist_app, name="watchlist")
