"""Promotion and rollback of registered versions: the `champion` alias moves only with evidence.

A version becomes champion only when it is at least as good as the current champion on the
same test window, threat by threat (mean precision at the inspection rates). `--force`
overrides that, and every move is recorded on the model version as tags: who was replaced,
when, whether it was forced, and why.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from training.metrics import selection_score

CHAMPION = "champion"
CHALLENGER = "challenger"
TAG_PREVIOUS = "shiprisk.previous_champion"
TAG_PROMOTED_AT = "shiprisk.promoted_at"
TAG_FORCED = "shiprisk.promotion_forced"
TAG_REASON = "shiprisk.promotion_reason"


class PromotionError(ValueError):
    """A promotion that was refused, with the comparison that refused it."""


@dataclass
class Promotion:
    """The outcome of a promotion: which version is champion now and what it replaced."""

    name: str
    version: str
    previous: str | None
    forced: bool
    comparison: dict[str, dict[str, float]]


def run_metrics(client: MlflowClient, name: str, version: str) -> dict[str, Any]:
    """The test-window metrics file that the run of a model version logged."""
    model_version = client.get_model_version(name, version)
    if not model_version.run_id:
        raise PromotionError(f"model {name} version {version} has no training run to compare")
    uri = f"runs:/{model_version.run_id}/metrics/metrics.json"
    text = mlflow.artifacts.load_text(uri)
    metrics: dict[str, Any] = json.loads(text)
    return metrics


def _test_window(client: MlflowClient, name: str, version: str) -> tuple[str, str]:
    run_id = client.get_model_version(name, version).run_id
    if not run_id:
        raise PromotionError(f"model {name} version {version} has no training run to compare")
    run = client.get_run(run_id)
    return run.data.params.get("test_window", "?"), run.data.tags.get("shiprisk.data_sha256", "?")


def compare(candidate: dict[str, Any], champion: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per threat of the champion: the selection score of both (None where a threat is missing)."""
    out: dict[str, dict[str, float]] = {}
    for threat, champion_metrics in champion["threats"].items():
        candidate_metrics = candidate["threats"].get(threat)
        out[threat] = {
            "champion": selection_score(_nan_safe(champion_metrics)),
            "candidate": (
                selection_score(_nan_safe(candidate_metrics))
                if candidate_metrics is not None
                else float("-inf")
            ),
        }
    return out


def _nan_safe(metrics: dict[str, Any]) -> dict[str, Any]:
    """Metrics read back from JSON hold null where a value was undefined."""
    return {
        "precision_at": {
            k: (float("nan") if v is None else v) for k, v in metrics["precision_at"].items()
        },
        "pr_auc": float("nan") if metrics.get("pr_auc") is None else metrics["pr_auc"],
    }


def promote(
    name: str, version: str, *, force: bool = False, reason: str | None = None
) -> Promotion:
    """Set the champion alias to ``version`` if it is at least as good as the current one.

    Raises:
        PromotionError: the version does not exist, was tested on another window or data
            than the champion, or is worse on a threat; the message shows the comparison.
    """
    client = MlflowClient()
    try:
        client.get_model_version(name, version)
    except MlflowException as exc:
        raise PromotionError(f"model {name} has no version {version}") from exc
    previous = current_champion(client, name)
    comparison: dict[str, dict[str, float]] = {}
    if previous is not None and previous != version and not force:
        window_candidate = _test_window(client, name, version)
        window_champion = _test_window(client, name, previous)
        if window_candidate != window_champion:
            raise PromotionError(
                f"version {version} was tested on window {window_candidate[0]} (data "
                f"{window_candidate[1][:12]}), champion version {previous} on "
                f"{window_champion[0]} (data {window_champion[1][:12]}): they cannot be compared. "
                "Retrain both on the same configuration, or promote with --force and a --reason."
            )
        comparison = compare(
            run_metrics(client, name, version), run_metrics(client, name, previous)
        )
        worse = [t for t, c in comparison.items() if c["candidate"] < c["champion"]]
        if worse:
            detail = "; ".join(
                f"{t}: {comparison[t]['candidate']:.4f} < {comparison[t]['champion']:.4f}"
                for t in worse
            )
            raise PromotionError(
                f"version {version} is worse than champion version {previous} on the same test "
                f"window (mean precision at inspection rates) for {detail}. "
                "Promote with --force and a --reason to override."
            )
    client.set_registered_model_alias(name, CHAMPION, version)
    tags = {
        TAG_PROMOTED_AT: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        TAG_FORCED: str(bool(force)).lower(),
        TAG_REASON: reason or ("first champion" if previous is None else "at least as good"),
    }
    if previous is not None and previous != version:
        tags[TAG_PREVIOUS] = previous
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
