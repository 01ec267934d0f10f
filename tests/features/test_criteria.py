"""The criteria language of risk profiles: validation with field paths, every operator on tiny
hand-built frames, normalised keywords, the regex safe subset, validity windows and draws."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from pydantic import TypeAdapter, ValidationError

from features.columns import DeclarationColumns
from features.criteria import MAX_DEPTH, Criterion, check_pattern
from features.criteria_matching import compile_criteria
from features.profiles import ProfileSet, RiskProfile, selection_draw
from features.watchlist import WatchlistHits
from tests.features.builder_frames import declarations_frame

CRITERION: TypeAdapter[Any] = TypeAdapter(Criterion)
NOW = datetime(2024, 3, 1, 12, tzinfo=UTC)


def frame(*rows: dict[str, Any]) -> DeclarationColumns:
    return DeclarationColumns(
        declarations_frame(
            [
                {"declaration_id": f"D{i}", "lodged_at": "2024-03-01T10:00:00Z", **row}
                for i, row in enumerate(rows)
            ]
        )
    )


def matched(criteria: dict[str, Any], columns: DeclarationColumns, hits: Any = None) -> list[bool]:
    compiled = compile_criteria([CRITERION.validate_python(criteria)])
    answer = compiled.evaluate(columns, hits or WatchlistHits.none())
    return answer[:, 0].tolist()


def profile(**fields: Any) -> RiskProfile:
    document = {
        "id": "P-1",
        "title": "pistol parts",
        "threat": "weapons",
        "criteria": {"op": "hs_prefix", "prefixes": ["9305"]},
        "action": {"lane": "red"},
        "rationale": "partner report 2024/7",
        "owner": "risk unit",
        "valid_from": "2024-01-01T00:00:00Z",
        **fields,
    }
    return RiskProfile.model_validate(document)


# -- each operator --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("criteria", "rows", "expected"),
    [
        (
            {"op": "equals", "field": "importer_id", "value": "imp-7 "},
            [{"importer_id": "IMP-7"}, {"importer_id": "IMP-8"}],
            [True, False],
        ),
        (
            {"op": "in", "field": "origin_country", "values": ["TR", "CN"]},
            [{"origin_country": "CN"}, {"origin_country": "DE"}],
            [True, False],
        ),
        (
            {"op": "hs_prefix", "prefixes": ["9305", "93"]},
            [{"hs_code": "930510"}, {"hs_code": "930200"}, {"hs_code": "731815"}],
            [True, True, False],
        ),
        (
            {"op": "itinerary", "countries": ["mk"]},
            [{"itinerary": "GR>MK>RS"}, {"itinerary": "GR>BG>RS"}],
            [True, False],
        ),
        (
            {"op": "range", "field": "value_per_kg", "max": 1.0},
            [
                {"customs_value_eur": 500.0, "net_mass_kg": 1000.0},
                {"customs_value_eur": 5000.0, "net_mass_kg": 1000.0},
            ],
            [True, False],
        ),
        (
            {"op": "range", "field": "packages", "min": 2, "max": 3},
            [{"packages": 2.0}, {"packages": 3.0}, {"packages": 4.0}],
            [True, True, False],
        ),
        (
            {"op": "office", "offices": ["RS-HORGOS"]},
            [{"office_id": "RS-HORGOS"}, {"office_id": "MK-TAB"}],
            [True, False],
        ),
        (
            {"op": "keywords", "words": ["steel pins", "samples"], "match": "any"},
            [{"goods_description": "STEEL  pins, 40 pcs"}, {"goods_description": "steel bars"}],
            [True, False],
        ),
        (
            {"op": "keywords", "words": ["toy", "parts"], "match": "all"},
            [{"goods_description": "toy parts"}, {"goods_description": "toy cars"}],
            [True, False],
        ),
        (
            {"op": "regex", "pattern": r"\bfilament \d{1,4} ?kg"},
            [{"goods_description": "PLA Filament 12 kg"}, {"goods_description": "filament"}],
            [True, False],
        ),
        (
            {
                "op": "all",
                "of": [
                    {"op": "hs_prefix", "prefixes": ["8708"]},
                    {
                        "op": "not",
                        "criterion": {"op": "in", "field": "transport_mode", "values": ["sea"]},
                    },
                ],
            },
            [{"transport_mode": "road"}, {"transport_mode": "sea"}, {"hs_code": "940360"}],
            [True, False, False],
        ),
        (
            {
                "op": "any",
                "of": [
                    {"op": "equals", "field": "carrier_id", "value": "CAR-9"},
                    {"op": "range", "field": "gross_mass_kg", "min": 5000},
                ],
            },
            [{"carrier_id": "CAR-9"}, {"gross_mass_kg": 6000.0}, {}],
            [True, True, False],
        ),
    ],
)
def test_each_operator(
    criteria: dict[str, Any], rows: list[dict[str, Any]], expected: list[bool]
) -> None:
    assert matched(criteria, frame(*rows)) == expected


def test_watchlist_hit_of_an_entity_type_and_threat() -> None:
    columns = frame({}, {}, {})
    hits = WatchlistHits(
        np.array([0, 1], dtype=np.int64),
        np.array([0, 1], dtype=np.int64),
        np.array(["vehicle_id", "importer_id"], dtype=object),
        np.array(["migrants", "weapons"], dtype=object),
    )
    assert matched({"op": "watchlist", "entity_type": "vehicle_id"}, columns, hits) == [
        True,
        False,
        False,
    ]
    assert matched(
        {"op": "watchlist", "entity_type": "importer_id", "threat": "weapons"}, columns, hits
    ) == [False, True, False]
    assert matched(
        {"op": "watchlist", "entity_type": "importer_id", "threat": "migrants"}, columns, hits
    ) == [False, False, False]


@pytest.mark.parametrize(
    "description",
    ["делови за пиштољ", "DELOVI ZA PIŠTOLJ", "delovi za pistolj", "Delovi za pištolje"],
)
def test_keywords_match_across_scripts_and_diacritics(description: str) -> None:
    criteria = {"op": "keywords", "words": ["pištolj*"]}
    exact = {"op": "keywords", "words": ["delovi za"]}
    columns = frame({"goods_description": description}, {"goods_description": "delovi za auto"})
    assert matched(criteria, columns) == [True, False]
    assert matched(exact, columns) == [True, True]


def test_a_missing_value_never_matches_a_range_or_keyword() -> None:
    columns = frame({"gross_mass_kg": None, "goods_description": None})
    assert matched({"op": "range", "field": "gross_mass_kg", "min": 0}, columns) == [False]
    assert matched({"op": "keywords", "words": ["parts"]}, columns) == [False]


def test_many_profiles_evaluate_as_each_alone() -> None:
    trees = [
        {"op": "hs_prefix", "prefixes": ["8708"]},
        {"op": "not", "criterion": {"op": "hs_prefix", "prefixes": ["8708"]}},
        {
            "op": "all",
            "of": [{"op": "office", "offices": ["MK-TAB"]}, {"op": "keywords", "words": ["body"]}],
        },
        {"op": "any", "of": [{"op": "equals", "field": "importer_id", "value": "IMP-2"}]},
    ]
    columns = frame({}, {"importer_id": "IMP-2", "hs_code": "940360"}, {"office_id": "AL-DUR"})
    together = compile_criteria([CRITERION.validate_python(t) for t in trees]).evaluate(
        columns, WatchlistHits.none()
    )
    for position, tree in enumerate(trees):
        assert together[:, position].tolist() == matched(tree, columns)
    assert together.tolist() == [
        [True, False, True, False],
        [False, True, True, True],  # MK-TAB and "vehicle body parts" by default
        [True, False, False, False],
    ]


# -- validation ----------------------------------------------------------------------------


def error_paths(document: dict[str, Any]) -> list[tuple[Any, ...]]:
    with pytest.raises(ValidationError) as caught:
        profile(**document)
    return [tuple(error["loc"]) for error in caught.value.errors()]


def test_an_unknown_field_is_named_by_its_path() -> None:
    paths = error_paths(
        {
            "criteria": {
                "op": "all",
                "of": [
                    {"op": "hs_prefix", "prefixes": ["9305"]},
                    {"op": "equals", "field": "colour", "value": "red"},
                ],
            }
        }
    )
    assert paths == [("criteria", "all", "of", 1, "equals", "field")]


def test_an_unknown_operator_and_a_bad_range_are_named() -> None:
    assert error_paths({"criteria": {"op": "eval", "code": "1"}}) == [("criteria",)]
    paths = error_paths({"criteria": {"op": "range", "field": "net_mass_kg", "min": 5, "max": 1}})
    assert paths == [("criteria", "range")]
    assert error_paths({"criteria": {"op": "hs_prefix", "prefixes": ["93a"]}}) == [
        ("criteria", "hs_prefix", "prefixes", 0)
    ]


def test_nesting_deeper_than_the_cap_is_refused() -> None:
    criteria: dict[str, Any] = {"op": "hs_prefix", "prefixes": ["93"]}
    for _ in range(MAX_DEPTH):
        criteria = {"op": "not", "criterion": criteria}
    with pytest.raises(ValidationError, match="deeper than"):
        profile(criteria=criteria)
    assert profile(criteria=criteria["criterion"]).id == "P-1"


def test_action_window_and_id_rules() -> None:
    assert error_paths({"action": {"lane": "green"}}) == [("action", "lane")]
    assert error_paths({"action": {"lane": "red", "percent": 0}}) == [("action", "percent")]
    assert error_paths({"valid_to": "2023-01-01T00:00:00Z"}) == [()]
    assert error_paths({"id": "no spaces allowed"}) == [("id",)]
    assert error_paths({"id": "new"}) == [("id",)]
    assert profile(id="New").id == "New"
    assert error_paths({"valid_from": "0001-01-01T00:00:00+03:04"}) == [("valid_from",)]


@pytest.mark.parametrize(
    "pattern",
    [
        r"(a+)+$",
        r"(a|aa)*b",
        r"(\w+\s?)*$",
        r"(a)\1",
        r"(?=a)a",
        r".*a.*b",
        r"a?" * 7,
        r"a?a?a?.*b",
        "(",
    ],
)
def test_patterns_that_can_backtrack_badly_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError):
        check_pattern(pattern)
    with pytest.raises(ValidationError):
        profile(criteria={"op": "regex", "pattern": pattern})
    with pytest.raises(ValidationError):
        profile(criteria={"op": "regex", "pattern": "x" * 201})


def test_the_worst_accepted_pattern_stays_fast() -> None:
    pattern = "a?a?.*b"
    check_pattern(pattern)
    columns = frame({"goods_description": "a" * 2000})
    started = time.perf_counter()
    assert matched({"op": "regex", "pattern": pattern}, columns) == [False]
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    "pattern", [r"\bsteel\s+pins?\b", r"toy (parts|spares)", r"\d{2,4} ?kg", r"filament.*kg"]
)
def test_plain_patterns_are_accepted(pattern: str) -> None:
    check_pattern(pattern)


# -- profiles: validity window, offices, shares ---------------------------------------------


def test_a_profile_outside_its_window_never_matches() -> None:
    columns = frame({"hs_code": "930510"})
    ids = ["D0"]
    current = profile(id="NOW")
    future = profile(id="LATER", valid_from="2024-06-01T00:00:00Z")
    expired = profile(id="OVER", valid_to="2024-02-01T00:00:00Z")
    found = ProfileSet([current, future, expired]).matches(columns, WatchlistHits.none(), NOW, ids)
    assert found.profiles.tolist() == [0]
    far = profile(id="FAR", valid_from="2999-01-01T00:00:00Z")  # beyond int64 nanoseconds
    assert ProfileSet([far]).matches(columns, WatchlistHits.none(), NOW, ids).profiles.size == 0
    old = profile(id="OLD", valid_from="0001-01-01T00:00:00Z")
    assert ProfileSet([old]).matches(columns, WatchlistHits.none(), NOW, ids).profiles.size == 1
    later = ProfileSet([future]).matches(
        columns, WatchlistHits.none(), datetime(2024, 7, 1, tzinfo=UTC), ids
    )
    assert later.profiles.tolist() == [0]


def test_offices_limit_where_a_profile_applies() -> None:
    columns = frame({"hs_code": "930510", "office_id": "RS-HORGOS"}, {"hs_code": "930510"})
    found = ProfileSet([profile(offices=["RS-HORGOS"])]).matches(
        columns, WatchlistHits.none(), NOW, ["D0", "D1"]
    )
    assert found.rows.tolist() == [0]


def test_a_share_is_drawn_the_same_way_every_time() -> None:
    ids = [f"D{i}" for i in range(400)]
    columns = frame(*[{"hs_code": "930510"} for _ in ids])
    share = ProfileSet([profile(action={"lane": "yellow", "percent": 30})])
    first = share.matches(columns, WatchlistHits.none(), NOW, ids)
    again = share.matches(columns, WatchlistHits.none(), NOW, ids)
    assert first.selected.tolist() == again.selected.tolist()
    assert 0.2 < first.selected.mean() < 0.4
    assert first.selected.tolist() == [selection_draw("P-1", i) < 0.3 for i in ids]


def test_the_documented_profile_and_examples_are_valid() -> None:
    text = (Path(__file__).parents[2] / "docs" / "profiles.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    documents = yaml.safe_load(blocks[0])["profiles"]
    assert [profile(**{k: v for k, v in d.items()}).id for d in documents] == ["SALW-PARTS-POST"]
    examples = [yaml.safe_load(chunk) for chunk in re.split(r"\n(?=#)", blocks[1]) if chunk.strip()]
    assert len(examples) == 3
    for example in examples:
        CRITERION.validate_python(example)
