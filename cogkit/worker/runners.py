"""Run setup() and predictions: `SyncRunner` in the main thread, `AsyncRunner` on an event loop.

A sync prediction is canceled by SIGUSR1, whose handler raises `CancelationException` in the
main thread; that interrupts `time.sleep` and any Python code, but C code only when it returns.
An async prediction is canceled with `task.cancel()`, raising `asyncio.CancelledError`.

Each runner reacts to the parent's messages through a table from message class to handler.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import queue
import signal
import sys
import threading
from typing import Any, Callable, Dict, Optional, Union

from cogkit.sdk.scope import CancelationException, Scope, enter_scope, exit_scope
from cogkit.sdk.scope import current_scope as _current
from cogkit.sdk.tracebacks import describe, format_user_error
from cogkit.worker.channel import dispatch_safely
from cogkit.worker.child import Child, Prediction
from cogkit.worker.convert import OutputError, build_kwargs
from cogkit.worker.protocol import Cancel, HealthCheck, HealthResult, Predict, ProtocolError, Shutdown, encode

_END = object()


def _exit_error(method: str, exc: SystemExit) -> str:
    return f"{method}() called sys.exit({exc.code!r}); the worker restarts"


def _failure(method: str, exc: BaseException) -> str:
    """The error of a prediction that raised; user code's own errors are logged with their frames."""
    if isinstance(exc, (OutputError, ProtocolError)):  # the output cannot be sent: say why, no traceback
        return f"{method}() returned an output that cannot be sent: {exc}"
    sys.stderr.write(format_user_error(exc, f"{method}() raised"))
    return describe(exc)


class SyncRunner:
    def __init__(self, child: Child) -> None:
        self.child = child
        self.commands: queue.SimpleQueue[Union[Predict, Shutdown]] = queue.SimpleQueue()
        self.current: Optional[str] = None
        self.in_user_code = False
        self.cancel_target: Optional[str] = None
        self.queued: set = set()
        self.canceled_early: set = set()
        self.lock = threading.Lock()

    def attribute(self) -> Optional[str]:
        return self.current

    def run(self) -> None:
        signal.signal(signal.SIGUSR1, self._on_signal)
        self.child.channel.start_reader(self._on_message, self.child.fail_unstarted)
        try:
            setup = self.child.instantiate()
            if setup is not None:
                result = setup(*self.child.setup_args(setup))
                if inspect.isawaitable(result):
                    asyncio.run(result)  # type: ignore[arg-type]
        except BaseException as e:
            self.child.setup_failed(e)
            return
        self.child.setup_succeeded()
        while True:
            request = self.commands.get()
            if isinstance(request, Shutdown):
                return
            self._predict(Prediction(request))

    # -- the reader thread: queue predictions; act on cancel and health at once -------------------

    def _on_message(self, message: Any) -> None:
        self._HANDLERS[type(message)](self, message)

    def _on_predict(self, request: Predict) -> None:
        with self.lock:
            self.queued.add(request.id)
        self.commands.put(request)

    def _on_shutdown(self, request: Shutdown) -> None:
        self.commands.put(request)

    def _on_cancel(self, request: Cancel) -> None:
        with self.lock:
            if request.id == self.current:
                self.cancel_target = request.id
                os.kill(os.getpid(), signal.SIGUSR1)
            elif request.id in self.queued:
                self.canceled_early.add(request.id)

    def _on_health(self, request: HealthCheck) -> None:
        check = getattr(self.child.instance, "healthcheck", None)
        if check is None:
            self.child.channel.send(HealthResult(request.seq, None, None))
            return
        threading.Thread(
            target=self.child.healthcheck, args=(request.seq, lambda: _call_maybe_async(check)), daemon=True
        ).start()

    _HANDLERS: Dict[type, Callable[..., None]] = {
        Predict: _on_predict,
        Shutdown: _on_shutdown,
        Cancel: _on_cancel,
        HealthCheck: _on_health,
    }

    # -- the main thread ---------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: Any) -> None:
        # Raise only inside user code: an exception inside our own queue or socket calls could
        # leave a lock held. Outside user code the request waits for `_resume_user`.
        if self.in_user_code:
            self._raise_if_canceled()

    def _raise_if_canceled(self) -> None:
        if self.cancel_target is not None and self.cancel_target == self.current:
            self.cancel_target = None
            raise CancelationException(f"prediction {self.current} was canceled")

    def _resume_user(self) -> None:
        self.in_user_code = True
        self._raise_if_canceled()

    def _predict(self, pred: Prediction) -> None:
        child = self.child
        scope: Optional[Scope] = None
        token = None
        status, error = "succeeded", None
        final = b""
        exit_code: Optional[int] = None
        with self.lock:
            self.current = pred.id
            self.queued.discard(pred.id)
            canceled = pred.id in self.canceled_early
            self.canceled_early.discard(pred.id)
        try:
            scope = Scope(pred.id, pred.context)
            token = enter_scope(scope)
            if canceled:
                raise CancelationException()
            kwargs = build_kwargs(child.shape.fields, pred.inputs, pred.opened)
            self._resume_user()
            result = child.predict_fn(**kwargs)
            self.in_user_code = False
            if child.shape.output.iterator or inspect.isgenerator(result):
                iterator = iter(result)
                while True:
                    self._resume_user()
                    item = next(iterator, _END)
                    self.in_user_code = False
                    if item is _END:
                        break
                    child.channel.send_chunk(pred.id, *child.outputs.convert(item))
            else:  # held back: it leaves with `Done`, in one write (Child.finish)
                final = encode(child.outputs.message(pred.id, result))
        except CancelationException:
            status = "canceled"
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            status, error, exit_code = "failed", _exit_error(child.shape.method, e), code
        except BaseException as e:
            status, error = "failed", _failure(child.shape.method, e)
        finally:
            self.in_user_code = False
            with self.lock:
                self.cancel_target = None
        if token is not None:
            exit_scope(token)
        metrics = scope.metrics if scope is not None else {}
        child.finish(pred, status, error, metrics, final, exiting=exit_code is not None)
        with self.lock:
            self.current = None
        if exit_code is not None:
            child.channel.flush()
            sys.stdout.flush()
            os._exit(exit_code or 1)


