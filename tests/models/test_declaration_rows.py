"""Reason texts read declaration fields through DeclarationRows, and matrix picks by position."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.bundle import DeclarationRows
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
    bundle.features = list(reversed(bundle.features))
    bundle._positions_for = None  # features changed after construction: forget the positions
    reversed_expected = expected[:, ::-1]
    np.testing.assert_array_equal(bundle.matrix(declarations), reversed_expected)
