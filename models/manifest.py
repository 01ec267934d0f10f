"""A bundle's manifest: what it holds and the sha256 of every file, checked before anything is parsed.

`ModelBundle.save` (models/bundle.py) writes the files, then a manifest that hashes each of
them; `read_verified` refuses a bundle whose files differ from its manifest in any way
(changed, missing, not listed, a symbolic link, a path outside the bundle) and returns the
bytes it hashed, so that the loader parses exactly what was checked. mlflow's flavours load
first and trust the files; a bundle here is refused before a single file is parsed.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "BUNDLE_FORMAT",
    "MANIFEST_FILE",
    "METADATA_KEYS",
    "BundleIntegrityError",
    "Manifest",
    "bundle_files",
    "file_sha256s",
    "json_ready",
    "manifest_sha256",
    "read_verified",
    "shiprisk_version",
    "write_json",
]

MANIFEST_FILE = "manifest.json"
BUNDLE_FORMAT = 1
# Training metadata the manifest keeps as fields of its own; the rest goes to ``metadata``.
METADATA_KEYS = (
    "name",
    "training_window",
    "metrics",
    "parameters",
    "created_at",
    "shiprisk_version",
)


class BundleIntegrityError(Exception):
    """A bundle on disk does not match its manifest; ``problems`` lists each file and what is wrong."""

    def __init__(self, directory: Path | str, problems: Sequence[str]) -> None:
        self.directory = str(directory)
        self.problems = list(problems)
        super().__init__(f"bundle {self.directory} refused: " + "; ".join(self.problems))


@dataclass(frozen=True)
class Manifest:
    """The contents of ``manifest.json``."""

    name: str
    threats: list[str]
    features: list[str]
    categorical_features: list[str]
    lanes: dict[str, Any]
    training_window: dict[str, Any]
    metrics: dict[str, Any]
    parameters: dict[str, Any]
    created_at: str
    shiprisk_version: str
    files: dict[str, str]  # POSIX path relative to the bundle -> sha256 hex digest
    metadata: dict[str, Any] = field(default_factory=dict)  # other training metadata
    format: int = BUNDLE_FORMAT

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manifest:
        """Read a parsed manifest; a missing or mistyped key raises ``ValueError`` naming it."""
        expected: dict[str, type] = {
            "name": str,
            "threats": list,
            "features": list,
            "categorical_features": list,
            "lanes": dict,
            "training_window": dict,
            "metrics": dict,
            "parameters": dict,
            "created_at": str,
            "shiprisk_version": str,
            "files": dict,
        }
        for key, kind in expected.items():
            if not isinstance(data.get(key), kind):
                raise ValueError(f"key {key!r} missing or not a {kind.__name__}")
        if data.get("format", BUNDLE_FORMAT) != BUNDLE_FORMAT:
            raise ValueError(
                f"bundle format {data.get('format')!r}, this shiprisk reads {BUNDLE_FORMAT}"
            )
        return cls(
            **{key: data[key] for key in expected},
            metadata=dict(data.get("metadata") or {}),
            format=int(data.get("format", BUNDLE_FORMAT)),
        )


def shiprisk_version() -> str:
    """The installed shiprisk package's version, recorded in every manifest ("unknown" if not installed)."""
    try:
        return package_metadata.version("shiprisk")
    except package_metadata.PackageNotFoundError:
        return "unknown"


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def manifest_sha256(directory: Path | str) -> str:
    """sha256 of a bundle's ``manifest.json``: pins the whole bundle, since the manifest hashes the rest."""
    return _sha256((Path(directory) / MANIFEST_FILE).read_bytes())


def json_ready(value: Any) -> Any:
    """Strict-JSON copy: tuples and arrays become lists, numpy scalars Python numbers, dates
    ISO strings, NaN/inf None."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_ready(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: Path, data: Any) -> None:
    """``data`` as strict, indented JSON (see `json_ready`)."""
    path.write_text(
        json.dumps(json_ready(data), indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )


def bundle_files(directory: Path) -> list[str]:
    """Every file and symlink under ``directory`` except the manifest, as sorted POSIX paths."""
    found = []
    for path in directory.rglob("*"):
        if path.is_symlink() or path.is_file():
            relative = path.relative_to(directory).as_posix()
            if relative != MANIFEST_FILE:
                found.append(relative)
    return sorted(found)


def file_sha256s(directory: Path) -> dict[str, str]:
    """The sha256 of every file a manifest of ``directory`` must list."""
    return {
        relative: _sha256((directory / relative).read_bytes())
        for relative in bundle_files(directory)
    }


def read_verified(
    directory: Path, required_files: Callable[[Manifest], Iterable[str]]
) -> tuple[Manifest, dict[str, bytes]]:
    """Check the bundle against its manifest; return the manifest and every file's verified bytes.

    ``required_files`` names the files a bundle with this manifest cannot do without; each
    must be listed. Returning the bytes that were hashed lets the loader parse exactly what
    was checked.
    """
    if not directory.is_dir():
        raise BundleIntegrityError(directory, ["not a directory"])
    manifest_path = directory / MANIFEST_FILE
    if not manifest_path.is_file() or manifest_path.is_symlink():
        raise BundleIntegrityError(directory, [f"{MANIFEST_FILE}: missing"])
    try:
        manifest = Manifest.from_dict(json.loads(manifest_path.read_bytes()))
    except (ValueError, TypeError) as error:  # JSONDecodeError is a ValueError
        raise BundleIntegrityError(directory, [f"{MANIFEST_FILE}: unreadable ({error})"]) from error

    problems: list[str] = []
    root = directory.resolve()
    problems += [
        f"{name}: not listed in the manifest"
        for name in required_files(manifest)
        if name not in manifest.files
    ]
    contents: dict[str, bytes] = {}
    for relative, expected in sorted(manifest.files.items()):
        path = directory / relative
        if (
            relative == MANIFEST_FILE
            or not path.resolve().is_relative_to(root)
            or ".." in Path(relative).parts
        ):
            problems.append(f"{relative}: path not allowed in a manifest")
        elif path.is_symlink():
            problems.append(f"{relative}: is a symbolic link")
        elif not path.is_file():
            problems.append(f"{relative}: missing")
        else:
            content = path.read_bytes()
            if _sha256(content) != expected:
                problems.append(f"{relative}: sha256 does not match the manifest (file changed)")
            else:
                contents[relative] = content
    problems += [
        f"{relative}: not listed in the manifest"
        for relative in bundle_files(directory)
        if relative not in manifest.files
    ]
    if problems:
        raise BundleIntegrityError(directory, problems)
    return manifest, contents
