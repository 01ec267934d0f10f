"""The model bundle: everything needed to score a declaration, saved as verifiable plain files.

A bundle holds the fitted feature builder, one LightGBM booster per threat, a calibrator per
threat, the lane policy, and a manifest with the sha256 of every other file. Nothing is
pickled: boosters are LightGBM text models, the rest is JSON or the builder's own Parquet and
JSON. `ModelBundle.load` checks every hash before it parses anything, so a bundle changed after
training (by accident or on purpose) is refused instead of scoring declarations.

Layout of a saved bundle::

    manifest.json           threats, features, lanes, training window, metrics, sha256 of files
    models/<threat>.txt     LightGBM text model, best iteration only
    calibration.json        {threat: calibrator data}
    lanes.json              lane policy data
    drift_reference.json    bins and shares of the training window's features, scores and lanes
                            (``models.monitoring.DriftReference``; absent in older bundles)
    features/               FeatureBuilder.save output
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any, Protocol

import lightgbm as lgb
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from models.calibration import Calibrator
from models.explain import (
    Reason,
    ReasonText,
    ThreatExplanation,
    shap_values,
    top_reasons,
    usable_threads,
)
from models.lanes import LanePolicy

__all__ = [
    "BundleIntegrityError",
    "FeatureBuilderLike",
    "Manifest",
    "ModelBundle",
    "Reason",
    "ScoredDeclaration",
    "manifest_sha256",
    "verify_bundle",
]

MANIFEST_FILE = "manifest.json"
CALIBRATION_FILE = "calibration.json"
LANES_FILE = "lanes.json"
DRIFT_REFERENCE_FILE = "drift_reference.json"  # optional: bundles saved before it lack it
MODELS_DIR = "models"
FEATURES_DIR = "features"
BUNDLE_FORMAT = 1
# Threat names become file names: keep them to a safe, readable alphabet.
THREAT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_MANIFEST_KEYS = (
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


class FeatureBuilderLike(Protocol):
    """The part of ``features.builder.FeatureBuilder`` (docs/internals.md) a bundle relies on."""

    feature_names_: list[str]
    categorical_features_: list[str]
    feature_fields_: dict[str, list[str]]

    def transform(self, declarations: pd.DataFrame) -> pd.DataFrame: ...

    def transform_columns(self, columns: Any) -> NDArray[np.float64]: ...

    def save(self, directory: Path) -> list[Path]: ...


def load_feature_builder(directory: Path) -> FeatureBuilderLike:
    """Load the saved feature state with ``features.builder.FeatureBuilder.load``."""
    from features.builder import FeatureBuilder  # imported on use: the bundle only needs it to load

    return FeatureBuilder.load(directory)


def describe_reason(feature: str, value: Any, declaration: Mapping[str, Any]) -> str:
    """The officer-facing sentence for a feature value, from ``features.descriptions``."""
    from features.descriptions import reason_text

    return reason_text(feature, value, declaration)


@dataclass
class ScoredDeclaration:
    """The score of one declaration: per-threat risk, overall risk, lane and top reasons."""

    declaration_id: str
    risk: dict[str, float]
    overall: float
    lane: str
    reasons: list[Reason] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, keys as in the score response of DESIGN.md."""
        return asdict(self)


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


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def manifest_sha256(directory: Path | str) -> str:
    """sha256 of a bundle's ``manifest.json``: pins the whole bundle, since the manifest hashes the rest."""
    return _sha256((Path(directory) / MANIFEST_FILE).read_bytes())


