"""The terminal side of serving's commands (`serve`, `score`, `export`, `monitor`, `keys`,
`audit`): the options several of them take, spelled once; results on standard output, and
one form for errors on standard error."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

console = Console()
err = Console(stderr=True)

ModelUri = Annotated[
    str | None, typer.Option("--model", help="Model URI (default SHIPRISK_MODEL_URI).")
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="Operational store (default SHIPRISK_DATABASE_URL)."),
]


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``message`` as an error (rich markup in it escaped); return the exit to raise
    (code 2, a usage or input problem, unless told otherwise)."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code=code)
