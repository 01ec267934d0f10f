"""The hidden truth the threat steps plant, and the `World` they plant it in.

Every threat step (`weapons.plant_weapons`, `migrants.plant_migrants`,
`revenue.plant_revenue`, run in that order) takes the generator and a `World`: it changes
the rows it plants in the traffic, parties and goods, and records in `Truth` what an
inspection would find and who is behind it. The watchlist step lists some of those bad
actors; the selection step decides what the inspections find.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from training.synthetic.goods import Goods
from training.synthetic.parties import Parties
from training.synthetic.traffic import Traffic


@dataclass
class Truth:
    """Per row: the scheme behind each planted case (None where none), people hidden and duty
    evaded. Besides, the bad actors by registry key: each threat's repeat vehicles, the
    online sellers of weapon parts per dispatch country, the smugglers' hauliers and the
    importers who evade duty again and again."""

    weapons_scheme: np.ndarray
    migrants_scheme: np.ndarray
    revenue_scheme: np.ndarray
    migrants_count: np.ndarray
    additional_duty: np.ndarray
    bad_vehicles: dict[str, np.ndarray] = field(default_factory=dict)
    bad_sellers: dict[str, np.ndarray] = field(default_factory=dict)
    smuggler_hauliers: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    bad_importers: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    @classmethod
    def nothing_planted(cls, n: int) -> Truth:
        """`n` clean rows."""
        return cls(
            weapons_scheme=np.full(n, None, dtype=object),
            migrants_scheme=np.full(n, None, dtype=object),
            revenue_scheme=np.full(n, None, dtype=object),
            migrants_count=np.zeros(n, dtype=np.int64),
            additional_duty=np.zeros(n),
        )


def planted(schemes: np.ndarray) -> np.ndarray:
    """Rows where a scheme was planted (the scheme arrays hold None elsewhere)."""
    return np.asarray(pd.notna(schemes), dtype=bool)


@dataclass(frozen=True)
class World:
    """What a threat step reads and changes: the tables built so far, the truth it adds to,
    the number of days and the first day of drift (threats change their schemes from it)."""

    traffic: Traffic
    parties: Parties
    goods: Goods
    truth: Truth
    days: int
    drift_day: int
