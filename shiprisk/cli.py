"""The one `shiprisk` command. Each sub-command lives with the folder that owns it."""

from __future__ import annotations

import os

import typer

from serving import cli as serving_cli
from shiprisk.demo import demo
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
serving_cli.register(app)
app.command("demo")(demo)


def main() -> None:
    """Entry point of the console script."""
    # Idle OpenMP threads sleep instead of spinning: with a web server, a database and
    # LightGBM sharing two cores, spinning threads slow each other down tenfold. It must be
    # set before lightgbm is loaded, which every command does lazily.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    app()


if __name__ == "__main__":
    main()
