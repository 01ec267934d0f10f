"""`shiprisk demo`: the newcomer's first command."""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shiprisk.cli import app
from shiprisk.demo import demo_split, earlier_split, example_request


def test_the_earlier_split_ends_one_test_window_sooner() -> None:
    split = demo_split(dt.date(2024, 1, 1), 120)
    assert earlier_split(split) == {
        "train": ["2024-01-01", "2024-03-06"],
        "valid": ["2024-03-07", "2024-03-24"],
        "test": ["2024-03-25", "2024-04-11"],
    }


def test_demo_split_covers_every_day_once_in_order() -> None:
    # 120 days end on 2024-04-29; 15% of them (18 days) for test, 18 for valid, 84 for train.
    split = demo_split(dt.date(2024, 1, 1), 120)
    assert split == {
        "train": ["2024-01-01", "2024-03-24"],
        "valid": ["2024-03-25", "2024-04-11"],
        "test": ["2024-04-12", "2024-04-29"],
    }


@pytest.mark.slow
def test_demo_trains_promotes_and_prints_a_working_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tracking_uri: str
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("SHIPRISK_TRACKING_URI", tracking_uri)
    result = CliRunner().invoke(
        app,
        ["demo", "--data-dir", str(tmp_path / "data"), "--days", "90", "--rows-per-day", "250",
         "--no-serve"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # A first model on the older windows, then a retrain on the newer data promoted on its
    # own test window without --force.
    assert "shiprisk version 1 is champion" in result.output
    assert "shiprisk version 2 is champion" in result.output
    assert "not promoted" not in result.output
    for role in ("officer", "risk_manager", "admin"):
        assert re.search(rf"^{role} +srk_[0-9a-f]{{12}}_\S{{43}}$", result.output, re.M), role
    metrics = json.loads((tmp_path / "data" / "metrics.json").read_text())
    assert metrics["model"]["version"] == "2"
    curl = example_request(tmp_path / "data" / "synthetic" / "declarations.parquet", 8000)
    body = json.loads(shlex.split(curl)[-1])
    assert len(body["declarations"]) == 1
    assert body["declarations"][0]["lodged_at"].startswith("2024-03-30")
