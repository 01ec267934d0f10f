"""Leakage: a declaration's point-in-time features depend on nothing known after it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.builder import FeatureBuilder
from features.schema import label_column
from tests.features.builder_frames import generated_frames

THREATS = ("weapons", "migrants", "revenue")


@pytest.fixture(scope="module")
def fitted() -> tuple[FeatureBuilder, pd.DataFrame, pd.DataFrame]:
    declarations, labels, _ = generated_frames(800, seed=11)
    builder = FeatureBuilder(THREATS, text_folds=3).fit(declarations, labels)
    return builder, declarations, labels


def rewrite_the_future(
    declarations: pd.DataFrame, labels: pd.DataFrame, moment: pd.Timestamp, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Flip, add and remove every outcome known at or after ``moment``, and append later
    declarations of the same entities (their own outcomes known later still)."""
    rng = np.random.default_rng(seed)
    labels = labels.copy()
    later = labels["known_at"].notna() & (labels["known_at"] >= moment)
    for threat in THREATS:
        column = label_column(threat)
        labels.loc[later, column] = 1.0 - labels.loc[later, column]
    # inspect, after the moment, some rows lodged before it that were never inspected
    newly = (~labels["inspected"]) & (rng.random(len(labels)) < 0.3)
    labels.loc[newly, "inspected"] = True
    labels.loc[newly, "known_at"] = moment + pd.Timedelta(minutes=1)
    for threat in THREATS:
        labels.loc[newly, label_column(threat)] = 1.0
    # drop one later outcome altogether
    dropped = later[later].index[:1]
    labels.loc[dropped, "inspected"] = False
    labels.loc[dropped, "known_at"] = pd.NaT
    for threat in THREATS:
        labels.loc[dropped, label_column(threat)] = np.nan

    copies = declarations.sample(120, random_state=seed).copy()
    copies["declaration_id"] = [f"LATER{i}" for i in range(len(copies))]
    copies["lodged_at"] = moment + pd.to_timedelta(
        rng.integers(0, 50 * 86_400, len(copies)), unit="s"
    )
    copy_labels = labels.loc[copies.index].copy()
    copy_labels["inspected"] = True
    copy_labels["known_at"] = copies["lodged_at"] + pd.Timedelta(hours=1)
    for threat in THREATS:
        copy_labels[label_column(threat)] = 1.0
    return (
        pd.concat([declarations, copies], ignore_index=True),
        pd.concat([labels, copy_labels], ignore_index=True),
    )


@pytest.mark.parametrize(("quantile", "seed"), [(0.25, 1), (0.5, 2), (0.9, 3)])
def test_later_outcomes_and_declarations_change_no_earlier_feature(fitted, quantile, seed) -> None:
    builder, declarations, labels = fitted
    baseline = builder.transform_point_in_time(declarations, labels)
    moment = declarations["lodged_at"].quantile(quantile)
    future_declarations, future_labels = rewrite_the_future(declarations, labels, moment, seed)
    rewritten = builder.transform_point_in_time(future_declarations, future_labels)

    earlier = (declarations["lodged_at"] <= moment).to_numpy()
    pd.testing.assert_frame_equal(
        rewritten.iloc[: len(declarations)][earlier], baseline[earlier], check_exact=True
    )
    # the rewrite did reach the rows after the moment, so the comparison above can fail
    changed = rewritten.iloc[: len(declarations)][~earlier].compare(baseline[~earlier])
    assert not changed.empty
