"""Imports flow one way: features <- models <- (training | serving) <- shiprisk (STYLE.md 1)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("features", "models", "training", "serving", "shiprisk")
ALLOWED: dict[str, set[str]] = {
    "features": set(),
    "models": {"features"},
    "training": {"features", "models"},
    "serving": {"features", "models"},
    "shiprisk": {"features", "models", "training", "serving"},
}


def imported_packages(path: Path) -> set[str]:
    """Our top-level packages that a module imports (at any depth, lazy imports included)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update(name.split(".")[0] for name in names if name.split(".")[0] in PACKAGES)
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_follow_the_data_flow(package: str) -> None:
    wrong = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = imported_packages(path) - ALLOWED[package] - {package}
        if bad:
            wrong[str(path.relative_to(ROOT))] = sorted(bad)
    assert wrong == {}, f"{package} may import only {sorted(ALLOWED[package])}"


def test_the_walker_sees_a_wrong_arrow(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from serving.app import create_app\n")
    assert imported_packages(module) == {"serving"}


def test_only_models_registry_and_training_talk_to_mlflow() -> None:
    talkers = set()
    for package in ("features", "models", "serving", "shiprisk"):
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                if any(n.split(".")[0] == "mlflow" for n in names):
                    talkers.add(str(path.relative_to(ROOT)))
    assert talkers <= {"models/registry.py", "models/pyfunc_model.py"}
