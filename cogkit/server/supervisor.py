"""Follows one worker: start, setup, concurrency limit, health, restart on SIGHUP, and its state.

This module imports only the standard library and the worker client, so `__main__` can spawn
the worker before uvicorn and Starlette are imported and model loading overlaps server start-up.
The states it reports are `health.Health`; BUSY and UNHEALTHY are decided by the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cogkit.errors import PredictorError
from cogkit.mode import Mode
from cogkit.server.config import effective_concurrency
from cogkit.server.health import Health
from cogkit.worker.client import WorkerClient
from cogkit.worker.events import WorkerState

log = logging.getLogger("cogkit.server")

HEALTHCHECK_TIMEOUT = 15.0
RESTART_POLL = 0.02
STOP_GRACE = 3.0


class NotServing(PredictorError):
    """The model cannot take a prediction now; `health` says why (the runner answers 503)."""

    def __init__(self, message: str, health: Health) -> None:
        super().__init__(message, hint="GET /health-check shows the state and the setup logs")
        self.health = health


def _iso(value: Any) -> str:
    stamp = value if isinstance(value, datetime) else datetime.now(timezone.utc)
    return stamp.isoformat()


@dataclass
class SetupInfo:
    """What /health-check reports about the last setup() run."""

    status: str
    logs: str
    started_at: str | None
    completed_at: str | None
    error: str | None = None
    seconds: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "logs": self.logs,
            "started_at": self.started_at,
            "completed_at": self.completed_at,
        }


class WorkerSupervisor:
    """Owns the `WorkerClient` for one mode; the client restarts crashed children by itself."""

    def __init__(
        self,
        ref: str,
        *,
        cwd: Path,
        mode: Mode = Mode.PREDICT,
        python: str | None = None,
        env: Mapping[str, str] | None = None,
        setup_timeout: float | None = None,
        concurrency_max: int | None = None,
        weights: str | None = None,
    ) -> None:
        self.ref = ref
        self.mode = Mode(mode)
        self._kwargs: dict[str, Any] = {"cwd": cwd, "mode": self.mode.value, "setup_timeout": setup_timeout}
        if python:
            self._kwargs["python"] = python
        if env is not None:
            self._kwargs["env"] = dict(env)
        if weights is not None:
            self._kwargs["weights"] = weights
        self.concurrency_max = concurrency_max
        self.worker: WorkerClient | None = None
        self.setup: SetupInfo | None = None
        self.limit = 1
        self.sighup_restarts = 0
        self._ready: asyncio.Future[WorkerClient] | None = None
        self._setup_task: asyncio.Task[None] | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Spawn the worker and run setup in the background; returns at once."""
        self._ready = asyncio.get_running_loop().create_future()
        await self._launch(self._ready)

    async def restart(self) -> None:
        """A fresh child that runs setup again (SIGHUP); what the old one ran ends `failed`.

        The new setup's future is in place before the old child is stopped, so a request that
        arrives meanwhile sees STARTING and waits, never the old child's end.
        """
        old_task, old_worker = self._setup_task, self.worker
        self._ready = asyncio.get_running_loop().create_future()
        self.setup = None
        self.sighup_restarts += 1
        if old_task is not None:
            old_task.cancel()
        if old_worker is not None:
            await old_worker.stop(STOP_GRACE)
        await self._launch(self._ready)

    async def _launch(self, ready: asyncio.Future[WorkerClient]) -> None:
        self.worker = WorkerClient(self.ref, **self._kwargs)
        started = time.monotonic()
        started_at = _iso(None)
        await self.worker.start()
        self._setup_task = asyncio.get_running_loop().create_task(
            self._await_setup(self.worker, ready, started, started_at)
        )

    async def _await_setup(
        self, worker: WorkerClient, ready: asyncio.Future[WorkerClient], started: float, started_at: str
    ) -> None:
        result = None
        try:
            result = await worker.wait_for_setup()
            status, logs, error = result.status, result.logs or "", result.error
            if status == "succeeded":
                try:
                    self.limit = effective_concurrency(
                        self.concurrency_max, worker.max_concurrency, bool(worker.is_async)
                    )
                except PredictorError as e:
                    status, error = "failed", str(e)
                    logs += f"\n{e}\n"
        except Exception as e:  # the child could not even report; treat as a failed setup
            log.exception("worker for %s failed during setup", self.ref)
            status, logs, error = "failed", f"{type(e).__name__}: {e}\n", str(e)
        if status != "succeeded" and error and error not in logs:
            logs += ("" if not logs or logs.endswith("\n") else "\n") + f"setup failed: {error}\n"
        self.setup = SetupInfo(
            status=status,
            logs=logs,
            started_at=_iso(getattr(result, "started_at", None)) if result is not None else started_at,
            completed_at=_iso(getattr(result, "completed_at", None)),
            error=error,
            seconds=time.monotonic() - started,
        )
        if status == "succeeded":
            ready.set_result(worker)
            log.info("setup of %s succeeded in %.2fs", self.ref, self.setup.seconds)
        else:
            ready.set_exception(NotServing(error or "setup failed; see the logs", Health.SETUP_FAILED))
            ready.exception()  # mark retrieved: callers may never ask
            log.error("setup of %s failed: %s\n%s", self.ref, error, logs)

    @property
    def state(self) -> Health:
        """STARTING, READY, SETUP_FAILED or DEFUNCT (BUSY and UNHEALTHY are the server's to say)."""
        ready = self._ready
        if ready is None or not ready.done():
            return Health.STARTING
        if ready.exception() is not None:
            return Health.SETUP_FAILED
        worker_state = self.worker.state if self.worker is not None else WorkerState.DEFUNCT
        if worker_state is WorkerState.STARTING:
            return Health.STARTING  # restarting after a crash
        if worker_state is WorkerState.DEFUNCT:
            return Health.DEFUNCT
        return Health.READY

    def serving_now(self) -> WorkerClient | None:
        """The worker if it can take a prediction at this moment, else None; never waits."""
        ready, worker = self._ready, self.worker
        if ready is None or not ready.done() or ready.exception() is not None or worker is None:
            return None
        return worker if worker.state in (WorkerState.READY, WorkerState.BUSY) else None

    async def serving(self, wait: float) -> WorkerClient:
        """The worker once it can take a prediction, waiting at most `wait` seconds for setup
        or a restart to finish; raises `NotServing` when it cannot, or not in time.

        The client restarts a crashed child by itself, with no event for it, so that case is
        polled; the hot path is a few attribute checks.
        """
        worker = self.serving_now()
        if worker is not None:
            return worker
        deadline = time.monotonic() + wait
        while True:
            ready = self._ready
            left = deadline - time.monotonic()
            if ready is not None and not ready.done():
                if left <= 0:
                    raise NotServing(f"the model is still starting after {wait:g}s", Health.STARTING)
                with contextlib.suppress(asyncio.TimeoutError, NotServing):
                    await asyncio.wait_for(asyncio.shield(ready), left)
                continue  # look again: a restart may have put a new setup in place
            state = self.state
            if state is Health.READY and self.worker is not None:
                return self.worker
            if state is Health.SETUP_FAILED:
                error = self.setup.error if self.setup is not None else None
                raise NotServing(error or "setup failed", state)
            if state is Health.DEFUNCT:
                raise NotServing("the worker died and could not be restarted", state)
            if left <= 0:
                raise NotServing(f"the model is still starting after {wait:g}s", state)
            await asyncio.sleep(RESTART_POLL)

    @property
    def schema(self) -> dict[str, Any] | None:
        return self.worker.schema if self.worker is not None else None

    async def schema_ready(self) -> dict[str, Any] | None:
        """The OpenAPI document as soon as the child has imported user code (None if it could not)."""
        if self.worker is None:
            return None
        return await self.worker.wait_for_schema()

    @property
    def restarts(self) -> int:
        return getattr(self.worker, "restarts", 0) + self.sighup_restarts

    async def healthy(self) -> bool:
        """False when the user's healthcheck() says so, fails, or does not answer in time."""
        if self.worker is None:
            return False
        try:
            verdict = await asyncio.wait_for(self.worker.healthcheck(), HEALTHCHECK_TIMEOUT)
        except Exception:
            return False
        return verdict is not False

    async def cancel(self, prediction_id: str) -> None:
        if self.worker is not None:
            await self.worker.cancel(prediction_id)

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Stop the child within about `grace` seconds (then it is killed); open predictions end."""
        if self._setup_task is not None:
            self._setup_task.cancel()
        ready = self._ready
        if ready is not None and not ready.done():
            ready.set_exception(NotServing("the worker was stopped", Health.STARTING))
            ready.exception()
        if self.worker is not None:
            await self.worker.stop(grace)
