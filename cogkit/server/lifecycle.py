"""Run the HTTP server around already-started worker supervisors: signals, drain and exit.

Imported only after the workers have been spawned (see `launch.py`), because importing
uvicorn, Starlette and prometheus_client takes long enough to be worth overlapping with model
loading.

How the server ends, whatever asks it to (SIGTERM, SIGINT, `POST /shutdown`, EOF on stdin
with `--exit-on-stdin-eof`):

1. new predictions get 503 and /readyz turns 503;
2. running predictions get `shutdown_grace` seconds (COGKIT_SHUTDOWN_GRACE) to finish;
3. the rest are canceled; what the worker has not let go of `CANCEL_WAIT` seconds later is
   ended by the server, so every client still gets a JSON prediction (`canceled`), every
   webhook its `completed` and every stream its last event;
4. uvicorn closes the connections (after the responses are written), pending webhooks get
   `FLUSH` seconds, and the workers are stopped (killed after `FLUSH` seconds).

So the whole process tree is gone within `shutdown_grace` + `EXIT_BOUND` seconds. SIGHUP
restarts the workers instead (setup runs again; the HTTP server stays up).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING

import uvicorn

from cogkit.mode import Mode
from cogkit.server.app import build_app
from cogkit.server.config import ServerConfig
from cogkit.server.connections import ConnectionGuard
from cogkit.server.metrics import ServerMetrics
from cogkit.server.outbound import Outbound
from cogkit.server.runner import CANCEL_WAIT, PredictionRunner
from cogkit.server.state import ServerState
from cogkit.server.supervisor import WorkerSupervisor
from cogkit.server.webhooks import WebhookPolicy, WebhookSender

if TYPE_CHECKING:
    from cogkit.queue.consumer import QueueConsumer

log = logging.getLogger("cogkit.server")

FLUSH = 3.0  # seconds for responses, then webhooks and worker exits, at the end of a shutdown
# After the grace: canceled predictions, the server's own end of them, the responses, the worker
# (FLUSH to exit, 2 s after SIGTERM, then SIGKILL) and slack. docs/http-api.md states it.
EXIT_BOUND = CANCEL_WAIT + 1 + FLUSH + (FLUSH + 2) + 8


class _Server(uvicorn.Server):
    """uvicorn's server, whose exit signals start our drain instead of stopping at once."""

    def __init__(self, config: uvicorn.Config, shutdown: Shutdown, *, ignore_sigterm: bool) -> None:
        super().__init__(config)
        self.shutdown_control = shutdown
        self.ignore_sigterm = ignore_sigterm

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Not calling super(): uvicorn would stop serving at once and re-raise the signal after
        # serve() returns, killing the process before predictions, webhooks and workers end.
        if self.ignore_sigterm and sig == signal.SIGTERM:
            log.info("SIGTERM ignored (--await-explicit-shutdown): POST /shutdown to stop")
            return
        if sig == signal.SIGINT and self.shutdown_control.started:
            self.force_exit = self.should_exit = True  # a second Ctrl-C: stop now
            return
        self.shutdown_control.request_threadsafe(signal.Signals(sig).name)


