"""Follows one worker: start, first setup, concurrency limit, health, and its state.

This module imports only the standard library and the worker client, so `__main__` can spawn
the worker before fastapi and uvicorn are imported and model loading overlaps server start-up.

States reported on /health-check:

    STARTING ──setup ok──▶ READY ◀──▶ BUSY (all slots in use; the runner knows)
       │                    │
       └─setup failed─▶ SETUP_FAILED   └─worker died─▶ STARTING (the client restarts it)
                                                             └──setup failed again──▶ DEFUNCT
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cogkit.errors import PredictorError
from cogkit.server.config import effective_concurrency
from cogkit.worker.client import WorkerClient
from cogkit.worker.events import WorkerState

log = logging.getLogger("cogkit.server")

HEALTHCHECK_TIMEOUT = 15.0
RESTART_POLL = 0.02


_second: list[Any] = [-1, ""]  # the last whole second seen by now_iso, and its formatted text


def now_iso() -> str:
    """The UTC time in ISO 8601, microseconds included; formats the date at most once a second."""
    now = time.time()
    whole = int(now)
    if whole != _second[0]:
        _second[:] = [whole, datetime.fromtimestamp(whole, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")]
    return f"{_second[1]}.{int((now - whole) * 1e6):06d}+00:00"


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else None


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
    """Owns the `WorkerClient` for one mode (predict or train); the client restarts crashed children."""

    def __init__(
        self,
        ref: str,
        *,
        cwd: Path,
        mode: str = "predict",
        python: str | None = None,
        env: Mapping[str, str] | None = None,
        setup_timeout: float | None = None,
        concurrency_max: int | None = None,
        weights: str | None = None,
    ) -> None:
        self.ref = ref
        self.mode = mode
        self._kwargs: dict[str, Any] = {"cwd": cwd, "mode": mode, "setup_timeout": setup_timeout}
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
        self._ready: asyncio.Future[WorkerClient] | None = None
        self._setup_task: asyncio.Task[None] | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Spawn the worker and run setup in the background; returns at once."""
        loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        self.worker = WorkerClient(self.ref, **self._kwargs)
        started = time.monotonic()
        started_at = now_iso()
        await self.worker.start()
        self._setup_task = loop.create_task(self._await_setup(self.worker, started, started_at))

    async def _await_setup(self, worker: WorkerClient, started: float, started_at: str) -> None:
        assert self._ready is not None
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
        completed_at = now_iso()
        if result is not None:
            started_at = _iso(getattr(result, "started_at", None)) or started_at
            completed_at = _iso(getattr(result, "completed_at", None)) or completed_at
        self.setup = SetupInfo(
            status=status,
            logs=logs,
            started_at=started_at,
            completed_at=completed_at,
            error=error,
            seconds=time.monotonic() - started,
        )
        if status == "succeeded":
            self._ready.set_result(worker)
            log.info("setup of %s succeeded in %.2fs", self.ref, self.setup.seconds)
        else:
            self._ready.set_exception(PredictorError(f"setup of {self.ref} failed: {error or 'see logs'}"))
            self._ready.exception()  # mark retrieved: callers may never ask
            log.error("setup of %s failed: %s\n%s", self.ref, error, logs)

    async def ready(self) -> WorkerClient:
        """The worker once setup has succeeded; raises PredictorError if it failed."""
        assert self._ready is not None, "start() first"
        if self._ready.done():
            return self._ready.result()  # the hot path: no shield, no extra future
        return await asyncio.shield(self._ready)

    @property
    def is_ready(self) -> bool:
        return self._ready is not None and self._ready.done() and self._ready.exception() is None

    @property
    def state(self) -> str:
        """STARTING, READY, SETUP_FAILED or DEFUNCT (BUSY is decided by the runner)."""
        if self._ready is None or not self._ready.done():
            return "STARTING"
        if self._ready.exception() is not None:
            return "SETUP_FAILED"
        worker_state = self.worker.state if self.worker is not None else WorkerState.DEFUNCT
        if worker_state in (WorkerState.STARTING, WorkerState.DEFUNCT):
            return worker_state.value  # restarting after a crash, or gave up
        return "READY"

    @property
    def schema(self) -> dict[str, Any] | None:
        return self.worker.schema if self.worker is not None else None

    async def serving(self) -> WorkerClient:
        """The worker once it can take predictions; waits out a restart after a crash.

        The client restarts a dead child by itself (STARTING, then READY or DEFUNCT); there is
        no event for that, so this polls, and only on that rare path.
        """
        worker = await self.ready()
        while worker.state == WorkerState.STARTING:
            await asyncio.sleep(RESTART_POLL)
        if worker.state == WorkerState.DEFUNCT:
            raise PredictorError("the worker died and could not be restarted")
        return worker

    async def schema_ready(self) -> dict[str, Any] | None:
        """The OpenAPI document as soon as the child has imported user code (None if it could not)."""
        if self.worker is None:
            return None
        return await self.worker.wait_for_schema()

    @property
    def restarts(self) -> int:
        return getattr(self.worker, "restarts", 0)

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

    async def stop(self) -> None:
        if self._setup_task is not None:
            self._setup_task.cancel()
        if self.worker is not None:
            await self.worker.stop()
