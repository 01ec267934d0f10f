"""Scoring reads declarations one way: a frame and canonical records give the same scores.

`DeclarationBatch.of` turns either into feature columns and row mappings; reason texts read
a frame's fields through `DeclarationRows`, and the matrix picks the bundle's features by
position.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.records import CanonicalRecords
from models.bundle import ModelBundle
from models.declarations import DeclarationBatch, DeclarationRows
from tests.models.test_bundle import make_bundle


def test_rows_read_the_same_values_as_to_dict_and_only_the_columns_asked_for() -> None:
    frame = pd.DataFrame(
        {
            "declaration_id": ["D1", "D2"],
            "hs_code": ["930510", "870899"],
            "duty_rate": [5.0, np.nan],
        }
    )
    rows = DeclarationRows(frame)
    assert len(rows) == 2
    assert rows[1]["hs_code"] == "870899"
    assert rows[-1]["declaration_id"] == "D2"
    assert rows[0].get("itinerary", "none") == "none"
    assert dict(rows[0]) == frame.to_dict(orient="records")[0]
    with pytest.raises(IndexError):
        rows[2]


def test_matrix_follows_the_bundle_feature_order_whatever_the_builder_order() -> None:
    bundle, declarations = make_bundle(120, seed=3)
    expected = bundle.builder.transform(declarations)[bundle.features].to_numpy(dtype=np.float64)
    np.testing.assert_array_equal(bundle.matrix(declarations), expected)
    reordered = ModelBundle(
        bundle.builder,
        bundle.boosters,
        bundle.calibrators,
        bundle.lanes,
        list(reversed(bundle.features)),
        bundle.metadata,
    )
    np.testing.assert_array_equal(reordered.matrix(declarations), expected[:, ::-1])
    # Each booster still reads its own features, wherever the bundle lists them.
    for threat, margin in reordered.margins(declarations).items():
        np.testing.assert_array_equal(margin, bundle.margins(declarations)[threat])


def test_features_the_builder_does_not_produce_are_refused() -> None:
    bundle, _ = make_bundle(120, seed=3)
    with pytest.raises(ValueError, match=r"not produced by the feature builder: \['weight'\]"):
        ModelBundle(
            bundle.builder,
            bundle.boosters,
            bundle.calibrators,
            bundle.lanes,
            [*bundle.features, "weight"],
            {},
        )


def test_frame_and_records_are_scored_alike_to_the_last_digit() -> None:
    bundle, declarations = make_bundle(200, seed=6)
    frame = declarations.iloc[40:90].set_index(pd.RangeIndex(500, 550))
    records = CanonicalRecords.from_frame(frame)
    by_frame = bundle.score(frame, top_k=3)
    assert by_frame == bundle.score(records, top_k=3)
    assert [row.declaration_id for row in by_frame] == frame["declaration_id"].tolist()
    assert any(row.reasons for row in by_frame)
    risk = bundle.risk_frame(frame)
    assert list(risk.index) == list(frame.index)  # frames keep their index
    pd.testing.assert_frame_equal(
        bundle.risk_frame(records), risk.reset_index(drop=True), check_exact=True
    )
    explained = bundle.explain(frame)["weapons"].contributions
    assert list(explained.index) == list(frame.index)


def test_a_batch_of_a_batch_is_itself_and_records_are_numbered_from_zero() -> None:
    _, declarations = make_bundle(60, seed=2)
    records = CanonicalRecords.from_frame(declarations.tail(5))
    batch = DeclarationBatch.of(records)
    assert DeclarationBatch.of(batch) is batch
    assert list(batch.index) == [0, 1, 2, 3, 4]
    assert batch.ids() == declarations["declaration_id"].tail(5).tolist()
    assert batch.office_ids().tolist() == declarations["office_id"].tail(5).tolist()
