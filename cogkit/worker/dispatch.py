"""The client's reaction to each child message and to the child's exit (a mixin of WorkerClient).

Kept apart from client.py so that each file has one job: client.py is the API the server
calls; this is the state machine driven by the child.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any, Dict, Optional

from cogkit.worker.events import (
    TRANSITIONS,
    DoneEvent,
    LogEvent,
    OutputEvent,
    SetupResult,
    WorkerEvent,
    WorkerState,
    utcnow,
)
from cogkit.worker.process import Generation, describe_exit


class Dispatcher:
    # Provided by WorkerClient.
    state: WorkerState
    schema: Optional[Dict[str, Any]]
    _gen: Optional[Generation]
    _pending: Dict[str, Any]
    _health: Dict[int, asyncio.Future]
    _first_setup: Optional[asyncio.Future]
    _schema_ready: Optional[asyncio.Event]
    _stopping: bool

    def _set_state(self, new: WorkerState) -> None:
        if new == self.state:
            return
        if new not in TRANSITIONS[self.state]:
            raise RuntimeError(f"worker state cannot go from {self.state.value} to {new.value}")
        self.state = new

    def _update_busy(self) -> None:
        if self.state not in (WorkerState.READY, WorkerState.BUSY):
            return
        full = len(self._pending) >= max(1, self.max_concurrency)  # type: ignore[attr-defined]
        self._set_state(WorkerState.BUSY if full else WorkerState.READY)

    def _deliver(self, prediction_id: str, event: WorkerEvent) -> None:
        pending = self._pending.get(prediction_id)
        if pending is None:
            return
        if isinstance(event, DoneEvent):
            del self._pending[prediction_id]
            self._update_busy()
        if not pending.abandoned:
            pending.queue.put_nowait(event)

    def _dispatch(self, gen: Generation, msg: Dict[str, Any]) -> None:
        kind = msg["type"]
        if kind == "log":
            if msg["id"] is not None:
                self._deliver(msg["id"], LogEvent(msg["stream"], msg["text"]))
            elif gen.setup_result is None:
                gen.setup_logs.append(msg["text"])
            else:
                self._server_log(msg["text"])  # type: ignore[attr-defined]
        elif kind == "output":
            self._deliver(msg["id"], OutputEvent(msg["value"], bool(msg["chunk"])))
        elif kind == "done":
            self._deliver(msg["id"], DoneEvent(msg["status"], msg["error"], msg["metrics"] or {}))
        elif kind == "schema":
            self.schema = msg["schema"]
            self.max_concurrency = int(msg["max_concurrency"])  # type: ignore[attr-defined]
            self.is_async = bool(msg["is_async"])  # type: ignore[attr-defined]
            self.output_is_iterator = bool(msg["output_is_iterator"])  # type: ignore[attr-defined]
            self.has_healthcheck = bool(msg["has_healthcheck"])  # type: ignore[attr-defined]
            if self._schema_ready is not None:
                self._schema_ready.set()
        elif kind == "setup_done":
            self._setup_finished(gen, msg["status"], msg["error"])
        elif kind == "fatal":
            self._setup_finished(gen, "failed", msg["error"])
        elif kind == "health":
            future = self._health.get(msg["seq"])
            if future is not None and not future.done():
                future.set_result(msg["result"] if msg["error"] is None else False)

    def _setup_finished(self, gen: Generation, status: str, error: Optional[str]) -> None:
        if gen.setup_result is not None:
            return
        result = SetupResult(
            status=status,
            logs="".join(gen.setup_logs),
            started_at=gen.started_at,
            completed_at=utcnow(),
            error=error,
        )
        gen.setup_result = result
        if self._schema_ready is not None:
            self._schema_ready.set()
        first = self._first_setup is not None and not self._first_setup.done()
        if status == "succeeded":
            self._set_state(WorkerState.READY)
            self._update_busy()
        else:
            self._set_state(WorkerState.SETUP_FAILED if first else WorkerState.DEFUNCT)
        if first:
            self._first_setup.set_result(result)  # type: ignore[union-attr]

    async def _on_exit(self, gen: Generation) -> None:
        """The child is gone: fail what it was running, then restart it unless we are stopping."""
        returncode = gen.proc.returncode
        if self._stopping:
            what = "the worker was stopped"
        elif gen.timed_out is not None:
            what = f"setup() did not finish within {gen.timed_out:g}s (COG_SETUP_TIMEOUT); the worker was stopped"
        else:
            what = f"the worker process {describe_exit(returncode)}"
        if gen.setup_result is None:
            self._setup_finished(gen, "failed", what if gen.timed_out is not None else f"{what} during setup")
        for prediction_id in list(self._pending):
            self._deliver(prediction_id, DoneEvent("failed", f"{what} while running this prediction", {}))
        for future in self._health.values():
            if not future.done():
                future.set_result(False)
        if self._stopping or gen is not self._gen or gen.setup_result.status != "succeeded":
            return
        if self.state in (WorkerState.READY, WorkerState.BUSY):
            self._set_state(WorkerState.STARTING)
            self.restarts += 1  # type: ignore[attr-defined]
            self._server_log(f"cogkit: {what}; restarting it\n")  # type: ignore[attr-defined]
            try:
                await self._spawn()  # type: ignore[attr-defined]
            except Exception as e:  # the restart itself failed: nothing can serve now
                self._server_log(f"cogkit: restarting the worker failed: {e}\n")  # type: ignore[attr-defined]
                self._set_state(WorkerState.DEFUNCT)

    @staticmethod
    def _server_log(text: str) -> None:
        sys.stderr.write(text)
        sys.stderr.flush()
