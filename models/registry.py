"""MLflow registry glue for model bundles: the only MLflow code outside training/.

A bundle is logged as a pyfunc "models from code" model (``models/pyfunc_model.py``) with the
bundle directory as its ``bundle`` artifact, registered, and given an alias. The sha256 of the
bundle's manifest is recorded as a tag of the model version, so a loader can prove that the
files it downloaded are the ones that were registered: the manifest hashes every other file.

The tracking URI is the caller's business (settings, or a test's temporary directory); nothing
here sets it.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Mapping
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.models import Model

from models.bundle import ModelBundle, verify_bundle
from models.manifest import BundleIntegrityError, manifest_sha256

PYFUNC_MODEL_FILE = Path(__file__).with_name("pyfunc_model.py")
BUNDLE_ARTIFACT = "bundle"
MANIFEST_SHA256_TAG = "manifest_sha256"
LOGGED_MODEL_NAME = "model"
# Libraries the pyfunc needs at load time; shiprisk itself must be installed where it is served.
_RUNTIME_REQUIREMENTS = ("lightgbm", "numpy", "pandas", "pyarrow", "scikit-learn")
_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<version>\d+))/?$")


def _pip_requirements() -> list[str]:
    """Pinned to the versions installed now, so the logged model says what it was built with."""
    pinned = []
    for package in (*_RUNTIME_REQUIREMENTS, "mlflow"):
        try:
            pinned.append(f"{package}=={package_metadata.version(package)}")
        except package_metadata.PackageNotFoundError:
            pinned.append(package)
    return pinned


def log_bundle(
    bundle_dir: Path | str,
    *,
    registered_model_name: str = "shiprisk",
    alias: str | None = "challenger",
) -> str:
    """Log a saved bundle in the active run, register it, tag it with its manifest sha256, set the alias.

    The bundle is verified first, so a damaged bundle never reaches the registry.

    Returns:
        The new model version, as a string.
    """
    bundle_dir = Path(bundle_dir)
    if mlflow.active_run() is None:
        raise RuntimeError(
            "log_bundle logs into the active MLflow run: call it inside mlflow.start_run()"
        )
    verify_bundle(bundle_dir)
    sha256 = manifest_sha256(bundle_dir)
    info = mlflow.pyfunc.log_model(
        name=LOGGED_MODEL_NAME,
        python_model=str(PYFUNC_MODEL_FILE),
        artifacts={BUNDLE_ARTIFACT: str(bundle_dir)},
        pip_requirements=_pip_requirements(),
    )
    # Registering with the tag in one call: a version never exists without its pin.
    version = mlflow.register_model(
        info.model_uri, registered_model_name, tags={MANIFEST_SHA256_TAG: sha256}
    ).version
    if alias:
        set_alias(registered_model_name, alias, str(version))
    return str(version)


def set_alias(name: str, alias: str, version: str) -> None:
    """Point ``alias`` (``champion``, ``challenger``) of a registered model at a version."""
    MlflowClient().set_registered_model_alias(name, alias, str(version))


def _client(tracking_uri: str | None) -> MlflowClient:
    """A client for ``tracking_uri`` as both tracking and registry store (current ones when None)."""
    if tracking_uri is None:
        return MlflowClient()
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def resolve(model_uri: str, *, tracking_uri: str | None = None) -> tuple[str, str]:
    """Registered model name and version of ``models:/<name>@<alias>`` or ``models:/<name>/<version>``.

    ``tracking_uri`` names the registry to ask (MLflow's current one when None).
    """
    match = _MODELS_URI.match(model_uri)
    if match is None:
        raise ValueError(
            f"model URI {model_uri!r} is not models:/<name>@<alias> or models:/<name>/<version>"
        )
    name = match["name"]
    if match["alias"]:
        client = _client(tracking_uri)
        return name, str(client.get_model_version_by_alias(name, match["alias"]).version)
    return name, match["version"]


def load_bundle(
    model_uri: str, *, dst_path: Path | str | None = None, tracking_uri: str | None = None
) -> tuple[ModelBundle, str, str]:
    """Download a registered bundle, check it against the registry's manifest pin, and load it.

    Args:
        model_uri: ``models:/<name>@<alias>`` or ``models:/<name>/<version>``.
        dst_path: where to keep the downloaded model; by default a temporary directory that is
            removed once the bundle is in memory.
        tracking_uri: the MLflow tracking and registry store to read from; MLflow's current
            one when None. A client bound to it is used, so no global MLflow state changes.

    Returns:
        The bundle, the registered model name and the version it resolved to.

    Raises:
        BundleIntegrityError: the version has no manifest pin, the manifest differs from it, or
            a file differs from the manifest.
    """
    name, version = resolve(model_uri, tracking_uri=tracking_uri)
    client = _client(tracking_uri)
    model_version = client.get_model_version(name, version)
    pinned = (model_version.tags or {}).get(MANIFEST_SHA256_TAG)
    if not pinned:
        raise BundleIntegrityError(
            f"models:/{name}/{version}", [f"model version has no {MANIFEST_SHA256_TAG} tag"]
        )
    temporary = None if dst_path is not None else tempfile.mkdtemp(prefix="shiprisk-bundle-")
    try:
        local = Path(
            # The version's own artifact location, asked of this client: a models:/ URI
            # would be resolved again through MLflow's current registry, not this one.
            mlflow.artifacts.download_artifacts(
                artifact_uri=client.get_model_version_download_uri(name, version),
                dst_path=str(dst_path or temporary),
                tracking_uri=tracking_uri,
            )
        )
        pyfunc = Model.load(str(local)).flavors["python_function"]
        bundle_dir = (local / pyfunc["artifacts"][BUNDLE_ARTIFACT]["path"]).resolve()
        if not bundle_dir.is_relative_to(local.resolve()):
            raise BundleIntegrityError(
                bundle_dir, ["bundle artifact lies outside the downloaded model"]
            )
        found = (
            manifest_sha256(bundle_dir) if (bundle_dir / "manifest.json").is_file() else "missing"
        )
        if found != pinned:
            raise BundleIntegrityError(
                bundle_dir,
                [
                    f"manifest.json: sha256 {found} differs from the registry tag {MANIFEST_SHA256_TAG}={pinned}"
                ],
            )
        bundle = ModelBundle.load(bundle_dir)
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
    return bundle, name, version


MONITORING_EXPERIMENT = "shiprisk-monitoring"


def log_monitoring_report(
    files: list[Path],
    summary: Mapping[str, Any],
    *,
    tracking_uri: str | None = None,
    experiment: str = MONITORING_EXPERIMENT,
) -> str:
    """Log a drift report as an MLflow run: PSI figures as metrics, the report files as artifacts.

    ``summary`` is ``models.monitoring.DriftSummary.as_dict()``; the run is tagged with the
    model name and version it monitored. A client bound to ``tracking_uri`` is used (the
    current URI when None), so no global MLflow state changes.

    Returns:
        The run id.
    """
    client = MlflowClient(tracking_uri=tracking_uri)
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    model = dict(summary.get("model") or {})
    metrics: dict[str, float] = {}
    for name, value in dict(summary.get("score_psi") or {}).items():
        metrics[f"psi.{name}"] = float(value)
    feature_psi = dict(summary.get("feature_psi") or {})
    if feature_psi:
        metrics["psi.max_feature"] = max(float(v) for v in feature_psi.values())
    for side, shares in dict(summary.get("lane_shares") or {}).items():
        for lane, share in dict(shares).items():
            metrics[f"lane_share.{side}.{lane}"] = float(share)
    run = client.create_run(
        experiment_id,
        tags={
            "shiprisk.monitored_model": str(model.get("name", "")),
            "shiprisk.monitored_version": str(model.get("version", "")),
        },
    )
    run_id = str(run.info.run_id)
    try:
        for name, value in metrics.items():
            client.log_metric(run_id, name, value)
        for path in files:
            client.log_artifact(run_id, str(path), "drift")
    except Exception:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id)
    return run_id
