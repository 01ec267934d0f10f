"""The logistic baseline chooses its features and penalty on validation, as the model does."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.baselines import LOGISTIC_C_GRID, select_logistic_baseline


def frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """One telling number among many noise columns, and a code: penalties matter here."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    X = pd.DataFrame(rng.normal(size=(n, 40)), columns=[f"noise_{i}" for i in range(40)])
    X["signal"] = signal
    X["code"] = rng.integers(0, 3, n).astype(float)
    y = (rng.random(n) < 1 / (1 + np.exp(-(2.0 * signal - 3.0)))).astype(float)
    return X, y


def test_the_candidate_validation_scores_best_is_chosen() -> None:
    X_train, y_train = frame(400, 0)
    X_valid, y_valid = frame(400, 1)
    narrow, wide = ["signal", "code"], list(X_train.columns)
    seen: list[float] = []

    def score(y: np.ndarray, scores: np.ndarray) -> float:
        seen.append(float(np.corrcoef(y, scores)[0, 1]))
        return seen[-1]

    model, features, penalty = select_logistic_baseline(
        X_train, y_train, X_valid, y_valid, [narrow, wide, narrow], ["code"], score
    )
    # Each distinct feature set with each penalty, once.
    assert len(seen) == 2 * len(LOGISTIC_C_GRID)
    best = int(np.argmax(seen))
    assert features == [narrow, wide][best // len(LOGISTIC_C_GRID)]
    assert penalty == LOGISTIC_C_GRID[best % len(LOGISTIC_C_GRID)]
    assert penalty == model.named_steps["model"].C
    assert list(model.feature_names_in_) == features


def test_a_score_that_prefers_one_candidate_gets_it() -> None:
    X_train, y_train = frame(300, 2)
    X_valid, y_valid = frame(300, 3)
    wanted = ("all", LOGISTIC_C_GRID[-1])
    candidates = iter([(s, c) for s in ("signal", "all") for c in LOGISTIC_C_GRID])

    def score(y: np.ndarray, scores: np.ndarray) -> float:
        return 1.0 if next(candidates) == wanted else 0.0

    _, features, penalty = select_logistic_baseline(
        X_train, y_train, X_valid, y_valid, [["signal"], list(X_train.columns)], [], score
    )
    assert features == list(X_train.columns)
    assert penalty == pytest.approx(wanted[1])


def test_no_feature_set_is_refused() -> None:
    X, y = frame(50, 4)
    with pytest.raises(ValueError, match="feature set"):
        select_logistic_baseline(X, y, X, y, [], [], lambda y, s: 0.0)
