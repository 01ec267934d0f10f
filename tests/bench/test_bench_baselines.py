"""The baselines benchmark marks a difference "beyond" only where its interval excludes 0."""

from __future__ import annotations

from bench.bench_baselines import BASELINES, Comparison, table


def _result(difference: float, lo: float, hi: float) -> dict[str, object]:
    return {
        "candidate": 0.1 + difference,
        "champion": 0.1,
        "difference": difference,
        "interval": [lo, hi],
        "positives": 9,
    }


def test_beyond_only_where_the_interval_excludes_zero() -> None:
    comparison = Comparison(
        rows_per_day=300,
        seed=11,
        seconds=1.0,
        positives={"weapons": {"train": 3, "valid": 2, "test": 9}},
        chosen={"weapons": "small"},
        compared={
            "weapons": {
                "logistic_regression": _result(0.02, -0.001, 0.04),
                "rules": _result(0.03, 0.001, 0.05),
            }
        },
    )
    header, rule, row = table([comparison])
    assert header.count("|") == rule.count("|") == row.count("|")
    regression, rules = row.split(" | ")[-2:]
    assert "+0.020 [-0.001, 0.040]" in regression and "beyond" not in regression
    assert "+0.030 [0.001, 0.050]" in rules and "**beyond**" in rules
    assert set(BASELINES) == set(comparison.compared["weapons"])
