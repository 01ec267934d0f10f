"""Synthetic Western Balkans customs data: declarations, outcomes, watchlist and hidden truth.

`generate` writes the four tables to a directory; `simulate` returns them as frames.
The region, offices and commodities live here only: the product learns from data.
"""

from __future__ import annotations

from training.synthetic.output import TABLES, generate, training_config, write_tables
from training.synthetic.simulation import simulate
from training.synthetic.tables import TRUTH_COLUMNS, SyntheticData

__all__ = [
    "TABLES",
    "TRUTH_COLUMNS",
    "SyntheticData",
    "generate",
    "simulate",
    "training_config",
    "write_tables",
]
