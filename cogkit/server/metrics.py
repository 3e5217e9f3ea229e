"""Prometheus metrics, one registry per server (no process-wide globals).

Exposed at /metrics in the text format:

* `cogkit_http_requests_total{method,route,status}` and `cogkit_http_request_duration_seconds{route}`
* `cogkit_predictions_total{kind,status}` and `cogkit_prediction_duration_seconds{kind}`
* `cogkit_predictions_rejected_total{kind,reason}` (busy, invalid)
* `cogkit_predictions_in_flight{kind}` (the queue depth: slots in use) and `cogkit_prediction_slots{kind}`
* `cogkit_setup_duration_seconds{kind}` and `cogkit_worker_restarts{kind}`
* `cogkit_http_connections`, and `cogkit_http_connections_dropped{reason}` (evicted at the
  connection limit, refused when none could be evicted)

In queue mode, `cogkit.queue.metrics` adds the `cogkit_queue_*` metrics to the same registry.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

CONTENT_TYPE = CONTENT_TYPE_LATEST


class ServerMetrics:
    """All the server's instruments, registered on a private registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter(
            "cogkit_http_requests", "HTTP requests served", ["method", "route", "status"], registry=r
        )
        self.http_latency = Histogram(
            "cogkit_http_request_duration_seconds",
            "HTTP request latency",
            ["route"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.predictions = Counter(
            "cogkit_predictions", "Finished predictions by outcome", ["kind", "status"], registry=r
        )
        self.prediction_time = Histogram(
            "cogkit_prediction_duration_seconds",
            "Time from start to completion of a prediction",
            ["kind"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.rejected = Counter(
            "cogkit_predictions_rejected",
            "Predictions refused before they ran",
            ["kind", "reason"],
            registry=r,
        )
        self.in_flight = Gauge(
            "cogkit_predictions_in_flight", "Predictions holding a slot", ["kind"], registry=r
        )
        self.slots = Gauge("cogkit_prediction_slots", "Concurrency limit", ["kind"], registry=r)
        self.setup_time = Gauge(
            "cogkit_setup_duration_seconds", "Duration of the last setup()", ["kind"], registry=r
        )
        self.restarts = Gauge("cogkit_worker_restarts", "Worker restarts after a crash", ["kind"], registry=r)
        self.connections = Gauge("cogkit_http_connections", "Open client connections", registry=r)
        self.connections_dropped = Gauge(
            "cogkit_http_connections_dropped",
            "Connections closed at the connection limit",
            ["reason"],
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Pure ASGI middleware counting requests by route template (not raw path, to bound cardinality)."""

    def __init__(self, app: Any, metrics: ServerMetrics, routes: Mapping[Any, str] | None = None) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes or {}  # endpoint -> path template, for plain (non-APIRoute) routes
        # Children by label values, so a request costs one dict lookup instead of `labels()`.
        self._counts: dict[tuple[str, str, int], Any] = {}
        self._latency: dict[str, Any] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            name = self.routes.get(scope.get("endpoint")) or getattr(scope.get("route"), "path", None)
            name = name or "unmatched"
            self._count(scope["method"], name, status).inc()
            latency = self._latency.get(name)
            if latency is None:
                latency = self._latency[name] = self.metrics.http_latency.labels(name)
            latency.observe(time.perf_counter() - start)

    def _count(self, method: str, route: str, status: int) -> Any:
        key = (method, route, status)
        child = self._counts.get(key)
        if child is None:
            child = self._counts[key] = self.metrics.http_requests.labels(method, route, str(status))
        return child
