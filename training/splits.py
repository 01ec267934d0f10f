"""Time splits: train, valid and test windows by lodging date, inclusive.

A random split would let a model learn from the future of the declarations it is scored on;
customs data drifts (new routes, new concealments), so every window lies strictly after the
one it is compared with.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

WINDOWS = ("train", "valid", "test")


class SplitError(ValueError):
    """A split window that cannot be used: empty, or without labelled declarations."""


@dataclass(frozen=True)
class Window:
    """One inclusive date window of the training configuration."""

    name: str
    start: dt.date
    end: dt.date

    def mask(self, lodged_at: pd.Series) -> np.ndarray:
        """True for declarations lodged on a date (UTC) inside the window."""
        days = lodged_at.dt.tz_convert("UTC").dt.date
        return np.asarray((days >= self.start) & (days <= self.end), dtype=bool)

    def as_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


def windows_from_config(split: object) -> dict[str, Window]:
    """Read the three windows of the configuration's ``split`` section."""
    windows = {}
    for name in WINDOWS:
        start, end = getattr(split, name)
        windows[name] = Window(name, _as_date(start), _as_date(end))
    return windows


def _as_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def split_positions(
    declarations: pd.DataFrame,
    labels: pd.DataFrame,
    windows: dict[str, Window],
) -> dict[str, np.ndarray]:
    """Row positions of each window, after checking every window can be used.

    Raises:
        SplitError: listing every window that holds no declarations, no labelled
            declarations, or no positive training example of a threat, with the data's
            actual date range so the fix is obvious.
    """
    lodged = declarations["lodged_at"]
    span = f"the data covers {lodged.min():%Y-%m-%d} to {lodged.max():%Y-%m-%d}"
    problems = []
    positions = {}
    for name, window in windows.items():
        mask = window.mask(lodged)
        positions[name] = np.flatnonzero(mask)
        if not mask.any():
            problems.append(
                f"split.{name} [{window.start} .. {window.end}] holds no declarations ({span}); "
                "set the window inside the data's dates"
            )
            continue
        inspected = labels["inspected"].to_numpy(dtype=bool)[mask]
        if not inspected.any():
            problems.append(
                f"split.{name} [{window.start} .. {window.end}] holds {mask.sum()} declarations "
                "but none was inspected, so nothing can be learned or measured there"
            )
    ordered = [windows[n] for n in WINDOWS if n in windows]
    for earlier, later in itertools.pairwise(ordered):
        if later.start <= earlier.end:
            problems.append(
                f"split.{later.name} starts {later.start}, not after split.{earlier.name} ends "
                f"{earlier.end}: windows must follow each other in time"
            )
    if problems:
        raise SplitError("the split cannot be used:\n  - " + "\n  - ".join(problems))
    return positions
