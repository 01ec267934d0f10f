"""Every list in a request is capped, and extra (x_) fields are few, short and finite.

Issue 16, item 4 (lists and x_ fields; the canonical fields' ranges are features/' rules):
10,001 outcomes were accepted in one request, a 900 KB x_ field was stored verbatim, and NaN
and Infinity passed in x_ fields. The caps are stated in the OpenAPI schema and enforced.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from features.schema import DECLARATION_FIELDS
from serving.base import MAX_REQUEST_ITEMS
from serving.scoring.schemas import (
    MAX_EXTRA_FIELDS,
    MAX_EXTRA_MAGNITUDE,
    MAX_EXTRA_NAME_CHARS,
    MAX_EXTRA_TEXT_CHARS,
    Declaration,
)
from serving.settings import ServiceSettings
from tests.serving.access_keys import KeyedClient
from tests.serving.test_bad_input import NO_MODEL, app_in, declaration, outcome, recorded


@pytest.fixture
def client(tmp_path: Path) -> Iterator[KeyedClient]:
    with KeyedClient(app_in(tmp_path)) as test_client:
        yield test_client


# -- lists -------------------------------------------------------------------------------------


def arrays_without_cap(node: Any, components: dict[str, Any], seen: set[str]) -> list[str]:
    """Paths of every array schema under ``node`` (references followed) without maxItems."""
    if isinstance(node, list):
        return [p for item in node for p in arrays_without_cap(item, components, seen)]
    if not isinstance(node, dict):
        return []
    found: list[str] = []
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            seen.add(name)
            found += [f"{name}.{p}" for p in arrays_without_cap(components[name], components, seen)]
    if node.get("type") == "array" and "maxItems" not in node:
        found.append(str(node.get("title", "array")))
    for key, value in node.items():
        if key != "$ref":
            found += arrays_without_cap(value, components, seen)
    return found


def test_every_list_a_request_can_carry_is_capped_in_the_schema(client: KeyedClient) -> None:
    document = client.app.openapi()  # type: ignore[attr-defined]
    components = document["components"]["schemas"]
    uncapped: list[str] = []
    inputs = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                inputs += 1
                uncapped += [
                    f"{method} {path} {parameter['name']}: {p}"
                    for p in arrays_without_cap(parameter["schema"], components, set())
                ]
            for content in operation.get("requestBody", {}).get("content", {}).values():
                inputs += 1
                uncapped += [
                    f"{method} {path} body: {p}"
                    for p in arrays_without_cap(content["schema"], components, set())
                ]
    assert inputs > 10  # the walk saw the query parameters and both bodies
    assert uncapped == []
    assert components["ScoreRequest"]["properties"]["declarations"]["maxItems"] == 1000
    assert components["OutcomeRequest"]["properties"]["outcomes"]["maxItems"] == 1000
    itinerary = components["Declaration"]["properties"]["itinerary"]["anyOf"][0]["anyOf"]
    assert [form.get("maxItems", form.get("maxLength")) for form in itinerary] == [67, 200]


def test_the_walker_sees_an_uncapped_list() -> None:
    components = {"A": {"properties": {"xs": {"type": "array", "title": "Xs"}}}}
    assert arrays_without_cap({"$ref": "#/components/schemas/A"}, components, set()) == ["A.Xs"]


@pytest.mark.parametrize(
    ("path", "key", "item"),
    [("/v1/outcomes", "outcomes", outcome()), ("/v1/scores", "declarations", declaration())],
)
def test_one_item_over_the_cap_answers_422_and_is_recorded(
    client: KeyedClient, path: str, key: str, item: dict[str, Any]
) -> None:
    response = client.post(path, json={key: [item] * (MAX_REQUEST_ITEMS + 1)})
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert (problem["loc"], problem["type"]) == (["body", key], "too_long")
    assert "at most 1000 items" in problem["msg"]
    [(route, status, ids)] = recorded(client)
    assert (route, status, ids) == (f"POST {path}", 422, ("D-1",))


def test_ten_thousand_outcomes_are_refused_as_the_probe_sent_them(client: KeyedClient) -> None:
    least = {"declaration_id": "D", "inspected_at": "2024-02-20", "result": "clear"}
    response = client.post("/v1/outcomes", json={"outcomes": [least] * 10_001})  # < 1 MiB
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "too_long"


def test_a_full_list_is_accepted(client: KeyedClient) -> None:
    many = [declaration(declaration_id=f"D-{i}") for i in range(MAX_REQUEST_ITEMS)]
    response = client.post("/v1/scores", json={"declarations": many})
    assert response.status_code == 503  # validated, then refused for want of a model
    assert NO_MODEL in response.json()["detail"]


MAX_ITINERARY_CHARS = next(f.max_chars for f in DECLARATION_FIELDS if f.name == "itinerary")
MAX_ITINERARY_COUNTRIES = 67  # "GR>MK>...": 3 characters a code, less the last separator


def test_an_itinerary_list_holds_what_its_string_form_can() -> None:
    codes = ["RS"] * MAX_ITINERARY_COUNTRIES
    assert len(">".join(codes)) <= MAX_ITINERARY_CHARS < len(">".join([*codes, "RS"]))
    accepted = Declaration.model_validate(declaration(itinerary=codes)).itinerary
    assert accepted == ">".join(codes)  # the rule keeps the canonical string form
    with pytest.raises(ValidationError) as refused:
        Declaration.model_validate(declaration(itinerary=[*codes, "RS"]))
    error = refused.value.errors()[0]
    assert error["loc"] == ("itinerary",)
    assert "at most 200 characters" in error["msg"]  # the list is refused by the string's rule


def test_the_rows_setting_cannot_exceed_the_list_cap() -> None:
    assert ServiceSettings(max_rows=MAX_REQUEST_ITEMS).max_rows == 1000
    with pytest.raises(ValidationError):
        ServiceSettings(max_rows=MAX_REQUEST_ITEMS + 1)


# -- extra (x_) fields -------------------------------------------------------------------------

SECRET = "CONCEALED-IN-THE-SPARE-WHEEL"


def post_text(client: KeyedClient, text: str) -> Any:
    return client.post(
        "/v1/scores", content=text.encode(), headers={"Content-Type": "application/json"}
    )


def with_extra(literal: str, name: str = "x_weight_class") -> str:
    """A request whose declaration carries ``name`` with a JSON value written as is."""
    text = json.dumps({"declarations": [declaration()]})
    return text.replace('"x_process_type": "standard"', f'"{name}": {literal}')


@pytest.mark.parametrize(
    ("literal", "message"),
    [
        (json.dumps(SECRET * 40_000), "text longer than 200 characters"),  # 1.1 MB: 413
        (json.dumps(SECRET * 30_000), "text longer than 200 characters"),  # 900 KB
        (json.dumps("s" * (MAX_EXTRA_TEXT_CHARS + 1)), "text longer than 200 characters"),
        ("NaN", "expected a finite number of magnitude at most 1e+15"),
        ("Infinity", "expected a finite number of magnitude at most 1e+15"),
        ("-Infinity", "expected a finite number of magnitude at most 1e+15"),
        ("1e400", "expected a finite number of magnitude at most 1e+15"),
        ("1" + "0" * 400, "expected a finite number of magnitude at most 1e+15"),
        ("-1.5e15", "expected a finite number of magnitude at most 1e+15"),
        ('["a"]', "expected a string, number, boolean or null"),
        ('{"a": 1}', "expected a string, number, boolean or null"),
    ],
)
def test_an_extra_value_too_large_or_not_finite_answers_422_without_echo(
    client: KeyedClient, literal: str, message: str
) -> None:
    response = post_text(client, with_extra(literal))
    if len(literal) > 1_048_576:
        assert response.status_code == 413
        return
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "declarations", 0]
    assert problem["msg"] == f"Value error, field 'x_weight_class': {message}"
    assert SECRET not in response.text
    assert [status for _, status, _ in recorded(client)] == [422]


def test_too_many_or_too_long_extra_names_answer_422_without_echo(client: KeyedClient) -> None:
    many = declaration(**{f"x_{i}": i for i in range(MAX_EXTRA_FIELDS + 1)})
    long_name = "x_" + SECRET * 3
    responses = [
        client.post("/v1/scores", json={"declarations": [many]}),
        post_text(client, with_extra("1", name=long_name)),
    ]
    assert [r.status_code for r in responses] == [422, 422]
    assert [r.json()["detail"][0]["msg"] for r in responses] == [
        "Value error, 52 extra fields, at most 50",
        "Value error, a field name longer than 64 characters",
    ]
    assert SECRET not in responses[1].text


def test_extra_fields_within_the_caps_are_accepted(client: KeyedClient) -> None:
    extras: dict[str, Any] = {f"x_{i}": i for i in range(MAX_EXTRA_FIELDS - 5)}
    extras |= {
        "x_" + "n" * (MAX_EXTRA_NAME_CHARS - 2): "s" * MAX_EXTRA_TEXT_CHARS,
        "x_high": MAX_EXTRA_MAGNITUDE,
        "x_low": -MAX_EXTRA_MAGNITUDE,
        "x_flag": True,
    }
    extras["x_process_type"] = None  # replaces the default one: 50 in all
    payload = declaration(**extras)
    assert len([k for k in payload if k.startswith("x_")]) == MAX_EXTRA_FIELDS
    response = client.post("/v1/scores", json={"declarations": [payload]})
    assert response.status_code == 503  # validated, then refused for want of a model
    assert NO_MODEL in response.json()["detail"]


def test_the_schema_states_the_extra_field_rules(client: KeyedClient) -> None:
    schema = client.app.openapi()["components"]["schemas"]["Declaration"]  # type: ignore[attr-defined]
    assert schema["additionalProperties"] is False
    assert schema["maxProperties"] == len(schema["properties"]) + MAX_EXTRA_FIELDS
    [(pattern, values)] = schema["patternProperties"].items()
    assert pattern == "^x_[\\s\\S]{0,62}$"
    assert values["anyOf"][0] == {"type": "string", "maxLength": 200}
    assert values["anyOf"][1] == {"type": "number", "minimum": -1e15, "maximum": 1e15}
