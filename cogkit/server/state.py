"""What the routes share: the runners, metrics and the shutdown switch of one server instance.

Lives on `app.state.cogkit`, so there are no module-level globals and two servers can run in
one process (the tests do). It is also the HTTP protocol's `EarlyAnswers` (connections.py): a
POST or PUT of a prediction or training while every slot is busy is answered 409 there.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cogkit import __version__
from cogkit.mode import Mode
from cogkit.server.config import ServerConfig
from cogkit.server.connections import ConnectionGuard
from cogkit.server.health import Health
from cogkit.server.http_errors import NotFound, WorkerUnavailable
from cogkit.server.metrics import ServerMetrics
from cogkit.server.openapi import build_document
from cogkit.server.runner import PredictionRunner

_PLAIN_ID = re.compile(rb"[A-Za-z0-9._~-]{1,256}")  # a prediction id as it may appear unencoded


@dataclass
class ServerState:
    config: ServerConfig
    metrics: ServerMetrics
    runners: dict[Mode, PredictionRunner]
    connections: ConnectionGuard | None = None
    request_shutdown: Callable[[], None] = lambda: None
    _openapi: dict[str, Any] | None = field(default=None, repr=False)
    _openapi_sources: tuple[int, ...] | None = field(default=None, repr=False)
    # `/predictions` → its runner, and `/predictions/` (PUT's prefix), for the early 409
    _collections: dict[bytes, PredictionRunner] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._collections = {f"/{mode.endpoint}".encode(): runner for mode, runner in self.runners.items()}

    @property
    def primary(self) -> PredictionRunner:
        """The runner whose worker /health-check describes: predict if there is one, else train."""
        return self.runners.get(Mode.PREDICT) or self.runners[Mode.TRAIN]

    def runner(self, mode: Mode) -> PredictionRunner:
        runner = self.runners.get(mode)
        if runner is None:
            raise NotFound(
                f"this model has no {mode.noun} entry point", hint=f"set `{mode.cog_yaml_key}:` in cog.yaml"
            )
        return runner

    # -- the early 409 (connections.EarlyAnswers) ------------------------------------------------

    def holds(self, method: bytes, target: bytes) -> bool:
        """A POST to a collection, or a PUT to one of its ids, while its runner has no free slot."""
        if method == b"POST":
            runner = self._collections.get(target)
        elif method == b"PUT":  # an id with nothing to decode: anything else goes the normal way
            collection, _, prediction_id = target.rpartition(b"/")
            runner = self._collections.get(collection) if _PLAIN_ID.fullmatch(prediction_id) else None
        else:
            return False
        return runner is not None and runner.busy and runner.accepting

    def answer(self, method: bytes, target: bytes, body: bytes) -> tuple[int, bytes] | None:
        """Cog's 409 for a held request, unless it may name a known prediction (the runner's
        `refuse_early` decides, and counts it); None sends it the normal way."""
        start = time.perf_counter()
        if method == b"POST":
            runner, path_id = self._collections[target], None
        else:
            collection, _, raw_id = target.rpartition(b"/")
            runner, path_id = self._collections[collection], raw_id.decode()
        refusal = runner.refuse_early(path_id, body)
        if refusal is None:
            return None
        route = f"/{runner.mode.endpoint}" + ("" if path_id is None else f"/{{{runner.mode.id_param}}}")
        self.metrics.observe_request(method.decode(), route, 409, time.perf_counter() - start)
        return 409, refusal

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
        for mode in self.runners:
            base = f"/{mode.endpoint}"
            doc[f"{mode.endpoint}_url"] = base
            doc[f"{mode.endpoint}_idempotent_url"] = f"{base}/{{{mode.id_param}}}"
            doc[f"{mode.endpoint}_cancel_url"] = f"{base}/{{{mode.id_param}}}/cancel"
        return doc

    def state(self) -> Health:
        """The model's state without asking the predictor's healthcheck() (no I/O)."""
        runner = self.primary
        status = runner.supervisor.state
        if status is Health.READY and runner.busy:
            return Health.BUSY
        return status

    @property
    def accepting(self) -> bool:
        return self.primary.accepting

    async def health(self) -> tuple[Health, dict[str, Any] | None]:
        """Cog's health: the state (UNHEALTHY when the predictor's healthcheck() says so) and
        the last setup result."""
        runner = self.primary
        supervisor = runner.supervisor
        status = self.state()
        if status is Health.READY and not await supervisor.healthy():
            status = Health.UNHEALTHY
        setup = supervisor.setup.to_json() if supervisor.setup is not None else None
        return status, setup

    async def openapi(self) -> dict[str, Any]:
        """The merged document; waits for the workers to import user code (setup) if needed."""
        docs: dict[Mode, dict[str, Any]] = {}
        for mode, runner in self.runners.items():
            if runner.supervisor.schema is None:
                with contextlib.suppress(Exception):  # a failed import is reported just below
                    await runner.supervisor.schema_ready()
            if runner.supervisor.schema is None:
                raise WorkerUnavailable(
                    f"the {mode.noun} schema is not available: the model could not be loaded",
                    hint="GET /health-check shows the setup logs",
                )
            docs[mode] = runner.supervisor.schema
        sources = tuple(id(doc) for doc in docs.values())
        if self._openapi is None or self._openapi_sources != sources:
            self._openapi = build_document(docs.get(Mode.PREDICT), docs.get(Mode.TRAIN))
            self._openapi_sources = sources
        return self._openapi

    def render_metrics(self) -> bytes:
        for runner in self.runners.values():
            supervisor = runner.supervisor
            if supervisor.setup is not None and supervisor.setup.seconds is not None:
                self.metrics.setup_time.labels(runner.kind).set(supervisor.setup.seconds)
            self.metrics.slots.labels(runner.kind).set(supervisor.limit)
            self.metrics.restarts.labels(runner.kind).set(supervisor.restarts)
        if self.connections is not None:
            self.metrics.connections.set(self.connections.open)
            self.metrics.connections_dropped.labels("evicted").set(self.connections.evicted)
            self.metrics.connections_dropped.labels("refused").set(self.connections.refused)
        return self.metrics.render()
