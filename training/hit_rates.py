"""Hit rates that do not fool themselves: the model's own rate next to an unbiased estimate.

The hit rate of model-selected inspections says how well the model picks, but it is no
estimate of how common a threat is: the model looks where it expects hits. Declarations
inspected with a known selection probability (random exploration picks, and model picks with
probability 1) allow a Horvitz-Thompson estimate of the rate over every declaration of the
window: each inspected hit counts ``1 / probability`` declarations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.schema import label_column
from models.estimates import RateEstimate, horvitz_thompson_rate

__all__ = ["HitRates", "RateEstimate", "hit_rates", "horvitz_thompson_rate"]


@dataclass(frozen=True)
class HitRates:
    """One threat's hit rates in a window of declarations."""

    threat: str
    declarations: int  # every declaration of the window, inspected or not
    inspected: int
    model_selected: int
    model_selected_hit_rate: float | None  # hits per model-selected inspection
    random_selected: int
    random_hit_rate: float | None  # raw hits per random inspection (a pool rate, not weighted)
    estimated_rate: float | None  # Horvitz-Thompson over known-probability inspections
    estimated_rate_se: float | None
    unknown_probability: int  # inspections left out: no known selection probability

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for the metrics file."""
        return asdict(self)


def _share(hits: np.ndarray) -> float | None:
    return float(hits.mean()) if len(hits) else None


def hit_rates(labels: pd.DataFrame, threats: Sequence[str]) -> dict[str, HitRates]:
    """Hit rates per threat from a labels frame (docs/internals.md, `features.dataset`).

    ``labels`` covers every declaration of the window, inspected or not: its length is the
    population. Inspections whose selection probability is unknown (officer, intelligence)
    are left out of the estimate and counted in ``unknown_probability``; if there are any, the
    estimate undercounts by their hits. Without any random inspection there is no estimate.
    """
    inspected = labels["inspected"].to_numpy(dtype=bool)
    reason = labels["selection_reason"].astype(object).to_numpy()
    probability = labels["selection_probability"].to_numpy(dtype=float)
    known = inspected & np.isfinite(probability) & (probability > 0)
    model = inspected & (reason == "model")
    random = inspected & (reason == "random")
    results = {}
    for threat in threats:
        y = labels[label_column(threat)].to_numpy(dtype=float)
        labelled = ~np.isnan(y)
        sample = known & labelled
        estimate = (
            horvitz_thompson_rate(y[sample], np.minimum(probability[sample], 1.0), len(labels))
            if np.any(random & sample)
            else None
        )
        results[threat] = HitRates(
            threat=threat,
            declarations=len(labels),
            inspected=int(inspected.sum()),
            model_selected=int((model & labelled).sum()),
            model_selected_hit_rate=_share(y[model & labelled]),
            random_selected=int((random & labelled).sum()),
            random_hit_rate=_share(y[random & labelled]),
            estimated_rate=None if estimate is None else estimate.rate,
            estimated_rate_se=None if estimate is None else estimate.standard_error,
            unknown_probability=int((inspected & labelled & ~known).sum()),
        )
    return results
