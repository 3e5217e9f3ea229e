"""The worker child: import user code, send the schema, run setup(), then serve predictions.

Started by `WorkerClient` as `python -X utf8 -m cogkit.worker --fd N --ref predict.py:Predictor`.
A sync predictor runs in the main thread, so that cancellation can interrupt it with a signal
(`CancelationException`); an async one runs as tasks on an event loop in the main thread.
Errors in user code are logged with the useful line first and the user's frames only.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import os
import socket
import sys
import tempfile
from typing import Any, Callable, Dict, List, Optional

from cogkit.errors import PredictorError
from cogkit.mode import Mode
from cogkit.sdk.loader import PredictorShape, load_shape, setup_takes_weights
from cogkit.sdk.schema import document_for
from cogkit.sdk.tracebacks import describe, format_user_error
from cogkit.sdk.types import Path
from cogkit.worker.capture import OutputCapture
from cogkit.worker.channel import Channel, watch_parent
from cogkit.worker.convert import OutputConverter, OutputError
from cogkit.worker.protocol import (
    Done,
    Exiting,
    Fatal,
    HealthResult,
    Log,
    Predict,
    ProtocolError,
    Schema,
    SetupDone,
    encode,
)


class Prediction:
    """One running prediction, as the child tracks it. Its input and context are the client's
    data, used as they came: only the predictor's own parameters give them meaning."""

    def __init__(self, request: Predict) -> None:
        self.id = request.id
        self.inputs: Any = request.input if request.input is not None else {}
        self.context: Any = request.context
        self.opened: List[Any] = []
        self.started = False

    def close_files(self) -> None:
        for handle in self.opened:
            with contextlib.suppress(OSError):
                handle.close()


class Child:
    """State shared by both runners: the channel, the capture and the loaded predictor."""

    def __init__(
        self, channel: Channel, shape: PredictorShape, capture: OutputCapture, outputs: OutputConverter
    ) -> None:
        self.channel = channel
        self.shape = shape
        self.capture = capture
        self.outputs = outputs
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

    def setup_failed(self, exc: BaseException) -> None:
        sys.stderr.write(format_user_error(exc, "setup() raised"))
        self.capture.drain()
        self.channel.send(SetupDone("failed", f"setup() raised {describe(exc)}"))

    def setup_succeeded(self) -> None:
        self.capture.drain()
        self.channel.send(SetupDone("succeeded", None))

    def finish(
        self,
        pred: Prediction,
        status: str,
        error: Optional[str],
        metrics: Dict[str, Any],
        final: bytes = b"",
        drained: bool = False,
        exiting: bool = False,
    ) -> None:
        """Send the prediction's `Done`, whatever else goes wrong: the server waits for it.

        `final` is the encoded last `Output`, held back until the logs are drained so that it
        and `Done` leave in one write; `drained` skips a drain the caller already did; `exiting`
        announces first that the child exits after this.
        """
        pred.close_files()
        if not drained:
            self.drain()
        try:
            done = encode(Done(pred.id, status, error, self.outputs.plain(metrics)))
        except (OutputError, ProtocolError) as e:  # metrics that JSON cannot hold
            self.channel.send(Log(pred.id, "stderr", f"cogkit: metrics dropped: {e}\n"))
            done = encode(Done(pred.id, status, error, {}))
        notice = encode(Exiting(error or status)) if exiting else b""
        self.channel.send_encoded(notice, final, done)

    def fail_unstarted(self, prediction_id: str, error: str) -> None:
        """A request the reader could not hand over (undecodable, or a handler bug): fail it."""
        self.channel.send(Done(prediction_id, "failed", error, {}))

    def drain(self) -> None:
        """Wait until the prediction's fd-level output has been forwarded."""
        with contextlib.suppress(OSError):  # the predictor closed fd 1 or 2: nothing left to drain
            self.capture.drain()

    def healthcheck(self, seq: int, call: Callable[[], Any]) -> None:
        try:
            result = call()
            self.channel.send(HealthResult(seq, bool(result) if result is not None else True, None))
        except Exception as e:
            self.channel.send(HealthResult(seq, False, describe(e)))


def weights_argument() -> Any:
    """What `setup(weights)` receives: COG_WEIGHTS (a URL string or a Path), else ./weights, else None."""
    value = os.environ.get("COG_WEIGHTS")
    if value:
        return value if "://" in value else Path(value)
    return Path("weights") if os.path.exists("weights") else None


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cogkit.worker")
    parser.add_argument("--fd", type=int, required=True, help="the inherited message socket")
    parser.add_argument("--ref", required=True, help="predictor reference, e.g. predict.py:Predictor")
    parser.add_argument("--cwd", required=True, help="the project directory")
    parser.add_argument("--mode", type=Mode, default=Mode.PREDICT, choices=list(Mode))
    parser.add_argument("--outputs", default=None, help="where copies of file-like outputs go")
    args = parser.parse_args(argv)

    # The pump and sender threads hand log lines and results over; with the default 5 ms GIL
    # switch interval each handover can stall a prediction's reply. Idle threads cost nothing.
    sys.setswitchinterval(0.0005)
    os.set_inheritable(args.fd, False)  # subprocesses of the predictor must not hold the socket
    watch_parent(args.outputs)
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
        what = f"importing {args.ref.rpartition(':')[0]} failed:"
        sys.stderr.write(format_user_error(e, what))
        _fatal(channel, capture, f"{what} {describe(e)}")
        return
    channel.send(
        Schema(document, shape.max_concurrency, shape.is_async, shape.output.iterator, shape.has_healthcheck)
    )
    from cogkit.worker.runners import AsyncRunner, SyncRunner

    outputs = OutputConverter(args.outputs or tempfile.gettempdir())
    runner = (AsyncRunner if shape.is_async else SyncRunner)(Child(channel, shape, capture, outputs))
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
    channel.send(Fatal(error))
    channel.flush()
