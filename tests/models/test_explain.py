"""Explanations as maths: base + contributions = margin, batch = single row, reasons ranked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.explain import Reason, contributions_by_field, top_reasons
from tests.models.test_bundle import THREATS, make_bundle


@pytest.fixture(scope="module")
def bundle_and_declarations():
    return make_bundle(400, seed=3)


def test_base_value_plus_contributions_is_the_raw_margin_on_every_row(
    bundle_and_declarations,
) -> None:
    bundle, declarations = bundle_and_declarations
    explanations = bundle.explain(declarations)
    margins = bundle.margins(declarations)
    for threat in THREATS:
        explanation = explanations[threat]
        assert explanation.contributions.shape == (400, 4)
        assert np.ptp(explanation.base_value) == 0.0
        np.testing.assert_allclose(explanation.margin(), margins[threat], rtol=0, atol=1e-9)


def test_contributions_by_field_add_up_to_the_same_total(bundle_and_declarations) -> None:
    bundle, declarations = bundle_and_declarations
    contributions = bundle.explain(declarations)["revenue"].contributions
    by_field = contributions_by_field(contributions, bundle.builder.feature_fields_)
    assert list(by_field.columns) == [
        "customs_value_eur",
        "net_mass_kg",
        "duty_rate",
        "transport_mode",
        "hs_code",
    ]
    np.testing.assert_allclose(by_field.sum(axis=1), contributions.sum(axis=1), rtol=0, atol=1e-12)


def test_contributions_by_field_hand_computed() -> None:
    contributions = pd.DataFrame({"ratio": [1.0, -2.0], "rate": [0.5, 0.25], "odd": [3.0, 0.0]})
    fields = {"ratio": ["value", "mass"], "rate": ["mass"]}
    by_field = contributions_by_field(contributions, fields)
    expected = pd.DataFrame({"value": [0.5, -1.0], "mass": [1.0, -0.75], "odd": [3.0, 0.0]})
    pd.testing.assert_frame_equal(by_field, expected)


def test_batch_equals_single_row(bundle_and_declarations) -> None:
    bundle, declarations = bundle_and_declarations
    batch = declarations.iloc[:40]
    together = bundle.score(batch, top_k=3)
    one_by_one = [bundle.score(batch.iloc[[i]], top_k=3)[0] for i in range(40)]
    assert together == one_by_one
    assert sum(len(s.reasons) for s in together) > 40  # reasons were actually compared


def test_top_reasons_rank_positive_pairs_across_threats() -> None:
    features = ["a", "b", "c"]
    matrix = np.array([[1.0, np.nan, 3.0]])
    contributions = {
        "weapons": np.array([[0.2, 0.9, -1.0]]),
        "revenue": np.array([[0.9, -0.3, 0.1]]),
    }
    reasons = top_reasons(
        contributions,
        matrix,
        features,
        [{"declaration_id": "D1"}],
        top_k=4,
        reason_text=lambda feature, value, declaration: (
            f"{declaration['declaration_id']} {feature}={value}"
        ),
        feature_fields={"a": ["hs_code"]},
    )
    # 0.9 ties between weapons/b and revenue/a: threat order decides. Negatives never appear.
    assert reasons == [
        [
            Reason("weapons", "b", None, 0.9, "D1 b=nan", []),
            Reason("revenue", "a", 1.0, 0.9, "D1 a=1.0", ["hs_code"]),
            Reason("weapons", "a", 1.0, 0.2, "D1 a=1.0", ["hs_code"]),
            Reason("revenue", "c", 3.0, 0.1, "D1 c=3.0", []),
        ]
    ]
