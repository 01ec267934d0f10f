"""The model bundle: everything needed to score a declaration, saved as verifiable plain files.

A bundle holds the fitted feature builder, one LightGBM booster per threat, a calibrator per
threat, the lane policy, and a manifest with the sha256 of every other file
(`models.manifest`). Nothing is pickled: boosters are LightGBM text models, the rest is JSON
or the builder's own Parquet and JSON. `ModelBundle.load` checks every hash before it parses
anything, so a bundle changed after training (by accident or on purpose) is refused instead
of scoring declarations.

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

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import lightgbm as lgb
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from features.columns import DeclarationColumns
from features.live import LiveInputs
from models.calibration import Calibrator
from models.declarations import DeclarationBatch, RecordsLike
from models.explain import (
    Reason,
    ReasonText,
    ThreatExplanation,
    prepare,
    shap_values,
    top_reasons,
    usable_threads,
)
from models.lanes import LanePolicy
from models.manifest import (
    MANIFEST_FILE,
    METADATA_KEYS,
    BundleIntegrityError,
    Manifest,
    file_sha256s,
    json_ready,
    read_verified,
    shiprisk_version,
    write_json,
)

__all__ = [
    "FeatureBuilderLike",
    "ModelBundle",
    "ScoredDeclaration",
    "verify_bundle",
]

CALIBRATION_FILE = "calibration.json"
LANES_FILE = "lanes.json"
DRIFT_REFERENCE_FILE = "drift_reference.json"  # optional: bundles saved before it lack it
MODELS_DIR = "models"
FEATURES_DIR = "features"
# Threat names become file names: keep them to a safe, readable alphabet.
THREAT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

Declarations = pd.DataFrame | RecordsLike  # a canonical frame, or canonical records


class FeatureBuilderLike(Protocol):
    """The part of ``features.builder.FeatureBuilder`` (docs/internals.md) a bundle relies on.

    Scoring calls ``transform_columns`` only; ``transform`` (the same features as a frame)
    is what training's evaluation reads through ``bundle.builder``.
    """

    threats: Sequence[str]
    feature_names_: list[str]
    categorical_features_: list[str]
    feature_fields_: dict[str, list[str]]

    def transform(
        self, declarations: pd.DataFrame, live: LiveInputs | None = None
    ) -> pd.DataFrame: ...

    def transform_columns(
        self, columns: DeclarationColumns, live: LiveInputs | None = None
    ) -> NDArray[np.float64]: ...

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


def required_files(manifest: Manifest) -> list[str]:
    """The files a bundle with this manifest cannot load without."""
    return [f"{MODELS_DIR}/{t}.txt" for t in manifest.threats] + [CALIBRATION_FILE, LANES_FILE]


def verify_bundle(directory: Path | str) -> Manifest:
    """Check every file of a saved bundle against its manifest; raise ``BundleIntegrityError`` if any differs."""
    manifest, _ = read_verified(Path(directory), required_files)
    return manifest


class ModelBundle:
    """Scores canonical declarations: per-threat calibrated risk, overall risk, lane and reasons.

    Every scoring method takes a canonical frame or canonical records (see
    `models.declarations`) and reads them through the same code, so the API, batch files,
    training's evaluation and the pyfunc agree to the last digit.

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

        if not self.threats:
            raise ValueError("a bundle needs at least one threat booster")
        bad_names = [t for t in self.threats if not THREAT_NAME.match(t)]
        if bad_names:
            raise ValueError(f"threat names must match {THREAT_NAME.pattern}: {bad_names}")
        if set(self.calibrators) != set(self.threats):
            raise ValueError(
                f"calibrators {sorted(self.calibrators)} do not match boosters {sorted(self.threats)}"
            )
        self._positions = _positions(list(builder.feature_names_), self.features)
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
        # Exact SHAP tables built and the kernel run once here, not on the first request.
        prepare(self.boosters.values())

    @property
    def extra_features(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The ``x_`` columns the builder reads: (categorical, numeric); empty without
        ``source.extra_features``. Scoring paths conform their input to these
        (`features.extras.conform_extras`)."""
        return (
            tuple(getattr(self.builder, "extra_categorical", ())),
            tuple(getattr(self.builder, "extra_numeric", ())),
        )

    # -- scoring ---------------------------------------------------------------------------

    def matrix(
        self, declarations: Declarations, live: LiveInputs | None = None
    ) -> NDArray[np.float64]:
        """The model's feature matrix (rows x ``features``) for canonical declarations.

        ``live``: their entity history and watchlist hits at the scoring moment
        (`features.live`); None scores against an empty store (nothing known, nothing listed).
        """
        return self._matrix(DeclarationBatch.of(declarations), live)

    def _matrix(self, batch: DeclarationBatch, live: LiveInputs | None) -> NDArray[np.float64]:
        values = self.builder.transform_columns(batch.columns, live)
        return values if self._positions is None else values[:, self._positions]

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
        self,
        declarations: Declarations,
        *,
        live: LiveInputs | None = None,
        num_threads: int = 1,
    ) -> dict[str, NDArray[np.float64]]:
        """Raw LightGBM margins (log-odds) per threat, one value per declaration."""
        return self._margins(self.matrix(declarations, live), num_threads)

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

    def risk_frame(
        self,
        declarations: Declarations,
        *,
        live: LiveInputs | None = None,
        num_threads: int = 1,
    ) -> pd.DataFrame:
        """Scores without reasons as a frame: ``declaration_id``, ``risk_<threat>``..., ``overall``, ``lane``."""
        batch = DeclarationBatch.of(declarations)
        risk, overall, lanes = self._risks(
            self._matrix(batch, live), batch.office_ids(), num_threads
        )
        columns: dict[str, Any] = {"declaration_id": np.array(batch.ids(), dtype=object)}
        columns.update({f"risk_{threat}": risk[threat] for threat in self.threats})
        columns.update(overall=overall, lane=lanes)
        return pd.DataFrame(columns, index=batch.index)

    def explain(
        self,
        declarations: Declarations,
        *,
        live: LiveInputs | None = None,
        num_threads: int = 1,
    ) -> dict[str, ThreatExplanation]:
        """Exact SHAP contributions of every threat's booster, in margin units."""
        batch = DeclarationBatch.of(declarations)
        contributions = self._contributions(self._matrix(batch, live), num_threads)
        return {
            threat: ThreatExplanation(
                base_value=base,
                contributions=pd.DataFrame(values, index=batch.index, columns=self.features),
            )
            for threat, (values, base) in contributions.items()
        }

    def score(
        self,
        declarations: Declarations,
        *,
        top_k: int = 5,
        explain: bool = True,
        live: LiveInputs | None = None,
        num_threads: int = 1,
    ) -> list[ScoredDeclaration]:
        """Score canonical declarations, with the ``top_k`` reasons each when ``explain``.

        ``live``: the declarations' entity history and watchlist hits at the scoring moment
        (`features.live`, read from the operational store); None: an empty store.
        """
        batch = DeclarationBatch.of(declarations)
        matrix = self._matrix(batch, live)
        risk, overall, lanes = self._risks(matrix, batch.office_ids(), num_threads)
        if explain and top_k > 0:
            contributions = self._contributions(matrix, num_threads)
            reasons = top_reasons(
                {threat: values for threat, (values, _) in contributions.items()},
                matrix,
                self.features,
                batch.rows,
                top_k=top_k,
                reason_text=self.reason_text,
                feature_fields=self.builder.feature_fields_,
            )
        else:
            reasons = [[] for _ in range(len(batch))]
        ids = batch.ids()
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
        write_json(
            directory / CALIBRATION_FILE, {t: self.calibrators[t].to_dict() for t in self.threats}
        )
        write_json(directory / LANES_FILE, self.lanes.to_dict())
        if self.drift_reference is not None:
            write_json(directory / DRIFT_REFERENCE_FILE, self.drift_reference)
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
            shiprisk_version=shiprisk_version(),
            files=file_sha256s(directory),
            metadata={k: v for k, v in self.metadata.items() if k not in METADATA_KEYS},
        )
        manifest = Manifest.from_dict(json_ready(manifest.to_dict()))
        write_json(directory / MANIFEST_FILE, manifest.to_dict())
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
        manifest, contents = read_verified(directory, required_files)
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
            **{key: getattr(manifest, key) for key in METADATA_KEYS},
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


def _positions(produced: list[str], wanted: list[str]) -> NDArray[np.intp] | None:
    """Where the bundle's features sit among the builder's columns (None: already in order).

    Picking columns by position from one float64 block costs far less than selecting them
    by name on a one-row frame.
    """
    if produced == wanted:
        return None
    index = pd.Index(produced)
    if not index.is_unique:
        raise ValueError("the feature builder lists a feature name twice")
    found = index.get_indexer(pd.Index(wanted))
    if (found < 0).any():
        missing = [f for f, i in zip(wanted, found, strict=True) if i < 0]
        raise ValueError(f"features not produced by the feature builder: {missing}")
    return found.astype(np.intp)
