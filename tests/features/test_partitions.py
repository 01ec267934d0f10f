"""Point-in-time features by scoring-time range equal the features of the whole table: entity
history and watchlist hits (the live inputs) included."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.builder import FeatureBuilder
from features.partitions import range_starts, time_partitions
from tests.features.builder_frames import generated_frames

THREATS = ("weapons", "migrants", "revenue")


Table = tuple[FeatureBuilder, pd.DataFrame, pd.DataFrame, pd.DataFrame]


@pytest.fixture(scope="module")
def table() -> Table:
    declarations, labels, watchlist = generated_frames(1500, seed=5)
    # Ties across a likely range start, and outcomes known before, at and long after lodging.
    declarations.loc[700:740, "lodged_at"] = declarations.loc[720, "lodged_at"]
    inspected = np.flatnonzero(labels["inspected"].to_numpy())
    labels.loc[inspected[::7], "known_at"] = declarations.loc[inspected[::7], "lodged_at"]
    labels.loc[inspected[1::7], "known_at"] = declarations.loc[
        inspected[1::7], "lodged_at"
    ] - pd.Timedelta(days=3)
    labels.loc[inspected[2::7], "known_at"] = declarations.loc[
        inspected[2::7], "lodged_at"
    ] + pd.Timedelta(days=90)
    builder = FeatureBuilder(THREATS, text_folds=3).fit(
        declarations.iloc[:1000], labels.iloc[:1000]
    )
    return builder, declarations, labels, watchlist


@pytest.mark.parametrize("count", [1, 2, 5, 17])
def test_ranges_with_carried_state_give_the_whole_tables_features(table: Table, count: int) -> None:
    builder, declarations, labels, watchlist = table
    whole = builder.transform_point_in_time(declarations, labels, watchlist)
    assert whole.filter(like="watchlist_").to_numpy().any()  # hits are part of what is compared
    partitions = time_partitions(declarations, labels, THREATS, count)
    assert len(partitions.rows) == min(count, len(partitions.starts) + 1)
    assert sorted(np.concatenate(partitions.rows).tolist()) == list(range(len(declarations)))
    pieces = [
        builder.transform_point_in_time(
            declarations.iloc[rows], labels.iloc[rows], watchlist, events=events
        )
        for rows, events in zip(partitions.rows, partitions.events, strict=True)
    ]
    together = pd.concat(pieces).loc[whole.index]
    pd.testing.assert_frame_equal(together, whole, check_exact=True)


@pytest.mark.parametrize("count", [3, 8])
def test_ranges_by_scoring_moment_give_the_whole_tables_features(table: Table, count: int) -> None:
    """Declarations scored after lodging (a store export's ``scored_at``) are cut by that
    moment, and still get exactly the whole table's features."""
    builder, declarations, labels, watchlist = table
    delay = np.random.default_rng(2).integers(0, 10 * 86_400, len(declarations))
    scored_at = declarations["lodged_at"] + pd.to_timedelta(delay, unit="s")
    whole = builder.transform_point_in_time(declarations, labels, watchlist, scored_at=scored_at)
    at_lodging = builder.transform_point_in_time(declarations, labels, watchlist)
    assert not whole.equals(at_lodging)  # the moment changes what a row sees
    scored_ns = scored_at.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    partitions = time_partitions(declarations, labels, THREATS, count, scored_ns)
    pieces = [
        builder.transform_point_in_time(
            declarations.iloc[rows],
            labels.iloc[rows],
            watchlist,
            scored_at=scored_at.iloc[rows],
            events=events,
        )
        for rows, events in zip(partitions.rows, partitions.events, strict=True)
    ]
    together = pd.concat(pieces).loc[whole.index]
    pd.testing.assert_frame_equal(together, whole, check_exact=True)


def test_a_range_without_the_carried_state_would_differ(table: Table) -> None:
    """The carried state matters: the last range alone sees less history."""
    builder, declarations, labels, watchlist = table
    whole = builder.transform_point_in_time(declarations, labels, watchlist)
    rows = time_partitions(declarations, labels, THREATS, 4).rows[-1]
    alone = builder.transform_point_in_time(declarations.iloc[rows], labels.iloc[rows], watchlist)
    assert not alone.equals(whole.iloc[rows])


def test_rows_lodged_at_one_instant_share_a_range() -> None:
    lodged = np.array([1, 1, 2, 2, 2, 3, 4, 4, 5], dtype=np.int64)
    starts = range_starts(lodged, 4)
    ranges = np.searchsorted(starts, lodged, side="right")
    for instant in np.unique(lodged):
        assert len(set(ranges[lodged == instant])) == 1
    assert len(starts) == 3


def test_the_live_inputs_of_some_rows_of_each_range_put_together_are_the_whole_tables(
    table: Table,
) -> None:
    """What a Dask training run builds (training.dask_training): per range only the rows it
    reads, their live inputs concatenated (`LiveInputs.concat`) and put back in table order
    give the whole table's inputs of those rows, and their features."""
    from features.live import LiveInputs

    builder, declarations, labels, watchlist = table
    whole = builder.live_point_in_time(declarations, labels, watchlist)
    read = np.flatnonzero(np.arange(len(declarations)) % 3 != 1)
    partitions = time_partitions(declarations, labels, THREATS, 4)
    pieces, order = [], []
    for rows, events in zip(partitions.rows, partitions.events, strict=True):
        kept = rows[np.isin(rows, read)]
        pieces.append(
            builder.live_point_in_time(
                declarations.iloc[kept], labels.iloc[kept], watchlist, events=events
            )
        )
        order.append(kept)
    together = LiveInputs.concat(pieces).take(np.argsort(np.concatenate(order)))
    expected = whole.take(read)
    for kind, counts in expected.counts.items():
        np.testing.assert_array_equal(together.counts[kind].values, counts.values)
        np.testing.assert_array_equal(together.counts[kind].first_seen_ns, counts.first_seen_ns)
    np.testing.assert_array_equal(together.transit_rows, expected.transit_rows)
    np.testing.assert_array_equal(together.transit.values, expected.transit.values)
    assert len(expected.watchlist.rows)  # hits are part of what is compared
    columns = builder.transform_point_in_time(
        declarations.iloc[read], labels.iloc[read], live=together
    )
    pd.testing.assert_frame_equal(
        columns,
        builder.transform_point_in_time(declarations.iloc[read], labels.iloc[read], live=expected),
        check_exact=True,
    )
    with pytest.raises(ValueError, match="no live inputs"):
        LiveInputs.concat([])
