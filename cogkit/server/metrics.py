"""Prometheus metrics, one registry per server (no process-wide globals).

Exposed at /metrics in the text format:

* `cogkit_http_requests_total{method,route,status}` and `cogkit_http_request_duration_seconds{route}`
  (until the response starts: an event stream's first bytes), recorded by the route wrapper in
  app.py, or by the HTTP protocol for a 409 it answers itself
* `cogkit_predictions_total{kind,status}` and `cogkit_prediction_duration_seconds{kind}`
* `cogkit_predictions_rejected_total{kind,reason}` (busy, invalid)
* `cogkit_predictions_in_flight{kind}` (the queue depth: slots in use) and `cogkit_prediction_slots{kind}`
* `cogkit_setup_duration_seconds{kind}` and `cogkit_worker_restarts{kind}`
* `cogkit_http_connections`, and `cogkit_http_connections_dropped{reason}` (evicted at the
  connection limit, refused when none could be evicted)

In queue mode, `cogkit.queue.metrics` adds the `cogkit_queue_*` metrics to the same registry.
"""

from __future__ import annotations

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
        # Children by label values, so a request costs two dict lookups instead of `labels()`.
        self._counts: dict[tuple[str, str, int], Any] = {}
        self._latency: dict[str, Any] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count and time one HTTP request; `route` is its template (bounded cardinality)."""
        key = (method, route, status)
        count = self._counts.get(key)
        if count is None:
            count = self._counts[key] = self.http_requests.labels(method, route, str(status))
        count.inc()
        latency = self._latency.get(route)
        if latency is None:
            latency = self._latency[route] = self.http_latency.labels(route)
        latency.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
