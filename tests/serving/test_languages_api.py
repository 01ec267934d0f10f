"""Reasons in the language the request asks for: same machine fields, translated ``text``."""

from __future__ import annotations

import math
import re
from typing import Any

import pandas as pd
import pytest

from features.descriptions import reason_text
from tests.serving.access_keys import KeyedClient as TestClient
from tests.serving.store_backends import store_url  # noqa: F401
from tests.serving.test_operations_api import client, declarations  # noqa: F401

MACHINE_FIELDS = ("threat", "feature", "value", "contribution")
DECIMAL_POINT = {"sq": r"\d\.\d", "sr_Latn": r"\d\.\d{1,2}(?!\d)"}


def scored(client: TestClient, frame: pd.DataFrame, language: str | None) -> Any:  # noqa: F811
    from tests.serving.conftest import json_payload

    headers = {"Accept-Language": language} if language else {}
    response = client.post(
        "/v1/scores", json={"declarations": json_payload(frame), "top_k": 8}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response


def machine(results: list[dict[str, Any]]) -> list[list[tuple[Any, ...]]]:
    return [[tuple(r[f] for f in MACHINE_FIELDS) for r in res["reasons"]] for res in results]


@pytest.mark.parametrize(("header", "locale"), [("sr-Latn", "sr_Latn"), ("sq", "sq")])
def test_score_reasons_in_the_requested_language(
    client: TestClient,  # noqa: F811
    declarations: pd.DataFrame,  # noqa: F811
    header: str,
    locale: str,
) -> None:
    frame = declarations.head(12)
    # A first scoring records the declarations in their entities' live history; the two
    # compared below then see the same history.
    scored(client, frame, None)
    english = scored(client, frame, None)
    asked = scored(client, frame, f"{header},en;q=0.5")
    assert "content-language" not in english.headers
    assert asked.headers["content-language"] == locale.replace("_", "-")
    english_results, asked_results = english.json()["results"], asked.json()["results"]
    # the same machine fields, contributions and risks as in English
    assert machine(asked_results) == machine(english_results)
    assert [r["risk"] for r in asked_results] == [r["risk"] for r in english_results]
    reasons = [reason for result in asked_results for reason in result["reasons"]]
    assert len(reasons) > 20
    for result, english_result in zip(asked_results, english_results, strict=True):
        stored = client.get(f"/v1/declarations/{result['declaration_id']}").json()
        assert stored["latest"]["reasons"] == english_result["reasons"]  # kept in English
        for reason, english_reason in zip(
            result["reasons"], english_result["reasons"], strict=True
        ):
            assert reason["text"] != english_reason["text"], reason
            value = math.nan if reason["value"] is None else reason["value"]
            # written from the stored declaration as from the request: the same sentence
            expected = reason_text(reason["feature"], value, stored["declaration"], locale)
            assert reason["text"] == expected
            # numbers as the locale writes them: a decimal comma, never a decimal point
            # (Serbian groups thousands with a point: 12.345)
            assert not re.search(DECIMAL_POINT[locale], reason["text"]), reason["text"]


@pytest.mark.parametrize(("header", "locale"), [("sr", "sr_Latn"), ("sq-AL", "sq")])
def test_a_stored_declaration_answers_in_the_requested_language(
    client: TestClient,  # noqa: F811
    declarations: pd.DataFrame,  # noqa: F811
    header: str,
    locale: str,
) -> None:
    served = scored(client, declarations.head(1), None).json()["results"][0]
    url = f"/v1/declarations/{served['declaration_id']}"
    english = client.get(url).json()
    asked = client.get(url, headers={"Accept-Language": header})
    assert asked.status_code == 200 and asked.headers["content-language"] == locale.replace(
        "_", "-"
    )
    body = asked.json()
    assert machine([body["latest"]]) == machine([english["latest"]]) == machine([served])
    for reason, english_reason in zip(
        body["latest"]["reasons"], english["latest"]["reasons"], strict=True
    ):
        assert reason["text"] != english_reason["text"]
        value = math.nan if reason["value"] is None else reason["value"]
        assert reason["text"] == reason_text(
            reason["feature"], value, english["declaration"], locale
        )


def test_a_language_not_shipped_gets_english(
    client: TestClient,  # noqa: F811
    declarations: pd.DataFrame,  # noqa: F811
) -> None:
    frame = declarations.head(3)
    scored(client, frame, None)  # recorded in the live history: both below see the same
    english = scored(client, frame, None).json()["results"]
    german = scored(client, frame, "de-DE,fr;q=0.8")
    assert "content-language" not in german.headers
    assert german.json()["results"] == english