def _json_ready(value: Any) -> Any:
    """Strict-JSON copy: tuples and arrays become lists, numpy scalars Python numbers, dates
    ISO strings, NaN/inf None."""
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_json_ready(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _write_json(path: Path, data: Any) -> None:
    path.write_text(
        json.dumps(_json_ready(data), indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )


def _bundle_files(directory: Path) -> list[str]:
    """Every file and symlink under ``directory`` except the manifest, as sorted POSIX paths."""
    found = []
    for path in directory.rglob("*"):
        if path.is_symlink() or path.is_file():
            relative = path.relative_to(directory).as_posix()
            if relative != MANIFEST_FILE:
                found.append(relative)
    return sorted(found)


def _read_verified(directory: Path) -> tuple[Manifest, dict[str, bytes]]:
    """Check the bundle against its manifest; return the manifest and every file's verified bytes.

    Returning the bytes that were hashed lets the loader parse exactly what was checked.
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
    required = [f"{MODELS_DIR}/{t}.txt" for t in manifest.threats] + [CALIBRATION_FILE, LANES_FILE]
    problems += [
        f"{name}: not listed in the manifest" for name in required if name not in manifest.files
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
        for relative in _bundle_files(directory)
        if relative not in manifest.files
    ]
    if problems:
        raise BundleIntegrityError(directory, problems)
    return manifest, contents


def verify_bundle(directory: Path | str) -> Manifest:
    """Check every file of a saved bundle against its manifest; raise ``BundleIntegrityError`` if any differs."""
    manifest, _ = _read_verified(Path(directory))
    return manifest


class DeclarationRows(Sequence[Mapping[str, Any]]):
    """Declarations as read-only row mappings for reason texts, read column by column on use.

    A reason text reads one or two fields of its declaration; converting every column of the
    frame to Python objects for every scored row cost more than the texts themselves. A
    column is converted (``tolist``, the same values as ``DataFrame.to_dict``) the first time
    any row reads it, then shared by all rows.
    """

    def __init__(self, declarations: pd.DataFrame) -> None:
        self._frame = declarations
        self._names = frozenset(declarations.columns)
        self._values: dict[str, list[Any]] = {}

    def __len__(self) -> int:
        return len(self._frame)

    def __getitem__(self, row: int) -> Mapping[str, Any]:  # type: ignore[override]
        if not -len(self) <= row < len(self):
            raise IndexError(row)
        return _DeclarationRow(self, row + len(self) if row < 0 else row)

    def value(self, column: str, row: int) -> Any:
        """One field of one declaration, as a Python object."""
        if column not in self._values:
            if column not in self._names:
                raise KeyError(column)
            self._values[column] = self._frame[column].tolist()
        return self._values[column][row]

    def columns(self) -> list[str]:
        """Column names, in frame order."""
        return [str(c) for c in self._frame.columns]


class _DeclarationRow(Mapping[str, Any]):
    """One declaration of a `DeclarationRows`, read field by field."""

    def __init__(self, rows: DeclarationRows, row: int) -> None:
        self._rows = rows
        self._row = row

    def __getitem__(self, column: str) -> Any:
        return self._rows.value(column, self._row)

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows.columns())

    def __len__(self) -> int:
        return len(self._rows.columns())


def _shiprisk_version() -> str:
    try:
        return package_metadata.version("shiprisk")
    except package_metadata.PackageNotFoundError:
        return "unknown"


class ModelBundle:
    """Scores canonical declarations: per-threat calibrated risk, overall risk, lane and reasons.

    Args:
        builder: fitted feature builder (``features.builder.FeatureBuilder`` interface).
        boosters: one LightGBM booster per threat, trained on ``features`` in that order.
        calibrators: one fitted `Calibrator` per threat.
        lanes: fitted `LanePolicy` on the overall risk.
        features: the model's feature columns (the builder's, minus groups training dropped).
        metadata: JSON-ready facts about training: ``name``, ``training_window``, ``metrics``,
            ``parameters`` and anything else worth keeping in the manifest.
        reason_text: sentence for a (feature, value, declaration); default
            ``features.descriptions.reason_text``.
        drift_reference: JSON-ready reference distributions of the training window
            (``models.monitoring.DriftReference.to_dict``), or None.
    """

    def __init__(
        self,
        builder: FeatureBuilderLike,
        boosters: Mapping[str, lgb.Booster],
        calibrators: Mapping[str, Calibrator],
        lanes: LanePolicy,
        features: Sequence[str],
        metadata: Mapping[str, Any],
        *,
        reason_text: ReasonText | None = None,
        drift_reference: Mapping[str, Any] | None = None,
    ) -> None:
        self.builder = builder
        self.boosters = dict(boosters)
        self.calibrators = dict(calibrators)
        self.lanes = lanes
        self.features = list(features)
        self.metadata = dict(metadata)
        self.reason_text: ReasonText = reason_text or describe_reason
        self.drift_reference = None if drift_reference is None else dict(drift_reference)
        self.threats: tuple[str, ...] = tuple(self.boosters)
        self.manifest: Manifest | None = None  # set by save() and load()
        # The builder's column names and where the bundle's features sit among them.
        self._positions_for: tuple[tuple[str, ...], NDArray[np.intp] | None] | None = None

        if not self.threats:
            raise ValueError("a bundle needs at least one threat booster")
        bad_names = [t for t in self.threats if not THREAT_NAME.match(t)]
        if bad_names:
            raise ValueError(f"threat names must match {THREAT_NAME.pattern}: {bad_names}")
        if set(self.calibrators) != set(self.threats):
            raise ValueError(
                f"calibrators {sorted(self.calibrators)} do not match boosters {sorted(self.threats)}"
            )
        unknown = [f for f in self.features if f not in builder.feature_names_]
        if unknown:
            raise ValueError(f"features not produced by the feature builder: {unknown}")
        # Each threat's booster may use a subset of the bundle's features (training can drop a
        # feature group for one threat only); it is fed exactly its own columns, in its order.
        position = {feature: i for i, feature in enumerate(self.features)}
        self._columns: dict[str, NDArray[np.intp]] = {}
        for threat, booster in self.boosters.items():
            missing = [f for f in booster.feature_name() if f not in position]
            if missing:
                raise ValueError(
                    f"booster {threat!r} uses features the bundle does not list: {missing}"
                )
            self._columns[threat] = np.array(
                [position[f] for f in booster.feature_name()], dtype=np.intp
            )

    # -- scoring ---------------------------------------------------------------------------

    def matrix(self, declarations: pd.DataFrame) -> NDArray[np.float64]:
        """The model's feature matrix (rows x ``features``) for canonical declarations."""
        frame = self.builder.transform(declarations)
        values = frame.to_numpy(dtype=np.float64)
        positions = self._feature_positions(frame.columns)
        return values if positions is None else values[:, positions]

    def columns_matrix(self, columns: Any) -> NDArray[np.float64]:
        """`matrix` from `features.columns.DeclarationColumns` (the API's typed records)."""
        values = self.builder.transform_columns(columns)
        positions = self._feature_positions(self.builder.feature_names_)
        return values if positions is None else values[:, positions]

    def _feature_positions(self, columns: Iterable[str]) -> NDArray[np.intp] | None:
        """Where the bundle's features sit among the builder's columns (None: already in order).

        Computed once per column list: picking columns by position from one float64 block
        costs far less than selecting them by name on a one-row frame.
        """
        names = tuple(columns)
        if self._positions_for is None or self._positions_for[0] != names:
            if names == tuple(self.features):
                positions = None
            else:
                index = pd.Index(names)
                if not index.is_unique:
                    raise ValueError("the feature builder returned a column name twice")
                found = index.get_indexer(pd.Index(self.features))
                if (found < 0).any():
                    missing = [f for f, i in zip(self.features, found, strict=True) if i < 0]
                    raise KeyError(f"feature builder did not return the features {missing}")
                positions = found.astype(np.intp)
            self._positions_for = (names, positions)
        return self._positions_for[1]

    def _threat_matrix(self, threat: str, matrix: NDArray[np.float64]) -> NDArray[np.float64]:
        columns = self._columns[threat]
        if len(columns) == matrix.shape[1] and np.array_equal(columns, np.arange(matrix.shape[1])):
            return matrix
        return matrix[:, columns]

    def _contributions(
        self, matrix: NDArray[np.float64], num_threads: int
    ) -> dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]]:
        """Per threat: SHAP contributions (rows x bundle features; 0 where a booster does not
        use a feature) and base values (rows,)."""
        if matrix.shape[0] == 0:  # LightGBM refuses an empty matrix
            return {t: (np.zeros((0, len(self.features))), np.zeros(0)) for t in self.threats}
        out = {}
        for threat, booster in self.boosters.items():
            own, base = shap_values(
                booster, self._threat_matrix(threat, matrix), num_threads=num_threads
            )
            if own.shape[1] == matrix.shape[1]:
                out[threat] = (own, base)
            else:
                full = np.zeros((matrix.shape[0], len(self.features)))
                full[:, self._columns[threat]] = own
                out[threat] = (full, base)
        return out

    def _margins(
        self, matrix: NDArray[np.float64], num_threads: int
    ) -> dict[str, NDArray[np.float64]]:
        if matrix.shape[0] == 0:  # LightGBM refuses an empty matrix
            return {threat: np.zeros(0) for threat in self.threats}
        threads = usable_threads(num_threads)
        return {
            threat: np.asarray(
                booster.predict(
                    self._threat_matrix(threat, matrix), raw_score=True, num_threads=threads
                ),
                dtype=np.float64,
            )
            for threat, booster in self.boosters.items()
        }

    def margins(
        self, declarations: pd.DataFrame, *, num_threads: int = 1
    ) -> dict[str, NDArray[np.float64]]:
        """Raw LightGBM margins (log-odds) per threat, one value per declaration."""
        return self._margins(self.matrix(declarations), num_threads)

    def _risks(
        self, matrix: NDArray[np.float64], office_ids: Any, num_threads: int
    ) -> tuple[dict[str, NDArray[np.float64]], NDArray[np.float64], NDArray[np.str_]]:
        margins = self._margins(matrix, num_threads)
        risk = {
            threat: self.calibrators[threat].predict(margins[threat]) for threat in self.threats
        }
        # P(at least one irregularity) = 1 - prod(1 - risk_t); log1p keeps tiny risks exact.
        log_clear = np.sum([np.log1p(-risk[t]) for t in self.threats], axis=0)
        overall = -np.expm1(log_clear)
        return risk, overall, self.lanes.assign(overall, office_ids)

    def risk_frame(self, declarations: pd.DataFrame, *, num_threads: int = 1) -> pd.DataFrame:
        """Scores without reasons as a frame: ``declaration_id``, ``risk_<threat>``..., ``overall``, ``lane``."""
        risk, overall, lanes = self._risks(
            self.matrix(declarations), declarations["office_id"].to_numpy(), num_threads
        )
        columns: dict[str, Any] = {
            "declaration_id": declarations["declaration_id"].astype(str).to_numpy()
        }
        columns.update({f"risk_{threat}": risk[threat] for threat in self.threats})
        columns.update(overall=overall, lane=lanes)
        return pd.DataFrame(columns, index=declarations.index)

    def explain(
        self, declarations: pd.DataFrame, *, num_threads: int = 1
    ) -> dict[str, ThreatExplanation]:
        """Exact SHAP contributions of every threat's booster, in margin units."""
        contributions = self._contributions(self.matrix(declarations), num_threads)
        return {
            threat: ThreatExplanation(
                base_value=base,
                contributions=pd.DataFrame(values, index=declarations.index, columns=self.features),
            )
            for threat, (values, base) in contributions.items()
        }

    def score(
        self,
        declarations: pd.DataFrame,
        *,
        top_k: int = 5,
        explain: bool = True,
        num_threads: int = 1,
    ) -> list[ScoredDeclaration]:
        """Score canonical declarations, with the ``top_k`` reasons each when ``explain``."""
        return self._score(
            self.matrix(declarations),
            declarations["declaration_id"].astype(str).tolist(),
            declarations["office_id"].to_numpy(),
            DeclarationRows(declarations),
            top_k=top_k,
            explain=explain,
            num_threads=num_threads,
        )

    def score_columns(
        self,
        columns: Any,
        rows: Sequence[Mapping[str, Any]],
        *,
        top_k: int = 5,
        explain: bool = True,
        num_threads: int = 1,
    ) -> list[ScoredDeclaration]:
        """`score` for declarations given as `features.columns.DeclarationColumns` (read from
        typed records, no frame) and one mapping per declaration for the reason texts, which
        must hold the values a canonical frame's ``tolist`` gives."""
        return self._score(
            self.columns_matrix(columns),
            [str(value) for value in columns.strings("declaration_id").tolist()],
            columns.strings("office_id"),
            rows,
            top_k=top_k,
            explain=explain,
            num_threads=num_threads,
        )

    def _score(
        self,
        matrix: NDArray[np.float64],
        ids: list[str],
        office_ids: Any,
        declarations: Sequence[Mapping[str, Any]],
        *,
        top_k: int,
        explain: bool,
        num_threads: int,
    ) -> list[ScoredDeclaration]:
        risk, overall, lanes = self._risks(matrix, office_ids, num_threads)
        if explain and top_k > 0:
            contributions = self._contributions(matrix, num_threads)
            reasons = top_reasons(
                {threat: values for threat, (values, _) in contributions.items()},
                matrix,
                self.features,
                declarations,
                top_k=top_k,
                reason_text=self.reason_text,
                feature_fields=self.builder.feature_fields_,
            )
        else:
            reasons = [[] for _ in range(len(declarations))]
        risk_rows = {threat: risk[threat].tolist() for threat in self.threats}
        overall_rows, lane_rows = overall.tolist(), lanes.tolist()
        return [
            ScoredDeclaration(
                declaration_id=ids[row],
                risk={threat: risk_rows[threat][row] for threat in self.threats},
                overall=overall_rows[row],
                lane=lane_rows[row],
                reasons=reasons[row],
            )
            for row in range(len(ids))
        ]

    # -- persistence -----------------------------------------------------------------------

    def save(self, directory: Path | str) -> Manifest:
        """Write the bundle into an empty or new directory and return its manifest."""
        directory = Path(directory)
        if directory.exists() and any(directory.iterdir()):
            raise FileExistsError(
                f"{directory} is not empty: a bundle is written into a new directory"
            )
        (directory / MODELS_DIR).mkdir(parents=True, exist_ok=True)
        for threat, booster in self.boosters.items():
            best = booster.best_iteration
            booster.save_model(
                directory / MODELS_DIR / f"{threat}.txt", num_iteration=best if best > 0 else None
            )
        _write_json(
            directory / CALIBRATION_FILE, {t: self.calibrators[t].to_dict() for t in self.threats}
        )
        _write_json(directory / LANES_FILE, self.lanes.to_dict())
        if self.drift_reference is not None:
            _write_json(directory / DRIFT_REFERENCE_FILE, self.drift_reference)
        (directory / FEATURES_DIR).mkdir()
        self.builder.save(directory / FEATURES_DIR)

        lanes = self.lanes.to_dict()
        manifest = Manifest(
            name=str(self.metadata.get("name", "shiprisk")),
            threats=list(self.threats),
            features=list(self.features),
            categorical_features=[
                f for f in self.features if f in self.builder.categorical_features_
            ],
            lanes={
                "capacity": {k: lanes[k] for k in ("red", "yellow", "offices")},
                **lanes["thresholds"],
            },
            training_window=dict(self.metadata.get("training_window") or {}),
            metrics=dict(self.metadata.get("metrics") or {}),
            parameters=dict(self.metadata.get("parameters") or {}),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            shiprisk_version=_shiprisk_version(),
            files={
                relative: _sha256((directory / relative).read_bytes())
                for relative in _bundle_files(directory)
            },
            metadata={k: v for k, v in self.metadata.items() if k not in _MANIFEST_KEYS},
        )
        manifest = Manifest.from_dict(_json_ready(manifest.to_dict()))
        _write_json(directory / MANIFEST_FILE, manifest.to_dict())
        self.manifest = manifest
        return manifest

    @classmethod
    def load(
        cls,
        directory: Path | str,
        *,
        builder_loader: Callable[[Path], FeatureBuilderLike] | None = None,
        reason_text: ReasonText | None = None,
    ) -> ModelBundle:
        """Load a saved bundle after checking every file's sha256 against the manifest.

        Raises:
            BundleIntegrityError: a file is changed, missing, not listed, or the manifest is unreadable.
        """
        directory = Path(directory)
        manifest, contents = _read_verified(directory)
        try:
            boosters = {
                threat: lgb.Booster(
                    model_str=contents[f"{MODELS_DIR}/{threat}.txt"].decode("utf-8")
                )
                for threat in manifest.threats
            }
            calibration = json.loads(contents[CALIBRATION_FILE])
            calibrators = {
                threat: Calibrator.from_dict(calibration[threat]) for threat in manifest.threats
            }
            lanes = LanePolicy.from_dict(json.loads(contents[LANES_FILE]))
            drift_reference = (
                json.loads(contents[DRIFT_REFERENCE_FILE])
                if DRIFT_REFERENCE_FILE in contents
                else None
            )
        except (KeyError, ValueError, TypeError, lgb.basic.LightGBMError) as error:
            # The hashes matched, so the bundle was written like this: a bug, not tampering.
            raise BundleIntegrityError(
                directory, [f"verified files do not load ({error!r})"]
            ) from error
        builder = (builder_loader or load_feature_builder)(directory / FEATURES_DIR)
        metadata = {
            **manifest.metadata,
            **{key: getattr(manifest, key) for key in _MANIFEST_KEYS},
        }
        bundle = cls(
            builder,
            boosters,
            calibrators,
            lanes,
            manifest.features,
            metadata,
            reason_text=reason_text,
            drift_reference=drift_reference,
        )
        bundle.manifest = manifest
        return bundle
