"""Prometheus metrics of one app instance, and the middleware that times every request.

Each app owns its `CollectorRegistry` (not the process-global one), so tests and benchmarks
can create many apps in one process without duplicate-metric errors.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Receive, Scope, Send

from serving.base import MODEL_VERSION_HEADER

if TYPE_CHECKING:
    from serving.model.holder import ModelHolder

# Scoring a single declaration takes milliseconds, a full batch up to seconds.
LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
NO_MODEL = "none"

__all__ = ["CONTENT_TYPE_LATEST", "RequestMetrics", "ServiceMetrics"]


class ServiceMetrics:
    """Request latency, scores served per lane, and model loads of one service instance."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.request_latency = Histogram(
            "shiprisk_request_duration_seconds",
            "Time to answer an HTTP request, by route template, status and model version.",
            ("route", "method", "status", "model_version"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.scores_served = Counter(
            "shiprisk_scores",
            "Declarations scored, by lane and model version.",
            ("lane", "model_version"),
            registry=self.registry,
        )
        self.model_load_failures = Counter(
            "shiprisk_model_load_failures",
            "Failed attempts to load or verify a model bundle (startup or reload).",
            registry=self.registry,
        )
        self.model_loaded = Gauge(
            "shiprisk_model_loaded",
            "1 while a verified model is being served, else 0.",
            registry=self.registry,
        )

    def observe_request(
        self, route: str, method: str, status: int, model_version: str | None, seconds: float
    ) -> None:
        """Record one answered request."""
        self.request_latency.labels(route, method, str(status), model_version or NO_MODEL).observe(
            seconds
        )

    def count_lanes(self, lanes: list[str], model_version: str) -> None:
        """Add one score per declaration to its lane's counter."""
        for lane, count in Tally(lanes).items():
            self.scores_served.labels(lane, model_version).inc(count)

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric of this instance."""
        return generate_latest(self.registry)


class RequestMetrics:
    """Times every request and records it by route template, status and model version."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics, holder: ModelHolder) -> None:
        self.app = app
        self.metrics = metrics
        self.holder = holder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        model_version: str | None = None

        async def send_and_watch(message: MutableMapping[str, Any]) -> None:
            nonlocal status, model_version
            if message["type"] == "http.response.start":
                status = int(message["status"])
                for key, value in message.get("headers", []):
                    if key.decode("latin-1").lower() == MODEL_VERSION_HEADER.lower():
                        model_version = value.decode("latin-1")
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            route = scope.get("route")
            # Templates, not raw paths: /v1/declarations/{id} must stay one time series.
            template = getattr(route, "path", None) or "unmatched"
            if model_version is None and (current := self.holder.current) is not None:
                model_version = current.label
            self.metrics.observe_request(
                template, scope["method"], status, model_version, time.perf_counter() - started
            )
