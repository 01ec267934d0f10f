"""Batch scoring writes a declaration's reasons as ``json.dumps`` writes their
`Reason.to_dict`, byte for byte, without building the dicts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models.explain import Reason
from serving.scoring.batch import ReasonsJson

REASONS = [
    Reason("revenue", "unit_value_vs_hs_median", -2.3, 1.12, "declared value is 90% below"),
    Reason("weapons", "packages", None, 0.5, 'a "quoted" \\ text\n\twith\x01control'),
    Reason("migrants", "x_import_type", float("nan"), 1e-300, "uvoznik: viđen još nije"),
    Reason("revenue", "duty_rate", float("inf"), float("nan"), "ë ç 🚚 \u2028"),
    Reason("revenue", "duty_rate", np.float64(0.1), np.float64(-0.0), "", ["duty_rate"]),
    Reason("weapons", "customs_value_log", 12.0, float("-inf"), "x", [], "model"),
    Reason(
        "weapons",
        "watchlist_importer_weapons",
        1.0,
        0.0,
        "importer is on a partner watchlist for weapons (source KS-POL, handling H2)",
        ["importer_id"],
        kind="watchlist",
        source_agency="KS-POL",
        handling_code="H2",
    ),
    Reason(
        "weapons",
        "profile",
        None,
        0.0,
        "matches profile P-7",
        kind="profile",
        profile_id="P-7",
        title="Gas pistols from <TR>",
        rationale="converted alarm pistols & parts",
    ),
]


@pytest.mark.parametrize("count", [0, 1, 2, len(REASONS)])
def test_reasons_json_is_what_json_dumps_writes(count: int) -> None:
    write = ReasonsJson()
    for start in range(len(REASONS) - count + 1):  # the same strings again: encoded once
        reasons = REASONS[start : start + count]
        assert write(reasons) == json.dumps([r.to_dict() for r in reasons])
