"""Explanations as maths: base + contributions = margin, batch = single row, reasons ranked."""

from __future__ import annotations

from collections.abc import Mapping

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


def stable_sort_reasons(
    contributions: dict[str, np.ndarray],
    matrix: np.ndarray,
    features: list[str],
    declarations: list[dict[str, object]],
    top_k: int,
    reason_text: object,
) -> list[list[Reason]]:
    """The rule written plainly: every row's pairs sorted (stable) by contribution, largest
    first, the positive ones of the first ``top_k``, each sentence written for its row."""
    threats = list(contributions)
    stacked = np.concatenate([contributions[t] for t in threats], axis=1)
    out = []
    for row, declaration in enumerate(declarations):
        reasons = []
        for column in np.argsort(-stacked[row], kind="stable")[:top_k]:
            contribution = float(stacked[row, column])
            if not contribution > 0.0:
                break
            feature = features[column % len(features)]
            raw = float(matrix[row, column % len(features)])
            text = reason_text(feature, raw, declaration)  # type: ignore[operator]
            value = None if np.isnan(raw) else raw
            reasons.append(
                Reason(threats[column // len(features)], feature, value, contribution, text, [])
            )
        out.append(reasons)
    return out


def fussy_reason_text(feature: str, value: float, declaration: object) -> str:
    """A sentence that reads fields only on some paths, writes -0.0 and 1 apart from 0.0 and
    1.0, and reads the whole declaration for one feature: what BatchSentences must keep."""
    assert isinstance(declaration, Mapping)
    if feature == "whole":
        return f"{value} {sorted(declaration.items())}"
    if feature == "hs" and value > 0:
        return f"HS {declaration['hs_code']!r} at {value:+.1f}"
    if declaration.get("office") == "A":
        return f"{feature} {value} at A, {declaration['flag']!r}"
    return f"{feature} {value:+.1f} at {declaration.get('office')!r}"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_top_reasons_equal_the_rule_written_plainly_with_ties_and_repeats(seed: int) -> None:
    """Small integer contributions tie often, values repeat (with -0.0, 0.0 and NaN) and
    the fields' values mix types: reasons and sentences as each row alone gets them."""
    rng = np.random.default_rng(seed)
    rows, features = 300, ["hs", "whole", "count", "rate"]
    contributions = {
        threat: rng.integers(-2, 4, size=(rows, len(features))).astype(float) / 4
        for threat in ("weapons", "migrants", "revenue")
    }
    contributions["revenue"][rng.random((rows, len(features))) < 0.1] = np.nan
    matrix = rng.choice([-0.0, 0.0, 1.0, 2.5, np.nan], size=(rows, len(features)))
    declarations: list[dict[str, object]] = [
        {
            "hs_code": ["930510", "930520"][int(rng.integers(2))],
            "office": ["A", "B", None][int(rng.integers(3))],
            "flag": [1, 1.0, True, -0.0, 0.0][int(rng.integers(5))],
        }
        for _ in range(rows)
    ]
    written: list[str] = []

    def counted(feature: str, value: float, declaration: Mapping[str, object]) -> str:
        written.append(feature)
        return fussy_reason_text(feature, value, declaration)

    got = top_reasons(
        contributions,
        matrix,
        features,
        declarations,
        top_k=5,
        reason_text=counted,
        feature_fields={},
    )
    expected = stable_sort_reasons(
        contributions, matrix, features, declarations, 5, fussy_reason_text
    )
    assert got == expected
    reasons = sum(len(r) for r in got)
    # a sentence that reads the whole declaration is written every time; others once each
    assert written.count("whole") == sum(r.feature == "whole" for row in got for r in row)
    assert len(written) < reasons * 0.6
