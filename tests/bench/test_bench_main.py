"""`python -m bench NAME`: which benchmarks a name runs, in which order."""

from __future__ import annotations

import types

import pytest

import bench.__main__ as bench_main


@pytest.fixture
def ran(monkeypatch) -> list[str]:
    """Record the benchmarks `run` would start instead of starting them."""
    calls: list[str] = []

    def fake_import(name: str) -> types.SimpleNamespace:
        return types.SimpleNamespace(main=lambda: calls.append(name.removeprefix("bench.")))

    monkeypatch.setattr(bench_main.importlib, "import_module", fake_import)
    return calls


def test_live_runs_the_lookup_cost_and_then_the_new_tactic_arms(ran) -> None:
    bench_main.run(["live"])
    assert ran == ["bench_live", "bench_tactic"]


def test_a_module_name_runs_that_module_only(ran) -> None:
    bench_main.run(["tactic", "bench_synth.py"])
    assert ran == ["bench_tactic", "bench_synth"]


def test_no_name_runs_every_module_once_in_name_order(ran) -> None:
    bench_main.run([])
    assert ran == [f"bench_{name}" for name in bench_main.available()]
    assert ran.count("bench_tactic") == 1 and ran.count("bench_live") == 1


def test_an_unknown_name_stops_before_any_runs(ran) -> None:
    with pytest.raises(SystemExit, match="unknown benchmark"):
        bench_main.run(["tactic", "nonsense"])
    assert ran == []
