"""Model selection: each threat's model size, then its feature groups, chosen on validation.

Every administration's data differs, so nothing here is fixed in advance: a larger model or
a feature group stays only if it improves validation precision at the configured inspection
rates. The steps (`fit_candidate`, `best_size`, `search_groups`) are public so that Dask can
run them as tasks on its workers (`training.dask_training.select_on_dask`); one process runs
them through `select_threat_models`. Fitting one booster is `training.fit`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import lightgbm as lgb
import numpy as np
import pandas as pd

from training.fit import FitSettings, ThreatModel, Trial, fit_booster, monotone_directions
from training.metrics import selection_score, threat_metrics

# Groups that are always kept: without them a model has nothing to stand on.
CORE_GROUPS = frozenset({"value", "codes"})
MIN_VALID_POSITIVES = 3


def _valid_score(
    booster: lgb.Booster,
    X_valid: pd.DataFrame,
    y_valid: np.ndarray,
    features: Sequence[str],
    rates: Sequence[float],
    settings: FitSettings,
) -> float:
    margin = np.asarray(
        booster.predict(
            X_valid[list(features)],
            raw_score=True,
            num_iteration=booster.best_iteration or None,
            num_threads=settings.threads(),
        )
    )
    return selection_score(threat_metrics(y_valid, margin, rates))


@dataclass(frozen=True)
class SelectionRows:
    """One threat's labelled rows: training rows with their weights, and validation rows."""

    X_train: pd.DataFrame
    y_train: np.ndarray
    w_train: np.ndarray
    X_valid: pd.DataFrame
    y_valid: np.ndarray


@dataclass(frozen=True)
class SelectionPositions:
    """One threat's labelled rows by position in the feature table: what `SelectionRows`
    takes from it, small enough to send where the features already are."""

    train: np.ndarray
    y_train: np.ndarray
    w_train: np.ndarray
    valid: np.ndarray
    y_valid: np.ndarray

    def rows(self, features: pd.DataFrame) -> SelectionRows:
        """The rows of ``features`` (indexed by position) these positions name."""
        return SelectionRows(
            features.loc[self.train],
            self.y_train,
            self.w_train,
            features.loc[self.valid],
            self.y_valid,
        )


def select_threat_models(
    rows: Mapping[str, SelectionRows],
    feature_groups: Mapping[str, Sequence[str]],
    categorical: Sequence[str],
    rates: Sequence[float],
    settings: FitSettings,
) -> dict[str, ThreatModel]:
    """`select_threat_model` for every threat of ``rows``, up to ``settings.threads()`` at once.

    Every candidate is fitted on one thread and the threats share the cores instead: the
    labelled rows are few (tens of thousands at a million declarations), so the threads of
    one fit mostly wait for each other at every histogram, and on a loaded machine a 2-thread
    fit took 14 times the wall time of a 1-thread fit (bench/RESULTS.md). A fit on one thread
    does not depend on what runs beside it, so the choice is the same however the threats
    were scheduled.
    """
    one_thread = replace(settings, num_threads=1)

    def select(threat: str) -> ThreatModel:
        threat_rows = rows[threat]
        return select_threat_model(
            threat,
            threat_rows.X_train,
            threat_rows.y_train,
            threat_rows.w_train,
            threat_rows.X_valid,
            threat_rows.y_valid,
            feature_groups,
            categorical,
            rates,
            one_thread,
        )

    workers = min(settings.threads(), len(rows))
    if workers <= 1:
        return {threat: select(threat) for threat in rows}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="selection") as pool:
        chosen = {threat: pool.submit(select, threat) for threat in rows}
        return {threat: future.result() for threat, future in chosen.items()}


def select_threat_model(
    threat: str,
    X_train: pd.DataFrame,
    y_train: np.ndarray,
    w_train: np.ndarray,
    X_valid: pd.DataFrame,
    y_valid: np.ndarray,
    feature_groups: Mapping[str, Sequence[str]],
    categorical: Sequence[str],
    rates: Sequence[float],
    settings: FitSettings,
) -> ThreatModel:
    """Choose model size, then feature groups, on validation precision at inspection rates.

    Sizes are tried smallest first and a larger one is kept only when it scores strictly
    better (`best_size`). Then each optional feature group is dropped in turn and stays
    dropped when the validation score without it is at least as good (`search_groups`).
    With too few validation positives to compare anything, the medium size and all groups
    are used and the reason is recorded.
    """
    rows = SelectionRows(X_train, y_train, w_train, X_valid, y_valid)
    if np.nansum(y_valid) < MIN_VALID_POSITIVES:
        return unselected_model(threat, rows, feature_groups, categorical, settings)
    sizes = [
        fit_candidate(threat, rows, feature_groups, categorical, rates, settings, size)
        for size in settings.sizes
    ]
    return search_groups(threat, rows, feature_groups, categorical, rates, settings, sizes)


