"""Commands owned by training/: synth, train, evaluate, promote.

Heavy imports stay inside the command functions so that `shiprisk --help` is fast.
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the training commands to the top-level `shiprisk` app."""
