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


def imported_modules(path: Path) -> set[str]:
    """Every absolute module a file imports (at any depth, lazy and type-checking imports
    included); ``from serving import probes`` counts as ``serving.probes``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def imported_packages(path: Path) -> set[str]:
    """Our top-level packages that a module imports."""
    return {name.split(".")[0] for name in imported_modules(path)} & set(PACKAGES)


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
    talkers = {
        str(path.relative_to(ROOT))
        for package in ("features", "models", "serving", "shiprisk")
        for path in (ROOT / package).rglob("*.py")
        if any(name.split(".")[0] == "mlflow" for name in imported_modules(path))
    }
    assert talkers <= {"models/registry.py", "models/pyfunc_model.py"}


# -- rooms inside serving/ ---------------------------------------------------------------------

ROOMS = (
    "access",
    "audit",
    "exchange",
    "inspections",
    "intelligence",
    "model",
    "profiles",
    "scoring",
    "waivers",
    "web",
)
# What every room may use: the floor below the rooms, and the access layer.
SHARED = ("base", "deps", "settings", "store", "access", "console", "metrics")


def serving_parts(path: Path) -> set[str]:
    """The parts of serving/ a module imports (``serving.scoring.queue`` -> ``scoring``)."""
    return {
        name.split(".")[1]
        for name in imported_modules(path)
        if name.startswith("serving.") and not name.startswith("serving.__")
    }


def room_crossings() -> dict[tuple[str, str], set[str]]:
    """(module, room) -> the other rooms it imports that are neither its own nor shared."""
    crossings: dict[tuple[str, str], set[str]] = {}
    for room in ROOMS:
        for path in sorted((ROOT / "serving" / room).rglob("*.py")):
            wrong = serving_parts(path) - {room} - set(SHARED)
            for other in wrong:
                crossings.setdefault((str(path.relative_to(ROOT)), other), set()).add(room)
    return crossings


def test_serving_rooms_do_not_import_each_other() -> None:
    """Resources of serving/ (scoring, inspections, model, audit, access, web) share the floor
    below them and the access layer, never each other's modules.

    The rule: a module in ``serving/<room>/`` may import its own room, and of the rest of
    serving/ only ``base``, ``deps``, ``settings``, ``store``, ``access``, ``console`` and
    ``metrics``. The composition modules (``app``, ``routes``, ``lifespan``, ``cli``) and the
    floor itself are not rooms: they put the rooms together. Shared pieces move down into
    ``serving.base`` (or ``serving.deps``), never sideways between rooms (STYLE.md 8a).
    """
    wrong = set(room_crossings())
    assert wrong == set(), "a room imports another room's internals: move the shared piece down"


def test_the_store_imports_no_room() -> None:
    """The store (one module per resource: scores, worklists, outcomes, ...) is the floor every
    room shares: it imports none of them, or a room would reach another's internals through it
    and a room's change could break the floor."""
    wrong = {
        str(path.relative_to(ROOT)): sorted(serving_parts(path) & set(ROOMS))
        for path in sorted((ROOT / "serving" / "store").rglob("*.py"))
        if serving_parts(path) & set(ROOMS)
    }
    assert wrong == {}, "the store imports a room: move the shared piece down"


def test_the_rooms_walker_sees_a_wrong_arrow(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from serving.base import Caller\n"
        "from serving import probes\n"
        "def f():\n    from serving.inspections.service import worklist\n"
    )
    parts = serving_parts(module)
    assert parts == {"base", "probes", "inspections"}
    assert parts - {"scoring"} - set(SHARED) == {"probes", "inspections"}


def test_the_base_imports_no_room_at_run_time() -> None:
    """Every room imports serving.base: it may name the rooms' types for the type checker
    only, or importing a room would import the others through it."""
    tree = ast.parse((ROOT / "serving" / "base.py").read_text())
    checked_only = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
        for child in ast.walk(node)
    }
    at_run_time = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and node.module
        and node.module.startswith("serving")
        and id(node) not in checked_only
    }
    assert at_run_time == set()
