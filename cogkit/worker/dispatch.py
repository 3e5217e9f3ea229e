"""The client's reaction to each child message and to the child's exit (a mixin of WorkerClient).

Kept apart from client.py so that each file has one job: client.py is the API the server
calls; this is the state machine driven by the child. Each message class has one handler, found
through `_HANDLERS`. A handler that raises, or a line that does not decode, fails the one
prediction it was about (and cancels it in the child); nothing else is touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from typing import Any, Callable, Dict, List, Optional

from cogkit.worker.echo import ModelEcho
from cogkit.worker.events import (
    TRANSITIONS,
    ChunksEvent,
    DoneEvent,
    LogEvent,
    OutputEvent,
    SetupResult,
    WorkerEvent,
    WorkerState,
    utcnow,
)
from cogkit.worker.process import Generation, describe_exit
from cogkit.worker.protocol import (
    Cancel,
    Chunks,
    Done,
    Exiting,
    Fatal,
    HealthResult,
    Log,
    Output,
    ProtocolError,
    Schema,
    SetupDone,
    encode,
)

# Events of one prediction queued for a slow consumer, in message bytes, before the client
# stops reading the child's messages (which then blocks the predictor in its next `yield`).
PENDING_LIMIT_BYTES = 8 << 20


class Pending:
    """A prediction in flight: its event queue, and whether its consumer has gone away."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()  # (event, size, temp files)
        self.abandoned = False
        self.queued_bytes = 0
        self.room: Optional[asyncio.Event] = None  # set when a congested queue has drained

    def took(self, size: int) -> None:
        """The consumer took an event of `size` bytes off the queue."""
        self.queued_bytes -= size
        if self.room is not None and self.queued_bytes <= PENDING_LIMIT_BYTES // 2:
            self.room.set()


