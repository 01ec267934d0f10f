"""Prometheus metrics of one app instance, and the middleware that times every request.

Each app owns its `CollectorRegistry` (not the process-global one), so tests and benchmarks
can create many apps in one process without duplicate-metric errors.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Mapping, MutableMapping
from datetime import datetime
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

        # Performance in production (serving.model.performance), from the newest stored report.
        self.hit_rate = Gauge(
            "shiprisk_hit_rate",
            "Share of inspections with outcomes that found the threat, by selection (model, "
            "random) and period (window: the monitored weeks; last_week).",
            ("threat", "selection", "period"),
            registry=self.registry,
        )
        self.random_hit_rate_bound = Gauge(
            "shiprisk_random_hit_rate_bound",
            "Bounds of the 95% Wilson interval of the random picks' hit rate.",
            ("threat", "bound", "period"),
            registry=self.registry,
        )
        self.estimated_rate = Gauge(
            "shiprisk_estimated_rate",
            "Horvitz-Thompson estimate of the threat's rate over all declarations, each "
            "inspection weighed by the selection probability of the draw it followed.",
            ("threat", "period"),
            registry=self.registry,
        )
        self.monitored_inspections = Gauge(
            "shiprisk_monitored_inspections",
            "Inspections with outcomes in the monitoring window, by selection and period.",
            ("selection", "period"),
            registry=self.registry,
        )
        self.performance_state = Gauge(
            "shiprisk_performance_state",
            "1 for each threat's current state: ok, alert (model picks do not beat random "
            "picks, or the hit rate fell), insufficient_data.",
            ("threat", "state"),
            registry=self.registry,
        )
        self.performance_computed = Gauge(
            "shiprisk_performance_computed_timestamp_seconds",
            "When the performance figures shown were computed (Unix time).",
            registry=self.registry,
        )
        self.performance_report: int | None = None  # the stored report the gauges show

    def show_performance(self, report_id: int, summary: Mapping[str, Any]) -> None:
        """Set the performance gauges from one stored report (its figures replace the last)."""
        for gauge in (
            self.hit_rate,
            self.random_hit_rate_bound,
            self.estimated_rate,
            self.monitored_inspections,
            self.performance_state,
        ):
            gauge.clear()
        for threat, figures in summary.get("threats", {}).items():
            self.performance_state.labels(threat, figures["state"]).set(1)
            periods = {"window": figures["window"]}
            if figures["weeks"]:
                periods["last_week"] = figures["weeks"][-1]
            for period, values in periods.items():
                for selection in ("model", "random"):
                    picks = values[selection]
                    self.monitored_inspections.labels(selection, period).set(picks["n"])
                    if picks["rate"] is not None:
                        self.hit_rate.labels(threat, selection, period).set(picks["rate"])
                for bound, value in zip(
                    ("lower", "upper"), values["random"]["interval"] or (), strict=False
                ):
                    self.random_hit_rate_bound.labels(threat, bound, period).set(value)
                if values["estimated_rate"] is not None:
                    self.estimated_rate.labels(threat, period).set(values["estimated_rate"])
        computed = summary.get("computed_at")
        if computed:
            self.performance_computed.set(datetime.fromisoformat(computed).timestamp())
        self.performance_report = report_id

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
