"""Hand-built declarations, scores and outcomes for the store and operations tests."""

from __future__ import annotations

from typing import Any

import pandas as pd

from features.validation import validate_declarations, validate_outcomes
from models.bundle import ScoredDeclaration
from models.explain import Reason


def raw_declarations(
    ids: list[str], *, office: str = "RS-HORGOS", day: str = "2024-05-02"
) -> pd.DataFrame:
    """Raw declarations lodged at ``office`` on ``day``, one hour apart."""
    return pd.DataFrame(
        {
            "declaration_id": ids,
            "lodged_at": [f"{day}T{8 + i % 12:02d}:15:00Z" for i in range(len(ids))],
            "office_id": office,
            "transport_mode": "road",
            "vehicle_id": [f"BG{1000 + i}AA" for i in range(len(ids))],
            "declarant_id": "DCL-1",
            "importer_id": [f"IMP-{i}" for i in range(len(ids))],
            "origin_country": "TR",
            "dispatch_country": "TR",
            "itinerary": "TR>BG>RS",
            "hs_code": "870899",
            "goods_description": "spare parts",
            "net_mass_kg": [100.0 + i for i in range(len(ids))],
            "customs_value_eur": [2500.0] * len(ids),
        }
    )


def canonical_declarations(ids: list[str], **where: str) -> pd.DataFrame:
    """The same declarations, validated to the canonical frame."""
    return validate_declarations(raw_declarations(ids, **where))


def scores_for(
    ids: list[str], revenue: list[float], *, lane: str = "green"
) -> list[ScoredDeclaration]:
    """Scores with a revenue risk per declaration and one reason each."""
    return [
        ScoredDeclaration(
            declaration_id=declaration_id,
            risk={"weapons": 0.001, "migrants": 0.002, "revenue": risk},
            overall=1 - (1 - 0.001) * (1 - 0.002) * (1 - risk),
            lane=lane,
            reasons=[
                Reason(
                    threat="revenue",
                    feature="unit_value_vs_hs_median",
                    value=-2.5,
                    contribution=0.8,
                    text="declared value per kg is 92% below the usual for HS 8708",
                    fields=["customs_value_eur", "net_mass_kg", "hs_code"],
                )
            ],
        )
        for declaration_id, risk in zip(ids, revenue, strict=True)
    ]


def outcome_record(declaration_id: str, **values: Any) -> dict[str, Any]:
    """A raw outcome: a clear physical inspection unless ``values`` say otherwise."""
    record: dict[str, Any] = {
        "declaration_id": declaration_id,
        "inspected_at": "2024-05-02T15:00:00Z",
        "inspection_type": "physical",
        "result": "clear",
    }
    record.update(values)
    return record


def canonical_outcomes(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Outcomes validated to the canonical frame."""
    return validate_outcomes(pd.DataFrame.from_records(records))