class Shutdown:
    """Starts the drain once, from a signal, a request or stdin, then lets uvicorn exit."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, runners: list[PredictionRunner], grace: float
    ) -> None:
        self.loop = loop
        self.runners = runners
        self.grace = grace
        self.server: uvicorn.Server | None = None
        self.queue: QueueConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def started(self) -> bool:
        return self._task is not None

    def request_threadsafe(self, why: str) -> None:
        """Safe from a signal handler or another thread."""
        if self.queue is not None:
            self.queue.stop_reading()  # at once: a message read now would only be handed back
        self.loop.call_soon_threadsafe(self.request, why)

    def request(self, why: str) -> None:
        if self._task is None:
            self._task = self.loop.create_task(self._drain(why))

    async def _drain(self, why: str) -> None:
        log.info("shutting down (%s); running predictions get %gs", why, self.grace)
        reason = f"the server shut down ({why}) before this finished"
        for runner in self.runners:
            runner.accepting = False
        queue = [self.queue.drain(self.grace)] if self.queue is not None else []
        await asyncio.gather(*(runner.drain(self.grace, reason) for runner in self.runners), *queue)
        if self.server is not None:
            self.server.should_exit = True


def _watch_stdin(shutdown: Shutdown) -> None:
    """EOF (or an error) on stdin means the process that started us is gone: shut down."""

    def read() -> None:
        try:
            while os.read(0, 65536):
                pass
        except OSError:
            pass
        shutdown.request_threadsafe("stdin closed")

    threading.Thread(target=read, name="cogkit-stdin", daemon=True).start()


async def _restart_workers(runners: list[PredictionRunner]) -> None:
    for runner in runners:
        runner.interrupt_running("the worker was restarted (SIGHUP) while this ran")
        log.info("SIGHUP: restarting the %s worker", runner.mode.value)
        await runner.supervisor.restart()


async def serve_forever(config: ServerConfig, supervisors: dict[Mode, WorkerSupervisor]) -> None:
    """Build the app, serve until shutdown, then end predictions, webhooks and workers in order."""
    limits = config.limits
    loop = asyncio.get_running_loop()
    metrics = ServerMetrics()
    outbound = Outbound(host=config.host, port=config.port)
    policy = WebhookPolicy(attempts=limits.webhook_attempts, deadline=limits.webhook_timeout)
    webhooks = WebhookSender(outbound.webhooks, token=config.webhook_token, policy=policy)
    runners = {
        mode: PredictionRunner(
            supervisor,
            mode=mode,
            outbound=outbound,
            webhooks=webhooks,
            metrics=metrics,
            limits=limits,
            upload_url=config.upload_url,
        )
        for mode, supervisor in supervisors.items()
    }
    shutdown = Shutdown(loop, list(runners.values()), limits.shutdown_grace)
    if config.queue is not None:
        from cogkit.queue.consumer import start_consumer  # redis is imported only in queue mode

        shutdown.queue = start_consumer(config.queue, runners[Mode.PREDICT], metrics.registry)
    guard = ConnectionGuard(limits, outbound.marker_header)
    state = ServerState(config=config, metrics=metrics, runners=runners, connections=guard)
    guard.early = state  # a 409 under overload is answered by the HTTP protocol itself
    state.request_shutdown = lambda: shutdown.request("POST /shutdown")
    uv_config = uvicorn.Config(
        build_app(state),
        host=config.host,
        port=config.port,
        http=guard.protocol_factory(),
        ws="none",
        access_log=False,
        log_config=None,  # our root handler, with its redacting filter, writes every line
        lifespan="off",
        proxy_headers=False,  # nothing reads the client's address or scheme: one layer less
        timeout_keep_alive=limits.keep_alive_timeout,
        timeout_graceful_shutdown=FLUSH,
    )
    server = _Server(uv_config, shutdown, ignore_sigterm=config.await_explicit_shutdown)
    shutdown.server = server
    if config.exit_on_stdin_eof:
        _watch_stdin(shutdown)
    previous_hup = _on_sighup(loop, list(runners.values()))
    try:
        await server.serve()
    finally:
        if previous_hup is not None:
            signal.signal(signal.SIGHUP, previous_hup)
        for runner in runners.values():  # a forced exit skipped the drain: end them now
            await runner.drain(0, "the server stopped before this finished")
        if shutdown.queue is not None:
            await shutdown.queue.drain(0)
        await asyncio.gather(
            webhooks.drain(FLUSH),
            *(supervisor.stop(FLUSH) for supervisor in supervisors.values()),
        )
        await outbound.aclose()
        for runner in runners.values():
            runner.finished.close()


def _on_sighup(loop: asyncio.AbstractEventLoop, runners: list[PredictionRunner]) -> signal.Handlers | None:
    """Install the SIGHUP handler (main thread only); returns the previous one to restore."""
    if threading.current_thread() is not threading.main_thread():
        return None
    pending: list[asyncio.Task[None]] = []

    def on_hup(sig: int, frame: FrameType | None) -> None:
        def start() -> None:
            if pending and not pending[-1].done():
                return  # a restart is under way: one is enough
            pending[:] = [loop.create_task(_restart_workers(runners))]

        loop.call_soon_threadsafe(start)

    return signal.signal(signal.SIGHUP, on_hup)
