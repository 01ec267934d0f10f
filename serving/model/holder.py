"""The model the service scores with, and its atomic replacement on reload.

Requests take one snapshot (`ModelHolder.current`) and use it to the end, so a reload that
lands in the middle of a request never mixes two models in one response. A reload loads and
verifies the new bundle completely before the swap; if anything fails, the old model keeps
serving and the failure is kept as the reason shown by /readyz and the reload response.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from models.bundle import ModelBundle
from serving.base import LoadedModel

log = logging.getLogger(__name__)

BundleLoader = Callable[[str], tuple[ModelBundle, str, str]]
"""Loads a verified bundle from a model URI; returns (bundle, registered name, version)."""


class ModelLoadError(RuntimeError):
    """Loading or verifying a bundle failed; the message says why (never declaration data)."""


def registry_loader(tracking_uri: str) -> BundleLoader:
    """A loader reading bundles from the MLflow registry at ``tracking_uri``, hashes verified."""

    def load(model_uri: str) -> tuple[ModelBundle, str, str]:
        from models.registry import load_bundle

        # A client bound to the resolved URI (ServiceSettings.resolved_tracking_uri, where
        # MLFLOW_TRACKING_URI already wins): no process-wide MLflow state is changed.
        return load_bundle(model_uri, tracking_uri=tracking_uri)

    return load


def local_loader(bundle_directory: str) -> tuple[ModelBundle, str, str]:
    """Load a bundle directory (hashes verified); its version reads ``local``.

    For benchmarks and offline work on a bundle that is not registered.
    """
    bundle = ModelBundle.load(bundle_directory)
    return bundle, str(bundle.metadata.get("name", "shiprisk")), "local"


class ModelHolder:
    """Holds the served model; `load` swaps in a new one only after it verified completely."""

    def __init__(
        self,
        model_uri: str,
        loader: BundleLoader,
        *,
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        self.model_uri = model_uri
        self._loader = loader
        self._on_failure = on_failure
        self._current: LoadedModel | None = None
        self._last_error: str | None = "no model loaded yet"
        self._reload_lock = threading.Lock()

    @property
    def current(self) -> LoadedModel | None:
        """The model to score with (one attribute read: atomic under concurrent reloads)."""
        return self._current

    @property
    def last_error(self) -> str | None:
        """Why the last load failed, or None when it succeeded."""
        return self._last_error

    def load(self) -> tuple[LoadedModel, LoadedModel | None]:
        """Load the bundle the URI names now, verify it, and make it current.

        Returns:
            The new model and the one it replaced.

        Raises:
            ModelLoadError: loading failed; the previous model, if any, is still current.
        """
        with self._reload_lock:  # one reload at a time; scoring never waits on this lock
            previous = self._current
            try:
                bundle, name, version = self._loader(self.model_uri)
            except Exception as error:
                reason = f"could not load {self.model_uri}: {type(error).__name__}: {error}"
                self._last_error = reason
                log.error("model load failed: %s", reason)
                if self._on_failure is not None:
                    self._on_failure(reason)
                raise ModelLoadError(reason) from error
            loaded = LoadedModel(bundle, name, version, self.model_uri, datetime.now(UTC))
            self._current = loaded
            self._last_error = None
            log.info("serving %s from %s", loaded.label, self.model_uri)
            return loaded, previous
