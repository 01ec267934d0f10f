"""pyproject.toml declares what the code imports, and imports what it declares (issue 12)."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
OURS = ("features", "models", "training", "serving", "shiprisk")

# Declared but never imported by name: each is loaded by another package at run time.
LOADED_BY_OTHERS = {
    "httptools": 'uvicorn picks its C HTTP parser when installed (http="auto")',
    "uvloop": 'uvicorn picks this event loop when installed (loop="auto")',
    "jinja2": "starlette's Jinja2Templates render the pages",
    "python-multipart": "starlette parses the pages' form posts with it",
    "psycopg": "SQLAlchemy's driver for postgresql+psycopg:// store URLs",
}


def declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {canonicalize_name(Requirement(spec).name) for spec in project["dependencies"]}


def third_party_imports(paths: list[Path]) -> set[str]:
    """Top-level module names imported by these files that are neither stdlib nor ours."""
    found: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in OURS and top != "__future__":
                    found.add(top)
    return found


def distributions_of(modules: set[str]) -> dict[str, set[str]]:
    """Each module's providing distributions (mlflow's modules come from mlflow and mlflow-skinny)."""
    index = packages_distributions()
    unknown = sorted(m for m in modules if m not in index)
    assert not unknown, f"imported modules that no installed distribution provides: {unknown}"
    return {m: {canonicalize_name(dist) for dist in index[m]} for m in modules}


def package_files() -> list[Path]:
    return [path for package in OURS for path in sorted((ROOT / package).rglob("*.py"))]


def test_every_imported_distribution_is_declared() -> None:
    used = distributions_of(third_party_imports(package_files()))
    missing = {module: dists for module, dists in used.items() if not dists & declared()}
    assert missing == {}, "add these to [project] dependencies in pyproject.toml"


def test_every_declared_distribution_is_imported_or_loaded_by_another() -> None:
    used = set().union(*distributions_of(third_party_imports(package_files())).values())
    unused = declared() - used - {canonicalize_name(name) for name in LOADED_BY_OTHERS}
    assert unused == set(), "declared in pyproject.toml but never imported: remove them"


@pytest.mark.parametrize("source", ["import shap\n", "from itsdangerous import Signer\n"])
def test_the_walker_sees_an_import(tmp_path: Path, source: str) -> None:
    module = tmp_path / "m.py"
    module.write_text(source + "import json\nfrom features import schema\n")
    assert third_party_imports([module]) == {source.split()[1].split(".")[0]}
