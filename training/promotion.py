"""Promotion and rollback of registered versions: the `champion` alias moves only with evidence.

The evidence is a comparison on the candidate's own test window: the candidate's run records
its configuration and the fingerprint of its data, so the same declarations are read again,
both bundles (the candidate and the champion, loaded from the registry) score them, and a
paired bootstrap of the difference in mean precision at the configured inspection rates says,
threat by threat, whether the candidate is worse beyond chance. A retrain on newer data is
compared on the newer window, where it should be; a version worse on any threat beyond its
interval is refused. `--force` overrides that, and every move is recorded on the model
version as tags: who was replaced, when, whether it was forced, why, and the comparison.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import mlflow
import numpy as np
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from features.columns import DeclarationColumns
from features.dataset import Dataset, load_dataset
from features.live import live_point_in_time
from features.schema import label_column
from models.bundle import ModelBundle
from training.intervals import Bootstrap, paired_precision_difference

CHAMPION = "champion"
CHALLENGER = "challenger"
TAG_PREVIOUS = "shiprisk.previous_champion"
TAG_PROMOTED_AT = "shiprisk.promoted_at"
TAG_FORCED = "shiprisk.promotion_forced"
TAG_REASON = "shiprisk.promotion_reason"
TAG_EVIDENCE = "shiprisk.promotion_evidence"
DATA_TAG = "shiprisk.data_sha256"
CONFIG_ARTIFACT = "config/config.json"
# The paired bootstrap of promotion: more resamples than the metrics' intervals, as one
# decision rests on it.
PROMOTION_BOOTSTRAP = Bootstrap(resamples=1000, seed=0)


class PromotionError(ValueError):
    """A promotion that was refused, with the comparison that refused it."""


@dataclass
class Promotion:
    """The outcome of a promotion: which version is champion now and what it replaced.

    ``comparison`` per threat of the champion: ``candidate`` and ``champion`` mean precision
    at the inspection rates on the candidate's test window, their ``difference`` and its
    bootstrap ``interval`` ([lo, hi]); empty for a first champion or a forced move.
    """

    name: str
    version: str
    previous: str | None
    forced: bool
    comparison: dict[str, dict[str, Any]]


def compare_bundles(
    candidate: ModelBundle,
    champion: ModelBundle,
    dataset: Dataset,
    positions: np.ndarray,
    rates: Sequence[float],
    bootstrap: Bootstrap = PROMOTION_BOOTSTRAP,
) -> dict[str, dict[str, Any]]:
    """Both bundles on the same declarations: per champion threat, the paired comparison.

    Each bundle ranks the labelled declarations of the window by its calibrated risk, as the
    service would; a threat the candidate does not model compares as missing.
    """
    window = dataset.declarations.iloc[positions]
    risks = {}
    for side, bundle in (("candidate", candidate), ("champion", champion)):
        # Each declaration with the entity history and watchlist hits it had at lodging.
        live = live_point_in_time(
            DeclarationColumns(dataset.declarations),
            dataset.labels,
            list(bundle.threats),
            dataset.watchlist,
        ).take(positions)
        margins = bundle.margins(window, live=live)
        risks[side] = {t: bundle.calibrators[t].predict(m) for t, m in margins.items()}
    out: dict[str, dict[str, Any]] = {}
    for threat in champion.threats:
        if threat not in risks["candidate"]:
            out[threat] = {"missing": True, "interval": [None, None]}
            continue
        y_all = dataset.labels[label_column(threat)].to_numpy(dtype=float)[positions]
        mask = ~np.isnan(y_all)
        out[threat] = paired_precision_difference(
            y_all[mask],
            risks["candidate"][threat][mask],
            risks["champion"][threat][mask],
            rates,
            bootstrap,
        )
    return out


def worse_threats(comparison: dict[str, dict[str, Any]]) -> list[str]:
    """Threats where the candidate is missing or worse beyond the interval (its top below 0)."""
    worse = []
    for threat, result in comparison.items():
        hi = result["interval"][1]
        if result.get("missing") or (hi is not None and hi < 0):
            worse.append(threat)
    return worse


def _run_of(client: MlflowClient, name: str, version: str) -> str:
    run_id = client.get_model_version(name, version).run_id
    if not run_id:
        raise PromotionError(f"model {name} version {version} has no training run to compare")
    return str(run_id)


def candidate_test_window(
    client: MlflowClient, name: str, version: str
) -> tuple[Dataset, np.ndarray, list[float]]:
    """The candidate's test declarations, read again from the configuration its run logged.

    Refused when the configuration is not logged or the data no longer matches the
    fingerprint the run recorded: the comparison must use the declarations it was tested on.
    """
    from training import tracking
    from training.config import TrainingConfig
    from training.splits import split_positions, windows_from_config

    run_id = _run_of(client, name, version)
    try:
        document = json.loads(mlflow.artifacts.load_text(f"runs:/{run_id}/{CONFIG_ARTIFACT}"))
    except (MlflowException, OSError) as exc:
        raise PromotionError(
            f"version {version}: its run logged no {CONFIG_ARTIFACT}, so its test window cannot "
            "be read again. Retrain it, or promote with --force and a --reason."
        ) from exc
    config = TrainingConfig.model_validate(document)
    try:
        dataset = load_dataset(config.source)
    except (OSError, ValueError) as exc:
        raise PromotionError(
            f"version {version}: the data of its run cannot be read again ({exc}). Restore it, "
            "or promote with --force and a --reason."
        ) from exc
    recorded = client.get_run(run_id).data.tags.get(DATA_TAG)
    found = tracking.data_fingerprint(dataset.declarations, dataset.labels)["sha256"]
    if recorded != found:
        raise PromotionError(
            f"version {version} was tested on data {str(recorded)[:12]}, but its source now "
            f"reads as {found[:12]}: the test window cannot be compared. Restore the data, "
            "retrain, or promote with --force and a --reason."
        )
    positions = split_positions(
        dataset.declarations, dataset.labels, windows_from_config(config.split)
    )
    return dataset, positions["test"], list(config.evaluation.inspection_rates)


def evidence(name: str, version: str, champion: str) -> dict[str, dict[str, Any]]:
    """The paired comparison of ``version`` with ``champion`` on the candidate's test window."""
    from models.registry import load_bundle

    client = MlflowClient()
    dataset, positions, rates = candidate_test_window(client, name, version)
    candidate_bundle, _, _ = load_bundle(f"models:/{name}/{version}")
    champion_bundle, _, _ = load_bundle(f"models:/{name}/{champion}")
    return compare_bundles(candidate_bundle, champion_bundle, dataset, positions, rates)


