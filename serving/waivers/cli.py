"""`shiprisk waivers codes | counts`: the exception codes, and the waivers and additions counted
per office, code, profile, waived pick and period (what GET /v1/waivers answers).

Reads only; counts hold no declaration. Heavy imports stay inside the command functions so
that `shiprisk --help` is fast.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import typer

from serving.console import console

DatabaseUrl = Annotated[
    str | None, typer.Option(help="Operational store (default SHIPRISK_DATABASE_URL).")
]


def waivers_commands() -> typer.Typer:
    """The `shiprisk waivers` commands."""
    app = typer.Typer(help="Waivers and officers' additions.", no_args_is_help=True)

    @app.command("codes")
    def codes() -> None:
        """The standard exception codes a waiver may give (SHIPRISK_WAIVER_CODES)."""
        from serving.settings import ServiceSettings

        for code in ServiceSettings().waiver_codes:
            typer.echo(f"{code.code}\t{code.label}")

    @app.command("counts")
    def counts(
        since: Annotated[
            datetime | None, typer.Option(formats=["%Y-%m-%d"], help="first day (UTC)")
        ] = None,
        until: Annotated[
            datetime | None, typer.Option(formats=["%Y-%m-%d"], help="day after the last")
        ] = None,
        period: Annotated[str, typer.Option(help="day, week or month")] = "week",
        office: Annotated[str | None, typer.Option(help="one office only")] = None,
        profile: Annotated[str | None, typer.Option(help="waivers of one profile only")] = None,
        database_url: DatabaseUrl = None,
    ) -> None:
        """Waivers and additions as JSON, counted as GET /v1/waivers counts them."""
        from serving.settings import ServiceSettings, store_url
        from serving.store.database import Store
        from serving.store.waivers import PERIODS
        from serving.waivers.service import counts as counted

        if period not in PERIODS:
            raise typer.BadParameter(f"one of {', '.join(PERIODS)}", param_hint="--period")
        store = Store.open(store_url(database_url))
        try:
            found = counted(
                store,
                since=_day(since),
                until=_day(until),
                period=period,
                offices=None if office is None else [office],
                profile_id=profile,
                codes=ServiceSettings().waiver_codes,
            )
        finally:
            store.close()
        console.print_json(found.model_dump_json())

    return app


def _day(value: datetime | None) -> date | None:
    return None if value is None else value.date()
