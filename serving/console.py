"""Terminal output of serving's commands (`serve`, `score`, `export`, `monitor`, `keys`,
`audit`): results on standard output, and one form for errors on standard error."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

console = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``message`` as an error (rich markup in it escaped); return the exit to raise
    (code 2, a usage or input problem, unless told otherwise)."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code=code)
