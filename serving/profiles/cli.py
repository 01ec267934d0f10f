"""`shiprisk profiles list | show ID | import FILE | export [FILE] | expire ID`.

Writes (import, expire) go into the store in one transaction with their consultation record
(the recorder `serving.cli.record_command` is handed in, as for `shiprisk exchange`). Heavy
imports stay inside the command functions so that `shiprisk --help` is fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from serving.console import console, err

if TYPE_CHECKING:
    from serving.store.database import Store

Recorder = Callable[..., None]
DatabaseUrl = Annotated[
    str | None, typer.Option(help="Operational store (default SHIPRISK_DATABASE_URL).")
]


@contextmanager
def _open(database_url: str | None) -> Iterator[Store]:
    from serving.settings import store_url
    from serving.store.database import Store

    store = Store.open(store_url(database_url))
    try:
        yield store
    finally:
        store.close()


def profiles_commands(record: Recorder) -> typer.Typer:
    """The `shiprisk profiles` commands, recording their writes with ``record``."""
    app = typer.Typer(help="Risk profiles matched at scoring time.", no_args_is_help=True)

    @app.command("list")
    def list_profiles(database_url: DatabaseUrl = None) -> None:
        """Every profile: id, lane, share, in force, revision, title."""
        from serving.profiles.service import list_profiles as listed

        with _open(database_url) as store:
            found = listed(store, limit=1_000_000)
        for row in found:
            action = row.profile.action
            typer.echo(  # one line per profile, tab-separated: read by people and scripts
                f"{row.profile.id}\t{action.lane}\t{action.percent:g}%\t"
                f"{'in force' if row.in_force else 'not in force'}\t"
                f"r{row.revision}\t{row.profile.title}"
            )
        if not found:
            console.print("no risk profiles", highlight=False)

    @app.command("show")
    def show(profile_id: str, database_url: DatabaseUrl = None) -> None:
        """One profile as YAML, with its revisions (who, when, what changed)."""
        import yaml

        from serving.profiles.service import profile_detail

        with _open(database_url) as store:
            found = profile_detail(store, profile_id)
        if found is None:
            err.print(f"{profile_id}: no such profile", highlight=False)
            raise typer.Exit(1)
        console.print(
            yaml.safe_dump(found.profile.document(), sort_keys=False, allow_unicode=True),
            highlight=False,
            markup=False,
        )
        for revision in found.revisions:
            console.print(
                f"revision {revision.revision}: {revision.change} by {revision.changed_by} "
                f"at {revision.changed_at.isoformat()}",
                highlight=False,
            )

    @app.command("import")
    def import_profiles(
        path: Annotated[Path, typer.Argument(help="YAML: a list of profiles, or profiles: [...]")],
        database_url: DatabaseUrl = None,
    ) -> None:
        """Create or revise every profile of FILE, or none if any breaks a rule."""
        from serving.profiles.service import ProfilesInvalid, parse_profiles, plan_import
        from serving.store.profiles import ProfileConflict

        if not path.is_file():
            err.print(f"{path}: no such file", highlight=False)
            raise typer.Exit(2)
        try:
            profiles = parse_profiles(path.read_text(encoding="utf-8"), source=str(path))
        except ProfilesInvalid as error:
            typer.echo(str(error), err=True)  # one problem per line, never wrapped
            raise typer.Exit(2) from None
        with _open(database_url) as store:
            planned = plan_import(store, profiles, by=_who())
            try:
                record(
                    store,
                    "cli profiles import",
                    declaration_ids=[],
                    detail=_detail(created=planned.created, revised=planned.revised),
                    writes=[planned.write],
                )
            except ProfileConflict as error:
                err.print(f"{error} (changed meanwhile): nothing imported", highlight=False)
                raise typer.Exit(1) from None
        console.print(
            f"{len(planned.created)} created, {len(planned.revised)} revised, "
            f"{len(planned.unchanged)} unchanged from {path}",
            highlight=False,
        )

    @app.command("export")
    def export(
        path: Annotated[Path | None, typer.Argument(help="Output YAML (default: stdout).")] = None,
        database_url: DatabaseUrl = None,
    ) -> None:
        """Every profile's newest revision as YAML that `profiles import` reads back."""
        from serving.profiles.service import export_profiles

        with _open(database_url) as store:
            text = export_profiles(store)
        if path is None:
            typer.echo(text, nl=False)
        else:
            path.write_text(text, encoding="utf-8")
            err.print(f"wrote {path}", highlight=False)

    @app.command("expire")
    def expire(profile_id: str, database_url: DatabaseUrl = None) -> None:
        """End a profile now (a new revision; earlier ones are kept)."""
        from serving.profiles.service import plan_expiry
        from serving.store.profiles import ProfileConflict

        with _open(database_url) as store:
            try:
                planned = plan_expiry(store, profile_id, by=_who())
                record(
                    store,
                    "cli profiles expire",
                    declaration_ids=[],
                    detail=_detail(expired=[profile_id]),
                    writes=[planned.write],
                )
            except ProfileConflict as error:
                err.print(str(error), highlight=False)
                raise typer.Exit(1) from None
        console.print(f"{profile_id} expired (revision {planned.answer.revision})", highlight=False)

    return app


def _who() -> str:
    """Who the revision names: the operating-system user, as the consultation log does."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def _detail(**ids: list[str]) -> dict[str, Any]:
    return {name: values for name, values in ids.items() if values}
