"""What the routes share: the runners, metrics and the shutdown switch of one server instance.

Lives on `app.state.cogkit`, so there are no module-level globals and two servers can run in
one process (the tests do).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cogkit import __version__
from cogkit.server.config import ServerConfig
from cogkit.server.http_errors import NotFound, WorkerUnavailable
from cogkit.server.metrics import ServerMetrics
from cogkit.server.openapi import build_document
from cogkit.server.runner import PredictionRunner


@dataclass
class ServerState:
    config: ServerConfig
    metrics: ServerMetrics
    predictions: PredictionRunner | None
    trainings: PredictionRunner | None
    request_shutdown: Callable[[], None] = lambda: None
    _openapi: dict[str, Any] | None = field(default=None, repr=False)
    _openapi_sources: tuple[int, int] | None = field(default=None, repr=False)

    @property
    def primary(self) -> PredictionRunner:
        runner = self.predictions or self.trainings
        assert runner is not None, "a server has a predict or a train reference"
        return runner

    def runner(self, kind: str) -> PredictionRunner:
        runner = self.predictions if kind == "prediction" else self.trainings
        if runner is None:
            raise NotFound(f"this model has no {kind} entry point", hint="set `train:` in cog.yaml")
        return runner

    def root(self) -> dict[str, Any]:
        """Cog's discovery document: where each endpoint lives."""
        doc: dict[str, Any] = {
            "cog_version": f"cogkit-{__version__}",
            "cogkit_version": __version__,
            "docs_url": None,
            "openapi_url": "/openapi.json",
            "shutdown_url": "/shutdown",
            "healthcheck_url": "/health-check",
            "metrics_url": "/metrics",
        }
        if self.predictions is not None:
            doc["predictions_url"] = "/predictions"
            doc["predictions_idempotent_url"] = "/predictions/{prediction_id}"
            doc["predictions_cancel_url"] = "/predictions/{prediction_id}/cancel"
        if self.trainings is not None:
            doc["trainings_url"] = "/trainings"
            doc["trainings_idempotent_url"] = "/trainings/{training_id}"
            doc["trainings_cancel_url"] = "/trainings/{training_id}/cancel"
        return doc

    async def health(self) -> dict[str, Any]:
        """Cog's health document: `status` and the `setup` result once there is one."""
        runner = self.primary
        supervisor = runner.supervisor
        status = supervisor.state
        if status == "READY":
            if runner.busy:
                status = "BUSY"
            elif not await supervisor.healthy():
                status = "UNHEALTHY"
        setup = supervisor.setup.to_json() if supervisor.setup is not None else None
        return {"status": status, "setup": setup}

    async def openapi(self) -> dict[str, Any]:
        """The merged document; waits for the workers to import user code (setup) if needed."""
        docs: list[dict[str, Any] | None] = []
        for runner in (self.predictions, self.trainings):
            if runner is None:
                docs.append(None)
                continue
            if runner.supervisor.schema is None:
                with contextlib.suppress(Exception):  # a failed import is reported just below
                    await runner.supervisor.schema_ready()
            if runner.supervisor.schema is None:
                raise WorkerUnavailable(
                    f"the {runner.kind} schema is not available: the model could not be loaded",
                    hint="GET /health-check shows the setup logs",
                )
            docs.append(runner.supervisor.schema)
        sources = (id(docs[0]), id(docs[1]))
        if self._openapi is None or self._openapi_sources != sources:
            self._openapi = build_document(docs[0], docs[1])
            self._openapi_sources = sources
        return self._openapi

    def render_metrics(self) -> bytes:
        for runner in (self.predictions, self.trainings):
            if runner is None:
                continue
            supervisor = runner.supervisor
            if supervisor.setup is not None and supervisor.setup.seconds is not None:
                self.metrics.setup_time.labels(runner.kind).set(supervisor.setup.seconds)
            self.metrics.slots.labels(runner.kind).set(supervisor.limit)
            self.metrics.restarts.labels(runner.kind).set(supervisor.restarts)
        return self.metrics.render()