def remove_files(paths: List[str]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            os.unlink(path)


class Dispatcher:
    # Provided by WorkerClient.
    state: WorkerState
    schema: Optional[Dict[str, Any]]
    max_concurrency: int
    is_async: bool
    output_is_iterator: bool
    has_healthcheck: bool
    restarts: int
    _gen: Optional[Generation]
    _pending: Dict[str, Pending]
    _health: Dict[int, asyncio.Future]
    _first_setup: Optional[asyncio.Future]
    _schema_ready: Optional[asyncio.Event]
    _state_changed: Optional[asyncio.Future]
    _stopping: bool
    _echo: ModelEcho
    _outputs_dir: Optional[str]
    _congested: Optional[Pending]
    _tasks: List[asyncio.Task]

    async def _spawn(self) -> None:  # provided by WorkerClient
        raise NotImplementedError

    # -- state -----------------------------------------------------------------------------------

    def _set_state(self, new: WorkerState) -> None:
        if new == self.state:
            return
        if new not in TRANSITIONS[self.state]:
            raise RuntimeError(f"worker state cannot go from {self.state.value} to {new.value}")
        self.state = new
        waiters = self._state_changed
        if waiters is not None:  # created only while someone waits: the hot path skips this
            self._state_changed = None
            waiters.set_result(new)

    def _update_busy(self) -> None:
        if self.state not in (WorkerState.READY, WorkerState.BUSY):
            return
        full = len(self._pending) >= max(1, self.max_concurrency)
        self._set_state(WorkerState.BUSY if full else WorkerState.READY)

    # -- events for predictions --------------------------------------------------------------------

    def _deliver(
        self, prediction_id: str, event: WorkerEvent, size: int = 0, temp_files: Optional[List[str]] = None
    ) -> None:
        pending = self._pending.get(prediction_id)
        if pending is None or pending.abandoned:
            remove_files(temp_files or [])
            if isinstance(event, DoneEvent):
                self._pending.pop(prediction_id, None)
                self._update_busy()
            return
        if isinstance(event, DoneEvent):
            del self._pending[prediction_id]
            self._update_busy()
            self._echo.end(prediction_id)
        pending.queue.put_nowait((event, size, temp_files or []))
        pending.queued_bytes += size
        if pending.queued_bytes > PENDING_LIMIT_BYTES:
            self._congested = pending

    def _fail(self, prediction_id: str, error: str) -> None:
        """End a prediction here (its messages could not be handled) and cancel it in the child."""
        if prediction_id not in self._pending:
            return
        self._server_log(f"cogkit: prediction {prediction_id!r} failed: {error}\n")
        self._deliver(prediction_id, DoneEvent("failed", error, {}))
        gen = self._gen
        if gen is not None and gen.alive:
            self._tasks.append(asyncio.ensure_future(gen.send_quietly(encode(Cancel(prediction_id)))))

    def _handle(self, gen: Generation, message: Any, size: int) -> None:
        """One decoded message from `gen`; any error fails the prediction it concerns."""
        try:
            self._HANDLERS[type(message)](self, gen, message, size)
        except Exception as e:
            prediction_id = e.prediction_id if isinstance(e, ProtocolError) else getattr(message, "id", None)
            self._message_failed(prediction_id, e)

    def _message_failed(self, prediction_id: Optional[str], error: Exception) -> None:
        what = f"cogkit could not handle the worker's message for this prediction: {error}"
        if prediction_id is not None and prediction_id in self._pending:
            self._fail(prediction_id, what)
        else:
            self._server_log(f"cogkit: could not handle a worker message: {type(error).__name__}: {error}\n")

    def _on_log(self, gen: Generation, message: Log, size: int) -> None:
        if message.id is not None and message.id in self._pending:
            self._echo.write(message.id, message.text, prefixed=len(self._pending) > 1)
            self._deliver(message.id, LogEvent(message.stream, message.text), size)
        elif gen.setup_result is None:
            gen.setup_logs.append(message.text)
            self._echo.write(None, message.text)
        else:  # output no running prediction owns
            self._echo.write(message.id, message.text, prefixed=message.id is not None)

    def _on_output(self, gen: Generation, message: Output, size: int) -> None:
        value = message.value_with_files()
        self._deliver(message.id, OutputEvent(value), size, self._ours(message.files))

    def _on_chunks(self, gen: Generation, message: Chunks, size: int) -> None:
        values = message.values_with_files()  # checks every item's shape
        ours = [path for _, files in message.items if files for path in self._ours(files)]
        self._deliver(message.id, ChunksEvent(values), size, ours)

    def _ours(self, files: List[Any]) -> List[str]:
        """The files of an output that are copies the worker made (deleted once consumed)."""
        return [path for _, path in files if os.path.dirname(path) == self._outputs_dir]

    def _on_done(self, gen: Generation, message: Done, size: int) -> None:
        self._deliver(message.id, DoneEvent(message.status, message.error, message.metrics or {}))

    def _on_schema(self, gen: Generation, message: Schema, size: int) -> None:
        self.schema = message.schema
        self.max_concurrency = message.max_concurrency
        self.is_async = message.is_async
        self.output_is_iterator = message.output_is_iterator
        self.has_healthcheck = message.has_healthcheck
        if self._schema_ready is not None:
            self._schema_ready.set()

    def _on_setup_done(self, gen: Generation, message: SetupDone, size: int) -> None:
        self._setup_finished(gen, message.status, message.error)

    def _on_fatal(self, gen: Generation, message: Fatal, size: int) -> None:
        self._setup_finished(gen, "failed", message.error)

    def _on_health_result(self, gen: Generation, message: HealthResult, size: int) -> None:
        future = self._health.get(message.seq)
        if future is not None and not future.done():
            future.set_result(message.result if message.error is None else False)

    def _on_exiting(self, gen: Generation, message: Exiting, size: int) -> None:
        self._child_lost(gen)

    _HANDLERS: Dict[type, Callable[..., None]] = {
        Log: _on_log,
        Output: _on_output,
        Chunks: _on_chunks,
        Done: _on_done,
        Schema: _on_schema,
        SetupDone: _on_setup_done,
        Fatal: _on_fatal,
        HealthResult: _on_health_result,
        Exiting: _on_exiting,
    }

    # -- setup and the child's end -------------------------------------------------------------------

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
        self._echo.end(None)
        if self._schema_ready is not None:
            self._schema_ready.set()
        first = self._first_setup is not None and not self._first_setup.done()
        if status == "succeeded" and not gen.exiting:
            self._set_state(WorkerState.READY)
            self._update_busy()
        elif status != "succeeded":
            self._set_state(WorkerState.SETUP_FAILED if first else WorkerState.DEFUNCT)
        if first:
            self._first_setup.set_result(result)  # type: ignore[union-attr]

    def _child_lost(self, gen: Generation) -> None:
        """The child is exiting or gone: stop sending it predictions at once, before it is reaped
        (the restart in `_on_exit` takes STARTING on to READY)."""
        gen.exiting = True
        if gen is self._gen and not self._stopping and self.state in (WorkerState.READY, WorkerState.BUSY):
            self._set_state(WorkerState.STARTING)

    async def _on_exit(self, gen: Generation) -> None:
        """The child is gone: fail what it was running, then restart it unless we are stopping."""
        self._child_lost(gen)
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
        self._set_state(WorkerState.STARTING)
        self.restarts += 1
        self._server_log(f"cogkit: {what}; restarting it\n")
        try:
            await self._spawn()
        except Exception as e:  # the restart itself failed: nothing can serve now
            self._server_log(f"cogkit: restarting the worker failed: {e}\n")
            self._set_state(WorkerState.DEFUNCT)

    @staticmethod
    def _server_log(text: str) -> None:
        sys.stderr.write(text)
        sys.stderr.flush()
