"""Synthetic Western Balkans customs data: declarations, outcomes, watchlist and hidden truth.

`generate` writes the four tables to a directory; `simulate` returns them as frames.
`NewTactic` switches on an optional weapons tactic that starts mid-period (off by default).
The region, offices and commodities live here only: the product learns from data.
"""

from __future__ import annotations

from training.synthetic.output import TABLES, generate, training_config, write_tables
from training.synthetic.simulation import simulate
from training.synthetic.tables import TRUTH_COLUMNS, SyntheticData
from training.synthetic.tactic import NewTactic

__all__ = [
    "TABLES",
    "TRUTH_COLUMNS",
    "NewTactic",
    "SyntheticData",
    "generate",
    "simulate",
    "training_config",
    "write_tables",
]
