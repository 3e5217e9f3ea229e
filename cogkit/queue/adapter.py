"""The one place where queue mode touches the prediction runner.

The consumer needs very little from the runner, and only this module knows how to get it:
`submit()` a request (it then runs in its own task, with the runner's webhooks, files and
metrics, exactly as an HTTP `Prefer: respond-async` request), `done`/`encode()` on the
prediction, `cancel()`, and the slot count. If the runner's internals change, this is the file
to adjust.
"""

from __future__ import annotations

from typing import Any

from cogkit.queue.messages import describe
from cogkit.server.health import Health
from cogkit.server.http_errors import RequestInvalid, SlotsBusy, WorkerUnavailable
from cogkit.server.prediction import Prediction, PredictionRequest
from cogkit.server.runner import PredictionRunner
from cogkit.server.supervisor import NotServing

SETUP_WAIT_S = 3600.0  # one wait's bound; ready() waits again while setup still runs


class SlotTaken(Exception):
    """An HTTP request took the free slot first; try again when one frees."""


class ModelUnavailable(Exception):
    """This replica cannot run predictions (setup failed, or the worker is defunct)."""


class Rejected(Exception):
    """The request is well formed but its input is not valid for this model: a final answer."""


class RunnerAdapter:
    def __init__(self, runner: PredictionRunner) -> None:
        self.runner = runner

    async def ready(self) -> None:
        """Wait for setup, however long it takes; raises `NotServing` when it failed."""
        while True:
            try:
                await self.runner.supervisor.serving(wait=SETUP_WAIT_S)
                return
            except NotServing as e:
                if e.health is not Health.STARTING:
                    raise

    @property
    def accepting(self) -> bool:
        """READY: not starting, restarting after a crash, failed or defunct, nor shutting down."""
        return self.runner.accepting and self.runner.supervisor.state is Health.READY

    @property
    def free_slots(self) -> int:
        return self.runner.supervisor.limit - self.runner.in_use

    @property
    def schema(self) -> dict[str, Any] | None:
        return self.runner.supervisor.schema

    async def start(self, request: PredictionRequest) -> Prediction | bytes:
        """Start a prediction, or join the live one with the same id (the remembered one's body)."""
        try:
            prediction, _existed = await self.runner.submit(request)
        except SlotsBusy as e:
            raise SlotTaken(str(e)) from e
        except RequestInvalid as e:
            raise Rejected(describe(e.detail)) from e
        except WorkerUnavailable as e:
            raise ModelUnavailable(str(e)) from e
        return prediction

    async def wait(self, prediction: Prediction | bytes) -> bytes:
        """The final prediction's JSON, once it is complete."""
        if isinstance(prediction, bytes):
            return prediction
        await prediction.done.wait()
        return prediction.encode()

    async def cancel(self, prediction_id: str) -> None:
        await self.runner.cancel(prediction_id)

    def notify(self, request: PredictionRequest, body: bytes) -> None:
        """Send the `completed` webhook of a prediction that never reached the runner."""
        if request.webhook is None:
            return
        channel = self.runner.webhooks.channel(request.webhook, request.webhook_events_filter, lambda: body)
        channel.complete(body)
