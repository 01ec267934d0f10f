"""The train, evaluate and promote commands as a data scientist runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shiprisk.cli import app

from ..conftest import write_config

runner = CliRunner()


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tracking_uri: str) -> str:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("SHIPRISK_TRACKING_URI", tracking_uri)
    return tracking_uri


@pytest.mark.slow
def test_train_evaluate_promote_from_the_command_line(
    synthetic_dir: Path, tmp_path: Path, store: str
) -> None:
    config = write_config(tmp_path / "train.yaml", synthetic_dir)
    metrics = tmp_path / "out" / "metrics.json"
    trained = runner.invoke(app, ["train", "--config", str(config), "--metrics-out", str(metrics)])
    assert trained.exit_code == 0, trained.output
    assert "registered shiprisk version 1 (alias challenger)" in trained.output
    assert "shiprisk promote --version 1" in trained.output
    assert json.loads(metrics.read_text())["model"]["version"] == "1"

    promoted = runner.invoke(app, ["promote", "--version", "1"])
    assert promoted.exit_code == 0, promoted.output
    assert "shiprisk champion is now version 1" in promoted.output

    evaluated_out = tmp_path / "evaluated.json"
    evaluated = runner.invoke(
        app, ["evaluate", "--config", str(config), "--metrics-out", str(evaluated_out)]
    )
    assert evaluated.exit_code == 0, evaluated.output
    again = json.loads(evaluated_out.read_text())
    assert again["model"]["version"] == "1"
    # The champion evaluated again on the same window gives the training run's numbers.
    assert again["threats"] == json.loads(metrics.read_text())["threats"]


def test_train_with_a_wrong_column_mapping_exits_with_the_fix(
    synthetic_dir: Path, tmp_path: Path, store: str
) -> None:
    config = write_config(tmp_path / "bad.yaml", synthetic_dir, columns={"hs_cod": "HS6 Code"})
    result = runner.invoke(app, ["train", "--config", str(config)])
    assert result.exit_code == 2
    assert "hs_cod" in result.output and "hs_code" in result.output  # names it, suggests the fix
    assert not Path(store.removeprefix("sqlite:///")).exists()


def test_promote_needs_a_version_or_rollback(store: str) -> None:
    result = runner.invoke(app, ["promote"])
    assert result.exit_code == 2
    assert "give either --version N or --rollback" in result.output


def test_forced_promotion_needs_a_reason(store: str) -> None:
    result = runner.invoke(app, ["promote", "--version", "3", "--force"])
    assert result.exit_code == 2
    assert "--force needs a --reason" in result.output


def test_promoting_a_missing_version_is_refused(store: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["promote", "--version", "7"])
    assert result.exit_code == 2
    assert "has no version 7" in result.output


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("synth", "train", "evaluate", "promote"):
        assert command in result.output
