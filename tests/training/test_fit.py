"""Model selection of several threats at once chooses what one threat at a time chooses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.fit import FitSettings
from training.selection import SelectionRows, select_threat_models

GROUPS = {
    "value": ["unit_value", "mass"],
    "codes": ["hs_chapter"],
    "history": ["importer_hits"],
    "calendar": ["lodged_hour"],
}
CATEGORICAL = ["hs_chapter"]
RATES = [0.05, 0.1]


def _rows(seed: int, signal: str) -> SelectionRows:
    """Labelled rows whose label follows one feature (``signal``) and noise."""
    rng = np.random.default_rng(seed)

    def frame(n: int) -> tuple[pd.DataFrame, np.ndarray]:
        X = pd.DataFrame(
            {
                "unit_value": rng.normal(size=n),
                "mass": rng.normal(size=n),
                "hs_chapter": rng.integers(0, 8, size=n).astype(float),
                "importer_hits": rng.poisson(1.0, size=n).astype(float),
                "lodged_hour": rng.integers(0, 24, size=n).astype(float),
            }
        )
        logit = -3.0 + 1.5 * X[signal].to_numpy() + rng.normal(scale=0.5, size=n)
        y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(float)
        return X, y

    X_train, y_train = frame(3000)
    X_valid, y_valid = frame(1500)
    return SelectionRows(X_train, y_train, np.ones(len(y_train)), X_valid, y_valid)


@pytest.mark.parametrize("threads", [1, 2])
def test_threats_selected_together_match_one_at_a_time(threads: int) -> None:
    rows = {"weapons": _rows(1, "importer_hits"), "revenue": _rows(2, "unit_value")}
    settings = FitSettings(
        num_threads=threads,
        num_boost_round=120,
        early_stopping_rounds=15,
        sizes=("small", "medium"),
    )
    together = select_threat_models(rows, GROUPS, CATEGORICAL, RATES, settings)
    assert list(together) == ["weapons", "revenue"]
    one_thread = FitSettings(
        num_threads=1, num_boost_round=120, early_stopping_rounds=15, sizes=("small", "medium")
    )
    for threat, threat_rows in rows.items():
        # Alone: one threat, so no second worker, on one thread.
        alone = select_threat_models({threat: threat_rows}, GROUPS, CATEGORICAL, RATES, one_thread)[
            threat
        ]
        chosen = together[threat]
        assert chosen.threat == threat
        assert (chosen.size, chosen.dropped_groups, chosen.features) == (
            alone.size,
            alone.dropped_groups,
            alone.features,
        )
        assert [t.as_dict() for t in chosen.trials] == [t.as_dict() for t in alone.trials]
        # Two sizes and the two optional groups were tried, each stopped early on validation.
        assert len(chosen.trials) == 4
        assert all(0 < t.best_iteration < 120 for t in chosen.trials)
        assert chosen.booster.model_to_string() == alone.booster.model_to_string()


def test_each_threat_keeps_the_group_that_carries_its_signal() -> None:
    rows = {"weapons": _rows(3, "importer_hits"), "revenue": _rows(4, "lodged_hour")}
    settings = FitSettings(
        num_threads=2, num_boost_round=120, early_stopping_rounds=15, sizes=("small",)
    )
    chosen = select_threat_models(rows, GROUPS, CATEGORICAL, RATES, settings)
    assert "history" not in chosen["weapons"].dropped_groups
    assert "importer_hits" in chosen["weapons"].features
    assert "calendar" not in chosen["revenue"].dropped_groups
    assert "lodged_hour" in chosen["revenue"].features
