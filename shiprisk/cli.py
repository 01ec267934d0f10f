"""The one `shiprisk` command. Each sub-command lives with the folder that owns it."""

from __future__ import annotations

import typer

from training import cli as training_cli
from training import commands as model_commands

app = typer.Typer(
    name="shiprisk",
    help="Risk scoring for customs declarations: synthetic data, training, promotion and serving.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

training_cli.register(app)
model_commands.register(app)


def main() -> None:
    """Entry point of the console script."""
    app()