def _call_maybe_async(func: Any) -> Any:
    result = func()
    return asyncio.run(result) if inspect.isawaitable(result) else result


class AsyncRunner:
    def __init__(self, child: Child) -> None:
        self.child = child
        self.tasks: Dict[str, asyncio.Task] = {}
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.stopped: Optional[asyncio.Event] = None
        self.background: set = set()

    def attribute(self) -> Optional[str]:
        """fd-level output belongs to a prediction only when exactly one runs."""
        try:
            running = list(self.tasks)
        except RuntimeError:  # changed size under us (another thread): too busy to attribute
            return None
        return running[0] if len(running) == 1 else None

    def run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.stopped = asyncio.Event()
        self.child.capture.route_python_streams(lambda: _current().prediction_id)
        self.child.channel.start_reader(self._from_thread, self.child.fail_unstarted)
        try:
            setup = self.child.instantiate()
            if setup is not None:
                result = setup(*self.child.setup_args(setup))
                if inspect.isawaitable(result):
                    await result
        except BaseException as e:
            self.child.setup_failed(e)
            return
        self.child.setup_succeeded()
        await self.stopped.wait()
        for task in list(self.tasks.values()):
            task.cancel()

    def _from_thread(self, message: Any) -> None:
        assert self.loop is not None
        self.loop.call_soon_threadsafe(dispatch_safely, message, self._on_message, self.child.fail_unstarted)

    # -- the event loop: each message handled as it comes ----------------------------------------

    def _on_message(self, message: Any) -> None:
        self._HANDLERS[type(message)](self, message)

    def _on_predict(self, request: Predict) -> None:
        pred = Prediction(request)
        task = asyncio.ensure_future(self._predict(pred))
        task.add_done_callback(lambda t, p=pred: self._cancelled_before_start(t, p))
        self.tasks[pred.id] = task

    def _on_cancel(self, request: Cancel) -> None:
        task = self.tasks.get(request.id)
        if task is not None:
            task.cancel()

    def _on_health(self, request: HealthCheck) -> None:
        task = asyncio.ensure_future(self._health(request.seq))
        self.background.add(task)  # keep a reference until it finishes
        task.add_done_callback(self.background.discard)

    def _on_shutdown(self, request: Shutdown) -> None:
        assert self.stopped is not None
        self.stopped.set()

    _HANDLERS: Dict[type, Callable[..., None]] = {
        Predict: _on_predict,
        Cancel: _on_cancel,
        HealthCheck: _on_health,
        Shutdown: _on_shutdown,
    }

    def _cancelled_before_start(self, task: asyncio.Task, pred: Prediction) -> None:
        """A task canceled before its first step never runs `_predict`'s handlers: report it here."""
        if task.cancelled() and not pred.started:
            self.tasks.pop(pred.id, None)
            self.child.finish(pred, "canceled", None, {}, drained=True)

    async def _health(self, seq: int) -> None:
        check = getattr(self.child.instance, "healthcheck", None)
        if check is None:
            self.child.channel.send(HealthResult(seq, None, None))
            return
        try:
            result = check()
            if inspect.isawaitable(result):
                result = await result
            self.child.channel.send(HealthResult(seq, True if result is None else bool(result), None))
        except Exception as e:
            self.child.channel.send(HealthResult(seq, False, describe(e)))

    async def _predict(self, pred: Prediction) -> None:
        pred.started = True
        child = self.child
        scope: Optional[Scope] = None
        status, error = "succeeded", None
        final = b""
        send_chunk = child.channel.send_chunk
        convert = child.outputs.convert
        try:
            scope = Scope(pred.id, pred.context)
            enter_scope(scope)  # this task runs in its own copy of the context
            kwargs = build_kwargs(child.shape.fields, pred.inputs, pred.opened)
            result = child.predict_fn(**kwargs)
            if inspect.isawaitable(result):
                result = await result
            if hasattr(result, "__aiter__"):
                async for item in result:
                    send_chunk(pred.id, *convert(item))
            elif child.shape.output.iterator or inspect.isgenerator(result):
                for item in result:
                    send_chunk(pred.id, *convert(item))
            else:  # held back: it leaves with `Done`, in one write (Child.finish)
                final = encode(child.outputs.message(pred.id, result))
        except (asyncio.CancelledError, CancelationException):
            status = "canceled"
        except SystemExit as e:
            self.tasks.pop(pred.id, None)
            metrics = scope.metrics if scope is not None else {}
            child.finish(pred, "failed", _exit_error(child.shape.method, e), metrics, exiting=True)
            child.channel.flush()
            os._exit(e.code if isinstance(e.code, int) and e.code else 1)
        except BaseException as e:
            status, error = "failed", _failure(child.shape.method, e)
        try:  # still listed while draining, so its last fd-level output is attributed to it
            if not child.capture.settled():  # else nothing to wait for: skip the hop to a thread
                await asyncio.get_running_loop().run_in_executor(None, child.drain)
        finally:
            # Unlisted before `Done` leaves: the parent may send the next prediction at once, and
            # two listed tasks would leave that one's fd-level output unattributed.
            self.tasks.pop(pred.id, None)
            metrics = scope.metrics if scope is not None else {}
            child.finish(pred, status, error, metrics, final, drained=True)