@dataclass
class Candidate:
    """One fitted candidate of a threat's selection: its trial and its booster."""

    trial: Trial
    booster: lgb.Booster


def _threat_booster(
    threat: str,
    rows: SelectionRows,
    feature_groups: Mapping[str, Sequence[str]],
    features: Sequence[str],
    categorical: Sequence[str],
    size: str,
    settings: FitSettings,
    rounds: int | None = None,
) -> lgb.Booster:
    """A booster of ``threat`` on ``features`` with the threat's monotone directions: early
    stopping on the validation rows, or ``rounds`` rounds without them."""
    all_features = [f for group in feature_groups.values() for f in group]
    directions = monotone_directions(threat, all_features) if settings.monotone else {}
    stop = rounds is None
    return fit_booster(
        rows.X_train,
        rows.y_train,
        rows.w_train,
        rows.X_valid if stop else None,
        rows.y_valid if stop else None,
        features,
        categorical,
        size,
        settings,
        num_boost_round=rounds,
        directions=directions,
    )


def fit_candidate(
    threat: str,
    rows: SelectionRows,
    feature_groups: Mapping[str, Sequence[str]],
    categorical: Sequence[str],
    rates: Sequence[float],
    settings: FitSettings,
    size: str,
    dropped: tuple[str, ...] = (),
) -> Candidate:
    """Fit one candidate (a size, without the ``dropped`` groups), early stopping on the
    validation rows, and score it on validation precision at the inspection rates."""
    features = [f for g, fs in feature_groups.items() if g not in dropped for f in fs]
    booster = _threat_booster(threat, rows, feature_groups, features, categorical, size, settings)
    score = _valid_score(booster, rows.X_valid, rows.y_valid, features, rates, settings)
    return Candidate(Trial(size, dropped, int(booster.best_iteration or 0), score), booster)


def best_size(sizes: Sequence[Candidate]) -> Candidate:
    """The candidate of the chosen size, of the sizes fitted smallest first with every
    group: a larger size is kept only when it scores strictly better."""
    best = sizes[0]
    for candidate in sizes[1:]:
        if candidate.trial.valid_score > best.trial.valid_score:
            best = candidate
    return best


def search_groups(
    threat: str,
    rows: SelectionRows,
    feature_groups: Mapping[str, Sequence[str]],
    categorical: Sequence[str],
    rates: Sequence[float],
    settings: FitSettings,
    sizes: Sequence[Candidate],
) -> ThreatModel:
    """The threat's model from its size candidates (`best_size`): each optional feature
    group dropped in turn at the chosen size, staying dropped when the validation score
    without it is at least as good. Each step reads the one before, so this part is
    sequential."""
    trials = [candidate.trial for candidate in sizes]
    chosen = best_size(sizes)
    size, best_score, best_booster = chosen.trial.size, chosen.trial.valid_score, chosen.booster
    dropped: list[str] = []
    if settings.select_groups:
        for group in feature_groups:
            if group in CORE_GROUPS or not feature_groups[group]:
                continue
            remaining = [g for g in feature_groups if g not in dropped and g != group]
            if not any(feature_groups[g] for g in remaining):
                continue
            candidate = fit_candidate(
                threat, rows, feature_groups, categorical, rates, settings, size, (*dropped, group)
            )
            trials.append(candidate.trial)
            if candidate.trial.valid_score >= best_score:
                dropped.append(group)
                best_score, best_booster = candidate.trial.valid_score, candidate.booster

    features = [f for g, fs in feature_groups.items() if g not in dropped for f in fs]
    return ThreatModel(threat, best_booster, size, features, dropped, trials)


def unselected_model(
    threat: str,
    rows: SelectionRows,
    feature_groups: Mapping[str, Sequence[str]],
    categorical: Sequence[str],
    settings: FitSettings,
) -> ThreatModel:
    """With too few validation positives to compare candidates: the medium size and every
    feature, 200 rounds, and the reason recorded."""
    all_features = [f for group in feature_groups.values() for f in group]
    booster = _threat_booster(
        threat, rows, feature_groups, all_features, categorical, "medium", settings, rounds=200
    )
    positives = int(np.nansum(rows.y_valid))
    return ThreatModel(
        threat,
        booster,
        "medium",
        all_features,
        [],
        [],
        skipped_selection=(
            f"validation holds {positives} positive '{threat}' declarations "
            f"(fewer than {MIN_VALID_POSITIVES}): medium size, all features, 200 rounds"
        ),
    )
