"""`WorkerClient`: the server's handle on one worker child process (asyncio, standard library).

It spawns the child, reads its typed messages, turns them into `WorkerEvent`s per prediction,
restarts the child after a crash (running setup() again), and reports a state the server shows
on /health-check. Every transition of that state is checked against `events.TRANSITIONS`, and
`wait_state_change()` lets the server wait for one instead of polling.

Memory stays bounded while a model streams faster than the server consumes: a prediction's
queued events are capped (`PENDING_LIMIT_BYTES`), past which the client stops reading the
child's messages, and the child's own bounded queue then blocks the predictor.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import sys
import tempfile
from typing import Any, AsyncIterator, Dict, List, Optional, Union

from cogkit.errors import PredictorError, WorkerNotReady
from cogkit.mode import Mode
from cogkit.worker import sdk_path
from cogkit.worker.dispatch import PENDING_LIMIT_BYTES, Dispatcher, Pending, remove_files
from cogkit.worker.echo import ModelEcho
from cogkit.worker.events import (
    ChunksEvent,
    DoneEvent,
    LogEvent,
    OutputEvent,
    SetupResult,
    WorkerEvent,
    WorkerState,
)
from cogkit.worker.process import Generation
from cogkit.worker.protocol import (
    FROM_CHILD,
    Cancel,
    HealthCheck,
    Predict,
    ProtocolError,
    Shutdown,
    decode,
    encode,
)

STOP_GRACE_S = 5.0
HEALTHCHECK_TIMEOUT_S = 10.0
EXIT_DRAIN_S = 0.5
CONGESTION_POLL_S = 0.5


class WorkerClient(Dispatcher):
    def __init__(
        self,
        predictor_ref: str,
        *,
        cwd: Union[str, os.PathLike],
        python: str = sys.executable,
        env: Optional[Dict[str, str]] = None,
        mode: Union[Mode, str] = Mode.PREDICT,
        setup_timeout: Optional[float] = None,
        weights: Optional[str] = None,
        echo_output: Optional[bool] = None,
    ) -> None:
        """`echo_output`: copy the model's output to this process's stderr (default: on, unless
        COGKIT_ECHO_MODEL_OUTPUT=0)."""
        self.predictor_ref = predictor_ref
        self.cwd = os.path.abspath(os.fspath(cwd))
        self.python = python
        self.env = dict(env or {})
        self.mode = Mode(mode)
        if setup_timeout is None:
            raw = self.env.get("COG_SETUP_TIMEOUT") or os.environ.get("COG_SETUP_TIMEOUT")
            setup_timeout = float(raw) if raw else None
        self.setup_timeout = setup_timeout if setup_timeout and setup_timeout > 0 else None
        self.weights = weights
        self.state = WorkerState.STARTING
        self.schema: Optional[Dict[str, Any]] = None
        self.max_concurrency = 1
        self.is_async = False
        self.output_is_iterator = False
        self.has_healthcheck = False
        self.restarts = 0
        self._gen: Optional[Generation] = None
        self._pending: Dict[str, Pending] = {}
        self._health: Dict[int, asyncio.Future] = {}
        self._seq = 0
        self._stopping = False
        self._first_setup: Optional[asyncio.Future] = None
        self._schema_ready: Optional[asyncio.Event] = None
        self._state_changed: Optional[asyncio.Future] = None
        self._tasks: List[asyncio.Task] = []
        self._watcher: Optional[asyncio.Task] = None
        self._echo = ModelEcho(echo_output)
        self._outputs_dir: Optional[str] = None
        self._congested: Optional[Pending] = None

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Spawn the child and return at once; setup() runs in the background."""
        loop = asyncio.get_running_loop()
        self._first_setup = loop.create_future()
        self._schema_ready = asyncio.Event()
        self._outputs_dir = tempfile.mkdtemp(prefix="cogkit-outputs-")
        await self._spawn()

    async def wait_for_setup(self) -> SetupResult:
        assert self._first_setup is not None, "call start() first"
        return await asyncio.shield(self._first_setup)

    async def wait_for_schema(self) -> Optional[Dict[str, Any]]:
        """The OpenAPI document, as soon as the child has imported the predictor (None if it failed)."""
        assert self._schema_ready is not None, "call start() first"
        await self._schema_ready.wait()
        return self.schema

    async def wait_state_change(self) -> WorkerState:
        """Wait for `state` to change, and return the new state.

        E.g. a prediction that arrives during a restart: `while client.state == STARTING:
        await client.wait_state_change()`, with a timeout around it.
        """
        if self._state_changed is None:
            self._state_changed = asyncio.get_running_loop().create_future()
        return await asyncio.shield(self._state_changed)

    async def stop(self, grace: float = STOP_GRACE_S) -> None:
        """Shut the child down: running predictions get `grace` seconds, then it is terminated.

        Each prediction still open gets its DoneEvent ("the worker was stopped").
        """
        self._stopping = True
        while True:  # a restart under way may swap in a new child while we wait: stop that one too
            gen = self._gen
            if gen is not None and gen.alive:
                if self.state in (WorkerState.READY, WorkerState.BUSY):
                    await gen.send_quietly(encode(Shutdown()))
                    await gen.stop(grace)
                else:  # still in setup (which cannot be interrupted politely), failed, or exiting
                    await gen.terminate(min(grace, 2.0))
            if self._watcher is not None and not self._watcher.done():
                await asyncio.wait([self._watcher], timeout=STOP_GRACE_S)
            if self._gen is gen:
                break
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._outputs_dir is not None:
            shutil.rmtree(self._outputs_dir, ignore_errors=True)

    # -- predictions -----------------------------------------------------------------------------

    async def predict(
        self, prediction_id: str, inputs: Dict[str, Any], *, context: Optional[Dict[str, Any]] = None
    ) -> AsyncIterator[WorkerEvent]:
        """Run one prediction; yields logs and outputs, then exactly one `DoneEvent`.

        Raises `WorkerNotReady` while the worker (re)starts, PredictorError when it cannot serve.
        A file the worker made for a file-like output is deleted once the consumer asks for the
        next event: read it before then.
        """
        gen = self._gen
        if self.state == WorkerState.STARTING:
            raise WorkerNotReady(f"the worker is {self.state.value}; wait until it is READY")
        if self.state not in (WorkerState.READY, WorkerState.BUSY) or gen is None or gen.exiting:
            raise PredictorError(f"the worker is {self.state.value}; it cannot run predictions now")
        if prediction_id in self._pending:
            raise PredictorError(f"prediction {prediction_id!r} is already running")
        try:
            request = encode(Predict(prediction_id, inputs, {} if context is None else context))
        except ProtocolError as e:
            yield DoneEvent("failed", f"the input cannot be passed to the worker: {e}")
            return
        pending = Pending()
        self._pending[prediction_id] = pending
        self._update_busy()
        # If the child died, its exit handler fails this prediction: nothing to do here.
        await gen.send_quietly(request)
        finished = False
        temp_files: List[str] = []
        try:
            while True:
                event, size, temp_files = await pending.queue.get()
                pending.took(size)
                finished = isinstance(event, DoneEvent)
                yield event
                if temp_files:  # the consumer is back for more: done with this event
                    remove_files(temp_files)
                    temp_files = []
                if finished:
                    return
        finally:
            if temp_files:
                remove_files(temp_files)
            if not finished:  # the consumer went away: cancel, and let the child's done close it
                self._abandon(prediction_id, pending)

    def _abandon(self, prediction_id: str, pending: Pending) -> None:
        pending.abandoned = True
        if pending.room is not None:
            pending.room.set()
        while not pending.queue.empty():
            remove_files(pending.queue.get_nowait()[2])
        if prediction_id in self._pending:
            self._tasks.append(asyncio.ensure_future(self.cancel(prediction_id)))

    async def cancel(self, prediction_id: str) -> None:
        gen = self._gen
        if prediction_id not in self._pending or gen is None or not gen.alive:
            return
        await gen.send_quietly(encode(Cancel(prediction_id)))

    async def healthcheck(self) -> Optional[bool]:
        """The predictor's own healthcheck(): None when it has none, False on error or timeout."""
        gen = self._gen
        if not self.has_healthcheck or gen is None or not gen.alive:
            return None
        if self.state not in (WorkerState.READY, WorkerState.BUSY):
            return None
        self._seq += 1
        seq = self._seq
        future = asyncio.get_running_loop().create_future()
        self._health[seq] = future
        try:
            await gen.send(encode(HealthCheck(seq)))
            return await asyncio.wait_for(future, HEALTHCHECK_TIMEOUT_S)
        except (asyncio.TimeoutError, ConnectionError, OSError):
            return False
        finally:
            self._health.pop(seq, None)

    # -- the child process -----------------------------------------------------------------------

    async def _spawn(self) -> None:
        parent_sock, child_sock = socket.socketpair()
        sdk = str(sdk_path())
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (sdk, env.get("PYTHONPATH", "")) if p)
        if self.weights:
            env["COG_WEIGHTS"] = self.weights
        args = ["-X", "utf8", "-m", "cogkit.worker", "--fd", str(child_sock.fileno())]
        args += ["--ref", self.predictor_ref, "--cwd", self.cwd, "--mode", self.mode.value]
        if self._outputs_dir is not None:
            args += ["--outputs", self._outputs_dir]
        try:
            proc = await asyncio.create_subprocess_exec(
                self.python,
                *args,
                # `python -m` puts its working directory first on sys.path: start in the SDK folder, so
                # a project file named like a stdlib module (types.py) cannot break start-up. The child
                # then moves into the project (--cwd).
                cwd=sdk,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                pass_fds=(child_sock.fileno(),),
                start_new_session=True,
            )
        except OSError as e:
            child_sock.close()
            parent_sock.close()
            raise PredictorError(f"cannot start the worker with {self.python}: {e}") from e
        child_sock.close()
        gen = Generation(proc, self._on_line)
        await gen.connect(parent_sock)
        if self._stopping:  # stop() came while this (re)start was under way: do not leave it running
            await gen.terminate(0)
            await gen.wait_exit(STOP_GRACE_S)
            return
        self._gen = gen
        self._tasks = [t for t in self._tasks if not t.done()]
        self._watcher = asyncio.ensure_future(self._watch(gen))
        self._tasks.append(self._watcher)
        self._tasks.append(asyncio.ensure_future(self._exit_watch(gen)))
        if self.setup_timeout is not None:
            self._tasks.append(asyncio.ensure_future(self._setup_watchdog(gen, self.setup_timeout)))

    async def _setup_watchdog(self, gen: Generation, timeout: float) -> None:
        await asyncio.sleep(timeout)
        if gen.setup_result is None and gen.alive:
            gen.timed_out = timeout
            await gen.terminate(0)

    async def _exit_watch(self, gen: Generation) -> None:
        """End the message stream when the child exits, even if a process it forked keeps the
        socket open (multiprocessing, DataLoader workers): otherwise no EOF would ever come."""
        await gen.exit_code()
        self._child_lost(gen)
        await asyncio.sleep(EXIT_DRAIN_S)  # let the socket deliver the child's last messages
        if not gen.stream.ended:
            gen.close()

    async def _watch(self, gen: Generation) -> None:
        """Wait for the child's message stream to end (its messages are handled as they arrive,
        by `_on_line`), waiting for room whenever it stops, then settle everything it left open."""
        pumps = [asyncio.ensure_future(self._pump(gen, s, n)) for s, n in gen.pipes()]
        stream = gen.stream
        while not stream.ended or stream.paused:
            await stream.stopped()
            await self._wait_for_room(gen)  # at once unless a consumer is behind and the child on
            stream.resume()
        self._congested = None  # what came after the end was not held back: nothing to wait for
        if stream.error is not None:  # reset, or a message over the limit
            self._server_log(f"cogkit: lost the worker's message stream: {stream.error!r}\n")
            self._child_lost(gen)
            await gen.terminate(0)
        self._child_lost(gen)
        await gen.wait_exit(STOP_GRACE_S)
        await asyncio.wait(pumps, timeout=2.0)
        await self._on_exit(gen)

    def _on_line(self, gen: Generation, line: bytes) -> bool:
        """Handle one message from the child; False when a prediction's consumer is too far
        behind, to stop reading until `_wait_for_room`."""
        try:
            message = decode(line, FROM_CHILD)
        except ProtocolError as e:
            self._message_failed(e.prediction_id, e)
        else:
            self._handle(gen, message, len(line))
        return self._congested is None

    async def _wait_for_room(self, gen: Generation) -> None:
        """While reading is stopped because a prediction's consumer is too far behind (bounded
        memory; the child's bounded queue then blocks its predictor): wait until it has caught
        up. Waits in slices, to notice an abandoned prediction, an exited child or a stop."""
        pending, self._congested = self._congested, None
        if pending is None:
            return
        while (
            pending.queued_bytes > PENDING_LIMIT_BYTES // 2
            and not pending.abandoned
            and gen.alive
            and not gen.stream.ended
            and not self._stopping
        ):
            pending.room = asyncio.Event()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(pending.room.wait(), CONGESTION_POLL_S)
        pending.room = None

    async def _pump(self, gen: Generation, stream: asyncio.StreamReader, name: str) -> None:
        """The child's own stdout/stderr: start-up errors and crash dumps the capture cannot see."""
        while True:
            data = await stream.read(65536)
            if not data:
                return
            text = data.decode("utf-8", "replace")
            if gen.setup_result is None:
                gen.setup_logs.append(text)
                self._echo.write(None, text)
            elif len(self._pending) == 1:
                prediction_id = next(iter(self._pending))
                self._echo.write(prediction_id, text)
                self._deliver(prediction_id, LogEvent(name, text))
            else:
                self._echo.write(None, text)


__all__ = [
    "ChunksEvent",
    "DoneEvent",
    "LogEvent",
    "OutputEvent",
    "SetupResult",
    "WorkerClient",
    "WorkerEvent",
    "WorkerState",
]
