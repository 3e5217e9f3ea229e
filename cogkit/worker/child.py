"""The worker child: import user code, send the schema, run setup(), then serve predictions.

Started by `WorkerClient` as `python -X utf8 -m cogkit.worker --fd N --ref predict.py:Predictor`.
A sync predictor runs in the main thread, so that cancellation can interrupt it with a signal
(`CancelationException`); an async one runs as tasks on an event loop in the main thread.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import os
import socket
import sys
import traceback
from typing import Any, Callable, Dict, List, Optional

from cogkit.errors import PredictorError
from cogkit.sdk.loader import PredictorShape, load_shape, setup_takes_weights
from cogkit.sdk.schema import document_for
from cogkit.sdk.types import Path
from cogkit.worker.capture import OutputCapture
from cogkit.worker.channel import Channel
from cogkit.worker.convert import to_json


class Prediction:
    """One running prediction, as the child tracks it."""

    def __init__(self, msg: Dict[str, Any]) -> None:
        self.id: str = msg["id"]
        self.inputs: Dict[str, Any] = msg["input"] or {}
        self.context: Dict[str, Any] = msg["context"] or {}
        self.opened: List[Any] = []
        self.started = False

    def close_files(self) -> None:
        for handle in self.opened:
            with contextlib.suppress(OSError):
                handle.close()


class Child:
    """State shared by both runners: the channel, the capture and the loaded predictor."""

    def __init__(self, channel: Channel, shape: PredictorShape, capture: OutputCapture) -> None:
        self.channel = channel
        self.shape = shape
        self.capture = capture
        self.instance: Any = None
        self.predict_fn: Callable[..., Any] = shape.function

    def instantiate(self) -> Optional[Callable[..., Any]]:
        """Create the predictor object; return its setup() (None for a plain function)."""
        if not self.shape.is_class:
            return None
        self.instance = self.shape.target()
        self.predict_fn = getattr(self.instance, self.shape.method)
        return getattr(self.instance, "setup", None)

    def setup_args(self, setup: Callable[..., Any]) -> List[Any]:
        return [weights_argument()] if setup_takes_weights(setup) else []

    def setup_failed(self, exc: BaseException, what: str = "setup() raised") -> None:
        traceback.print_exception(type(exc), exc, exc.__traceback__)
        self.capture.drain()
        self.channel.send("setup_done", status="failed", error=f"{what} {_describe(exc)}")

    def setup_succeeded(self) -> None:
        self.capture.drain()
        self.channel.send("setup_done", status="succeeded", error=None)

    def finish(
        self,
        pred: Prediction,
        status: str,
        error: Optional[str],
        metrics: Dict[str, Any],
        final: bytes = b"",
        drained: bool = False,
    ) -> None:
        """Send the prediction's `done`, whatever else goes wrong: the server waits for it.

        `final` is the encoded last `output` message, held back until the logs are drained so
        that it and `done` leave in one write; `drained` skips a drain the caller already did.
        """
        pred.close_files()
        if not drained:
            self.drain()
        try:
            encoded = to_json(metrics)
            done = self.channel.encode("done", id=pred.id, status=status, error=error, metrics=encoded)
        except TypeError as e:
            self.channel.send("log", id=pred.id, stream="stderr", text=f"cogkit: metrics dropped: {e}\n")
            done = self.channel.encode("done", id=pred.id, status=status, error=error, metrics={})
        self.channel.send_encoded(final, done)

    def drain(self) -> None:
        """Wait until the prediction's fd-level output has been forwarded."""
        with contextlib.suppress(OSError):  # the predictor closed fd 1 or 2: nothing left to drain
            self.capture.drain()

    def healthcheck(self, seq: int, call: Callable[[], Any]) -> None:
        try:
            result = call()
            self.channel.send(
                "health", seq=seq, result=bool(result) if result is not None else True, error=None
            )
        except Exception as e:
            self.channel.send("health", seq=seq, result=False, error=_describe(e))


def weights_argument() -> Any:
    """What `setup(weights)` receives: COG_WEIGHTS (a URL string or a Path), else ./weights, else None."""
    value = os.environ.get("COG_WEIGHTS")
    if value:
        return value if "://" in value else Path(value)
    return Path("weights") if os.path.exists("weights") else None


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cogkit.worker")
    parser.add_argument("--fd", type=int, required=True, help="the inherited message socket")
    parser.add_argument("--ref", required=True, help="predictor reference, e.g. predict.py:Predictor")
    parser.add_argument("--cwd", required=True, help="the project directory")
    parser.add_argument("--mode", default="predict", choices=["predict", "train"])
    args = parser.parse_args(argv)

    # The pump and sender threads hand log lines and results over; with the default 5 ms GIL
    # switch interval each handover can stall a prediction's reply. Idle threads cost nothing.
    sys.setswitchinterval(0.0005)
    os.set_inheritable(args.fd, False)  # subprocesses of the predictor must not hold the socket
    channel = Channel(socket.socket(fileno=args.fd))
    runner: Any = None
    capture = OutputCapture(channel, lambda: runner.attribute() if runner is not None else None)
    capture.start()
    faulthandler.enable(file=capture.original_stderr)
    os.chdir(args.cwd)
    _sdk_first(os.getcwd())
    try:
        shape = load_shape(args.ref, cwd=os.getcwd(), mode=args.mode)
        document = document_for(shape)
    except PredictorError as e:
        _fatal(channel, capture, str(e))
        return
    except BaseException as e:  # the user's module raised while importing: show it, as a setup failure
        traceback.print_exc()
        _fatal(channel, capture, f"importing {args.ref.rpartition(':')[0]} failed: {_describe(e)}")
        return
    channel.send(
        "schema",
        schema=document,
        max_concurrency=shape.max_concurrency,
        is_async=shape.is_async,
        output_is_iterator=shape.output.iterator,
        has_healthcheck=shape.has_healthcheck,
    )
    from cogkit.worker.runners import AsyncRunner, SyncRunner

    runner = (AsyncRunner if shape.is_async else SyncRunner)(Child(channel, shape, capture))
    runner.run()
    channel.flush()


def _sdk_first(project: str) -> None:
    """sys.path starts with the folder we were imported from (sdk_path: `cogkit` and `cog`), then
    the project, so a stray `cog.py` or `cog/` in the project cannot shadow the shim."""
    import cogkit

    folder = os.path.dirname(os.path.dirname(os.path.abspath(cogkit.__file__)))
    rest = [p for p in sys.path if p not in (folder, project, "")]
    sys.path[:] = [folder, project, *rest]


def _fatal(channel: Channel, capture: OutputCapture, error: str) -> None:
    """The predictor cannot be loaded: report it (as a setup failure) and exit."""
    capture.drain()
    channel.send("fatal", error=error)
    channel.flush()
