"""Run setup() and predictions: `SyncRunner` in the main thread, `AsyncRunner` on an event loop.

A sync prediction is canceled by SIGUSR1, whose handler raises `CancelationException` in the
main thread; that interrupts `time.sleep` and any Python code, but C code only when it returns.
An async prediction is canceled with `task.cancel()`, raising `asyncio.CancelledError`.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import queue
import signal
import sys
import threading
import traceback
from typing import Any, Dict, Optional

from cogkit.sdk.scope import CancelationException, Scope, enter_scope, exit_scope
from cogkit.sdk.scope import current_scope as _current
from cogkit.worker.child import Child, Prediction, _describe
from cogkit.worker.convert import build_kwargs, to_json

_END = object()


class SyncRunner:
    def __init__(self, child: Child) -> None:
        self.child = child
        self.commands: queue.SimpleQueue[Dict[str, Any]] = queue.SimpleQueue()
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
        self.child.channel.start_reader(self._on_message)
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
            msg = self.commands.get()
            if msg["type"] == "shutdown":
                return
            self._predict(Prediction(msg))

    def _on_message(self, msg: Dict[str, Any]) -> None:
        """Reader thread: queue predictions; act on cancel and health at once."""
        kind = msg["type"]
        if kind == "predict":
            with self.lock:
                self.queued.add(msg["id"])
            self.commands.put(msg)
        elif kind == "shutdown":
            self.commands.put(msg)
        elif kind == "cancel":
            with self.lock:
                if msg["id"] == self.current:
                    self.cancel_target = msg["id"]
                    os.kill(os.getpid(), signal.SIGUSR1)
                elif msg["id"] in self.queued:
                    self.canceled_early.add(msg["id"])
        elif kind == "health":
            instance = self.child.instance
            check = getattr(instance, "healthcheck", None)
            if check is not None:
                threading.Thread(
                    target=self.child.healthcheck,
                    args=(msg["seq"], lambda: _call_maybe_async(check)),
                    daemon=True,
                ).start()
            else:
                self.child.channel.send("health", seq=msg["seq"], result=None, error=None)

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
        scope = Scope(pred.id, pred.context)
        token = enter_scope(scope)
        status, error = "succeeded", None
        final = b""
        exit_code: Optional[int] = None
        with self.lock:
            self.current = pred.id
            self.queued.discard(pred.id)
            canceled = pred.id in self.canceled_early
            self.canceled_early.discard(pred.id)
        try:
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
                    child.channel.send("output", id=pred.id, value=to_json(item), chunk=True)
            else:  # held back: it leaves with `done`, in one write (Child.finish)
                final = child.channel.encode("output", id=pred.id, value=to_json(result), chunk=False)
        except CancelationException:
            status = "canceled"
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            status, error, exit_code = (
                "failed",
                f"predict() called sys.exit({e.code!r}); the worker restarts",
                code,
            )
        except BaseException as e:
            traceback.print_exception(type(e), e, e.__traceback__)
            status, error = "failed", _describe(e)
        finally:
            self.in_user_code = False
            with self.lock:
                self.cancel_target = None
        exit_scope(token)
        child.finish(pred, status, error, scope.metrics, final)
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
        self.child.channel.start_reader(self._from_thread)
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

    def _from_thread(self, msg: Dict[str, Any]) -> None:
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self._on_message, msg)

    def _on_message(self, msg: Dict[str, Any]) -> None:
        kind = msg["type"]
        if kind == "predict":
            pred = Prediction(msg)
            task = asyncio.ensure_future(self._predict(pred))
            task.add_done_callback(lambda t, p=pred: self._cancelled_before_start(t, p))
            self.tasks[pred.id] = task
        elif kind == "cancel":
            task = self.tasks.get(msg["id"])
            if task is not None:
                task.cancel()
        elif kind == "health":
            task = asyncio.ensure_future(self._health(msg["seq"]))
            self.background.add(task)  # keep a reference until it finishes
            task.add_done_callback(self.background.discard)
        elif kind == "shutdown":
            assert self.stopped is not None
            self.stopped.set()

    def _cancelled_before_start(self, task: asyncio.Task, pred: Prediction) -> None:
        """A task canceled before its first step never runs `_predict`'s handlers: report it here."""
        if task.cancelled() and not pred.started:
            self.tasks.pop(pred.id, None)
            self.child.channel.send("done", id=pred.id, status="canceled", error=None, metrics={})

    async def _health(self, seq: int) -> None:
        check = getattr(self.child.instance, "healthcheck", None)
        if check is None:
            self.child.channel.send("health", seq=seq, result=None, error=None)
            return
        try:
            result = check()
            if inspect.isawaitable(result):
                result = await result
            self.child.channel.send(
                "health", seq=seq, result=True if result is None else bool(result), error=None
            )
        except Exception as e:
            self.child.channel.send("health", seq=seq, result=False, error=_describe(e))

    async def _predict(self, pred: Prediction) -> None:
        pred.started = True
        child = self.child
        scope = Scope(pred.id, pred.context)
        enter_scope(scope)  # this task runs in its own copy of the context
        status, error = "succeeded", None
        final = b""
        send = child.channel.send
        try:
            kwargs = build_kwargs(child.shape.fields, pred.inputs, pred.opened)
            result = child.predict_fn(**kwargs)
            if inspect.isawaitable(result):
                result = await result
            if hasattr(result, "__aiter__"):
                async for item in result:
                    send("output", id=pred.id, value=to_json(item), chunk=True)
            elif child.shape.output.iterator or inspect.isgenerator(result):
                for item in result:
                    send("output", id=pred.id, value=to_json(item), chunk=True)
            else:  # held back: it leaves with `done`, in one write (Child.finish)
                final = child.channel.encode("output", id=pred.id, value=to_json(result), chunk=False)
        except (asyncio.CancelledError, CancelationException):
            status = "canceled"
        except SystemExit as e:
            status, error = "failed", f"predict() called sys.exit({e.code!r}); the worker restarts"
            self._exit_after(pred, status, error, scope, e)
            return
        except BaseException as e:
            traceback.print_exception(type(e), e, e.__traceback__)
            status, error = "failed", _describe(e)
        try:  # still listed while draining, so its last fd-level output is attributed to it
            if not child.capture.settled():  # else nothing to wait for: skip the hop to a thread
                await asyncio.get_running_loop().run_in_executor(None, child.drain)
        finally:
            # Unlisted before `done` leaves: the parent may send the next prediction at once, and
            # two listed tasks would leave that one's fd-level output unattributed.
            self.tasks.pop(pred.id, None)
            child.finish(pred, status, error, scope.metrics, final, drained=True)

    def _exit_after(self, pred: Prediction, status: str, error: str, scope: Scope, exc: SystemExit) -> None:
        self.child.finish(pred, status, error, scope.metrics)
        self.child.channel.flush()
        os._exit(exc.code if isinstance(exc.code, int) and exc.code else 1)