def describe_comparison(threat: str, result: dict[str, Any]) -> str:
    """One line of the comparison of a threat, for the terminal and refusal messages."""
    if result.get("missing"):
        return f"{threat}: not modelled by the candidate"
    lo, hi = result["interval"]
    return (
        f"{threat}: {result['candidate']:.4f} vs {result['champion']:.4f} "
        f"(difference {result['difference']:+.4f}, 95% interval {lo:+.4f} to {hi:+.4f})"
    )


def promote(
    name: str, version: str, *, force: bool = False, reason: str | None = None
) -> Promotion:
    """Set the champion alias to ``version`` unless it is worse than the current champion.

    Raises:
        PromotionError: the version does not exist, its test window cannot be read again, or
            it is worse on a threat beyond the bootstrap interval; the message shows the
            comparison.
    """
    client = MlflowClient()
    try:
        client.get_model_version(name, version)
    except MlflowException as exc:
        raise PromotionError(f"model {name} has no version {version}") from exc
    previous = current_champion(client, name)
    comparison: dict[str, dict[str, Any]] = {}
    if previous is not None and previous != version and not force:
        comparison = evidence(name, version, previous)
        worse = worse_threats(comparison)
        if worse:
            detail = "; ".join(describe_comparison(t, comparison[t]) for t in worse)
            raise PromotionError(
                f"version {version} is worse than champion version {previous} on the "
                f"candidate's test window (mean precision at inspection rates, paired bootstrap) "
                f"for {detail}. Promote with --force and a --reason to override."
            )
    client.set_registered_model_alias(name, CHAMPION, version)
    tags = {
        TAG_PROMOTED_AT: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        TAG_FORCED: str(bool(force)).lower(),
        TAG_REASON: reason
        or ("first champion" if previous is None else "not worse on its test window"),
    }
    if previous is not None and previous != version:
        tags[TAG_PREVIOUS] = previous
    if comparison:
        tags[TAG_EVIDENCE] = json.dumps(comparison, sort_keys=True)
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    return Promotion(name, version, previous, force, comparison)


def current_champion(client: MlflowClient, name: str) -> str | None:
    """The version the champion alias names, or None when there is no champion yet."""
    try:
        return str(client.get_model_version_by_alias(name, CHAMPION).version)
    except MlflowException:
        return None


def rollback(name: str, *, reason: str | None = None) -> Promotion:
    """Give the champion alias back to the version the current champion replaced."""
    client = MlflowClient()
    current = current_champion(client, name)
    if current is None:
        raise PromotionError(f"model {name} has no champion to roll back")
    previous = client.get_model_version(name, current).tags.get(TAG_PREVIOUS)
    if not previous:
        raise PromotionError(
            f"champion version {current} of {name} replaced no earlier version: nothing to roll back to"
        )
    client.set_registered_model_alias(name, CHAMPION, previous)
    client.set_model_version_tag(
        name, previous, TAG_PROMOTED_AT, dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    )
    client.set_model_version_tag(name, previous, TAG_REASON, reason or f"rollback from {current}")
    return Promotion(name, previous, current, True, {})
