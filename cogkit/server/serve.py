"""Run the HTTP server around already-started worker supervisors, until shutdown.

Imported only after the workers have been spawned (see `launch.py`), because importing
fastapi and uvicorn takes long enough to be worth overlapping with model loading.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from types import FrameType

import uvicorn

from cogkit.server.app import build_app
from cogkit.server.config import ServerConfig
from cogkit.server.lazyhttp import LazyClient
from cogkit.server.metrics import ServerMetrics
from cogkit.server.runner import PredictionRunner
from cogkit.server.state import ServerState
from cogkit.server.supervisor import WorkerSupervisor
from cogkit.server.webhooks import WebhookSender

log = logging.getLogger("cogkit.server")

SHUTDOWN_GRACE = 10.0


class _Server(uvicorn.Server):
    """uvicorn's server; with --await-explicit-shutdown, SIGTERM is ignored and only /shutdown stops it."""

    def __init__(
        self, config: uvicorn.Config, *, ignore_sigterm: bool, on_exit: Callable[[], None] | None = None
    ) -> None:
        super().__init__(config)
        self.ignore_sigterm = ignore_sigterm
        self.on_exit = on_exit  # told at once (from the signal handler), e.g. to stop reading a queue

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Not calling super(): uvicorn would re-raise the signal after serve() returns, killing
        # the process before the workers and pending webhooks are shut down cleanly.
        if self.ignore_sigterm and sig == signal.SIGTERM:
            log.info("SIGTERM ignored (--await-explicit-shutdown): POST /shutdown to stop")
            return
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        self.request_exit()

    def request_exit(self) -> None:
        self.should_exit = True
        if self.on_exit is not None:
            self.on_exit()


async def serve_forever(
    config: ServerConfig,
    predict: WorkerSupervisor | None,
    train: WorkerSupervisor | None,
) -> None:
    """Build the app, serve until shutdown, then stop predictions, webhooks and workers in order."""
    metrics = ServerMetrics()
    http = LazyClient(timeout=60.0, connect=10.0, max_connections=100)
    webhooks = WebhookSender(http, token=config.webhook_token)
    runners = {
        kind: PredictionRunner(
            supervisor,
            kind=kind,
            http=http,
            webhooks=webhooks,
            metrics=metrics,
            upload_url=config.upload_url,
            max_input_bytes=config.max_input_bytes,
        )
        for kind, supervisor in (("prediction", predict), ("training", train))
        if supervisor is not None
    }
    state = ServerState(
        config=config,
        metrics=metrics,
        predictions=runners.get("prediction"),
        trainings=runners.get("training"),
    )
    queue = None
    if config.queue is not None:
        from cogkit.queue.consumer import start_consumer  # redis is imported only in queue mode

        queue = start_consumer(config.queue, runners["prediction"], metrics.registry)
    uv_config = uvicorn.Config(
        build_app(state),
        host=config.host,
        port=config.port,
        access_log=False,
        log_level="info",
        lifespan="off",
        timeout_graceful_shutdown=SHUTDOWN_GRACE,
    )
    server = _Server(
        uv_config,
        ignore_sigterm=config.await_explicit_shutdown,
        on_exit=queue.stop_reading if queue is not None else None,
    )
    state.request_shutdown = server.request_exit
    try:
        await server.serve()
    finally:
        if queue is not None:
            await queue.drain(SHUTDOWN_GRACE)
        for runner in runners.values():
            await runner.shutdown(SHUTDOWN_GRACE)
        await webhooks.drain(SHUTDOWN_GRACE)
        await http.aclose()
        for supervisor in (predict, train):
            if supervisor is not None:
                await supervisor.stop()
