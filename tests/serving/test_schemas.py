"""Request models: exactly the canonical declaration fields, strict where the contract is closed."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from features.schema import DECLARATION_COLUMNS, DECLARATION_FIELDS
from models.explain import Reason
from serving.base import ReasonOut
from serving.scoring.schemas import Declaration, declarations_frame

MINIMAL: dict[str, Any] = {
    "declaration_id": "D1",
    "lodged_at": "2024-03-01",
    "office_id": "MK-TAB",
    "transport_mode": "road",
    "declarant_id": "DECL-1",
    "importer_id": "IMP-1",
    "origin_country": "TR",
    "dispatch_country": "GR",
    "hs_code": "870829",
    "net_mass_kg": 1000,
    "customs_value_eur": 5000.5,
}


def test_the_payload_has_the_canonical_fields_in_order() -> None:
    assert tuple(Declaration.model_fields) == DECLARATION_COLUMNS


def test_required_payload_fields_are_the_required_canonical_fields() -> None:
    required = {name for name, field in Declaration.model_fields.items() if field.is_required()}
    assert required == {field.name for field in DECLARATION_FIELDS if field.required}


def errors_of(**changes: Any) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as error:
        Declaration.model_validate({**MINIMAL, **changes})
    return [(item["loc"], item["msg"]) for item in error.value.errors()]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"flow": "smuggle"},
            [(("flow",), "Value error, unknown flow: use one of import, export, transit")],
        ),
        ({"net_mass_kg": -1}, [(("net_mass_kg",), "Input should be greater than or equal to 0")]),
        ({"hs_code": 870829}, [(("hs_code",), "Input should be a valid string")]),
        (
            {"packages": 2.5},
            [
                (
                    ("packages",),
                    "Input should be a valid integer, got a number with a fractional part",
                )
            ],
        ),
        (
            {"origin_country": "QQ"},
            [
                (
                    ("origin_country",),
                    "Value error, unknown country code: use ISO 3166-1 alpha-2 codes (e.g. RS, "
                    "MK, DE), XK for Kosovo or ZZ when unknown",
                )
            ],
        ),
    ],
)
def test_closed_vocabularies_and_ranges_are_checked(
    changes: dict[str, Any], expected: list[tuple[tuple[Any, ...], str]]
) -> None:
    assert errors_of(**changes) == expected


def test_values_are_made_canonical_by_their_rule() -> None:
    declaration = Declaration.model_validate(
        {**MINIMAL, "transport_mode": "3", "flow": "Import", "hs_code": "9305.10"}
    )
    assert (declaration.transport_mode, declaration.flow) == ("road", "import")
    assert declaration.hs_code == "930510"
    assert Declaration.model_validate({**MINIMAL, "flow": None}).flow == "import"  # the default


def test_the_frame_has_canonical_columns_then_extra_features() -> None:
    declaration = Declaration.model_validate(
        {**MINIMAL, "x_import_type": "A", "itinerary": ["GR", "MK", "RS"]}
    )
    frame = declarations_frame([declaration])
    assert list(frame.columns) == [*DECLARATION_COLUMNS, "x_import_type"]
    row = frame.iloc[0]
    assert row["lodged_at"] == "2024-03-01T00:00:00"
    assert row["itinerary"] == "GR>MK>RS"
    assert row["x_import_type"] == "A"
    assert row["net_mass_kg"] == 1000.0


def test_openapi_documents_every_route_and_the_closed_vocabularies() -> None:
    from fastapi.testclient import TestClient

    from serving.app import create_app
    from serving.settings import ServiceSettings

    # No `with`: the lifespan (model loading) is not needed to describe the API.
    spec = TestClient(create_app(ServiceSettings(model_uri="models:/absent@none"))).get(
        "/openapi.json"
    )
    document = spec.json()
    assert sorted(document["paths"]) == [
        "/livez",
        "/metrics",
        "/readyz",
        "/v1/admin/reload",
        "/v1/audit",
        "/v1/declarations/{declaration_id}",
        "/v1/declarations/{declaration_id}/additions",
        "/v1/declarations/{declaration_id}/waivers",
        "/v1/exchange/inbox",
        "/v1/exchange/messages",
        "/v1/exchange/outbox",
        "/v1/model",
        "/v1/offices/{office_id}/capacity",
        "/v1/outcomes",
        "/v1/profiles",
        "/v1/profiles/{profile_id}",
        "/v1/profiles/{profile_id}/expire",
        "/v1/profiles/{profile_id}/performance",
        "/v1/scores",
        "/v1/waivers",
        "/v1/waivers/codes",
        "/v1/watchlist",
        "/v1/worklist",
    ]
    properties = document["components"]["schemas"]["Declaration"]["properties"]
    assert properties["flow"]["anyOf"][0]["enum"] == ["import", "export", "transit"]
    assert properties["transport_mode"]["anyOf"][0]["enum"][:3] == ["sea", "rail", "road"]
    assert properties["transport_mode"]["anyOf"][1]["pattern"] == "^[0-9]{1,2}$"
    assert re.search(properties["hs_code"]["pattern"], "9305.10")
    assert properties["declaration_id"]["maxLength"] == 200
    assert properties["net_mass_kg"]["maximum"] == 1e10
    assert "RS" in properties["origin_country"]["enum"]
    assert set(document["paths"]["/v1/scores"]["post"]["responses"]) == {
        "200",
        "400",  # a body that is not JSON (found by the stateful fuzz run)
        "401",
        "403",
        "404",  # an id recorded outside the key's remit
        "409",  # a change to a recorded lodging
        "413",
        "422",
        "503",
    }


def test_a_reason_is_answered_with_the_response_models_fields_in_order() -> None:
    """`Reason.to_dict` is what the API answers, batch files write and the store keeps (less
    the fields of other kinds): every `ReasonOut` field, in its order, and no other."""
    reason = Reason(
        "weapons", "hs_code_risk", float("nan"), 0.5, "t", fields=["hs_code"], kind="profile"
    )
    answered = reason.to_dict()
    assert list(answered) == list(ReasonOut.model_fields)
    assert answered["value"] is None  # NaN is not JSON
    assert ReasonOut(**answered).kind == "profile"
