"""The prediction runner: ids, concurrency slots, the worker event loop, cancel and webhooks.

A prediction holds a slot from admission until its last worker event has been recorded; the
slot is released *before* the prediction is marked done, so the HTTP response is always sent
after the slot is free. A client that waits for each response before sending the next request
therefore never sees 409, whatever its connection reuse.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import time
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cogkit.sdk.schema import validate_input
from cogkit.server.files import download_inputs, encode_output
from cogkit.server.http_errors import (
    InputInvalid,
    NotFound,
    RequestInvalid,
    SlotsBusy,
    UploadFailed,
    WorkerUnavailable,
)
from cogkit.server.inputs import SchemaFacts, check_file_urls, first_message
from cogkit.server.metrics import ServerMetrics
from cogkit.server.prediction import Prediction, PredictionRequest, new_id, redact
from cogkit.server.supervisor import WorkerSupervisor, now_iso
from cogkit.server.webhooks import WebhookSender
from cogkit.worker.client import WorkerClient
from cogkit.worker.events import DoneEvent, LogEvent, OutputEvent

if TYPE_CHECKING:
    import httpx

    from cogkit.server.lazyhttp import LazyClient

log = logging.getLogger("cogkit.server")

# Finished predictions stay readable (GET, idempotent PUT) within both bounds, oldest out first.
KEEP_FINISHED = 1000
KEEP_BYTES = 256 << 20


class PredictionRunner:
    """Admits, runs and remembers the predictions (or trainings) of one worker supervisor."""

    def __init__(
        self,
        supervisor: WorkerSupervisor,
        *,
        kind: str,
        http: httpx.AsyncClient | LazyClient,
        webhooks: WebhookSender,
        metrics: ServerMetrics,
        upload_url: str | None = None,
        max_input_bytes: int = 1 << 30,
    ) -> None:
        self.supervisor = supervisor
        self.kind = kind
        self.component = "TrainingInput" if kind == "training" else "Input"
        self.http = http
        self.webhooks = webhooks
        self.metrics = metrics
        self.upload_url = upload_url
        self.max_input_bytes = max_input_bytes
        self.in_use = 0
        self._live: dict[str, Prediction] = {}
        self._finished: OrderedDict[str, Prediction] = OrderedDict()
        self._finished_bytes = 0
        self._facts: SchemaFacts | None = None
        # Metric children, looked up once: `labels()` on every request costs more than `inc()`.
        self._in_flight = metrics.in_flight.labels(kind)
        self._rejected_busy = metrics.rejected.labels(kind, "busy")
        self._rejected_invalid = metrics.rejected.labels(kind, "invalid")
        self._duration = metrics.prediction_time.labels(kind)
        self._outcomes: dict[str, Any] = {}
        self._cancels: set[asyncio.Task[None]] = set()

    @property
    def busy(self) -> bool:
        return self.in_use >= self.supervisor.limit

    def get(self, prediction_id: str) -> Prediction:
        pred = self._live.get(prediction_id) or self._finished.get(prediction_id)
        if pred is None:
            raise NotFound(f"no {self.kind} with id {prediction_id!r}")
        return pred

    def find(self, prediction_id: str | None) -> Prediction | None:
        if prediction_id is None:
            return None
        return self._live.get(prediction_id) or self._finished.get(prediction_id)

    async def _worker(self) -> WorkerClient:
        try:
            worker = await self.supervisor.ready()
            if self.supervisor.state == "DEFUNCT":
                raise WorkerUnavailable("the worker died and could not be restarted")
            return worker
        except WorkerUnavailable:
            raise
        except Exception as e:
            raise WorkerUnavailable(
                f"the model is not ready ({self.supervisor.state}): {e}",
                hint="GET /health-check shows the setup logs",
            ) from e

    def _schema_facts(self, worker: WorkerClient) -> SchemaFacts:
        schema = worker.schema or {}
        if self._facts is None or self._facts.openapi is not schema:
            self._facts = SchemaFacts(schema, self.component)
            self.metrics.slots.labels(self.kind).set(self.supervisor.limit)
        return self._facts

    async def submit(self, request: PredictionRequest, *, stream: bool = False) -> tuple[Prediction, bool]:
        """Admit a prediction and start it in its own task; returns (prediction, existed) for idempotent ids."""
        pred, facts = await self._admit(request, stream=stream)
        if facts is None:
            return pred, True
        pred.task = asyncio.get_running_loop().create_task(self._run(pred, facts))
        return pred, False

    async def predict(self, request: PredictionRequest) -> Prediction:
        """Admit a prediction and run it to completion in the caller's task (a synchronous request).

        This saves a task and an event hop per request. The slot is still released before this
        returns, so the response goes out after it is free. If the caller is cancelled (only a
        forced server shutdown does that: uvicorn does not cancel a handler whose client went
        away), the prediction ends as canceled and the worker is told to stop it.
        """
        pred, facts = await self._admit(request, stream=False)
        if facts is None:
            return await self.wait(pred)
        try:
            await self._run(pred, facts)
        except asyncio.CancelledError:
            if pred.started_at is not None:
                task = asyncio.get_running_loop().create_task(self._cancel_quietly(pred.id))
                self._cancels.add(task)  # a reference, so the task is not collected mid-way
                task.add_done_callback(self._cancels.discard)
            raise
        return pred

    async def _cancel_quietly(self, prediction_id: str) -> None:
        try:
            await self.supervisor.cancel(prediction_id)
        except Exception:
            log.warning("could not cancel %s %s in the worker", self.kind, prediction_id)

    async def _admit(
        self, request: PredictionRequest, *, stream: bool
    ) -> tuple[Prediction, SchemaFacts | None]:
        """Validate and take a slot; facts is None when the id already names a prediction."""
        existing = self.find(request.id)
        if existing is not None:
            return existing, None
        worker = await self._worker()
        facts = self._schema_facts(worker)
        inputs, errors = validate_input(facts.openapi, request.input, component=facts.component)
        if errors:
            self._rejected_invalid.inc()
            raise RequestInvalid(errors)
        check_file_urls(inputs, facts)
        # From here to the caller's start of `_run` there is no await: admission is atomic.
        existing = self.find(request.id)
        if existing is not None:
            return existing, None
        if self.in_use >= self.supervisor.limit:
            self._rejected_busy.inc()
            raise SlotsBusy(f"Already running a {self.kind}: all {self.supervisor.limit} slot(s) are busy")
        self.in_use += 1
        self._in_flight.inc()
        pred = Prediction(
            id=request.id or new_id(),
            input=inputs,
            echo_input=redact(request.input, facts.secrets),
            created_at=now_iso(),
            context=request.context,
        )
        if request.webhook:
            pred.webhook = self.webhooks.channel(request.webhook, request.webhook_events_filter, pred.to_json)
        if stream:
            pred.stream = asyncio.Queue()
        self._live[pred.id] = pred
        return pred, facts

    async def wait(self, pred: Prediction) -> Prediction:
        """Wait for completion. The prediction runs in its own task, so a waiter that is
        cancelled (its client went away) leaves the prediction running."""
        if not pred.done.is_set():
            await pred.done.wait()
        return pred

    async def cancel(self, prediction_id: str) -> None:
        pred = self._live.get(prediction_id)
        if pred is None:
            self.get(prediction_id)  # 404 when unknown; a finished one needs nothing
            return
        pred.cancel_requested = True
        if pred.status == "processing":
            await self.supervisor.cancel(prediction_id)

    async def _run(self, pred: Prediction, facts: SchemaFacts) -> None:
        tmp: Path | None = None
        started = 0.0
        try:
            inputs = pred.input
            if facts.files and any(inputs.get(n) is not None for n in facts.files):
                tmp = Path(tempfile.mkdtemp(prefix="cogkit-in-"))
                inputs = await download_inputs(
                    inputs, facts.files, client=self.http, directory=tmp, max_bytes=self.max_input_bytes
                )
            if pred.cancel_requested:
                pred.status = "canceled"
                return
            pred.status = "processing"
            pred.started_at = now_iso()
            started = time.perf_counter()
            if pred.webhook is not None:
                pred.webhook.start()
            worker = await self.supervisor.serving()
            await self._consume(pred, worker, inputs)
        except (InputInvalid, UploadFailed) as e:
            pred.status, pred.error = "failed", first_message(e)
        except asyncio.CancelledError:
            pred.status, pred.error = "canceled", pred.error or "the server is shutting down"
            raise
        except Exception as e:  # a bug or a broken pipe must fail this prediction, not hang it
            log.exception("%s %s failed inside the server", self.kind, pred.id)
            pred.status, pred.error = "failed", f"{type(e).__name__}: {e}"
        finally:
            self._finish(pred, tmp, started)

    async def _consume(self, pred: Prediction, worker: WorkerClient, inputs: dict[str, Any]) -> None:
        cancel_sent = False
        async for event in worker.predict(pred.id, inputs, context=pred.context):
            if pred.cancel_requested and not cancel_sent:
                cancel_sent = True
                await worker.cancel(pred.id)
            if isinstance(event, LogEvent):
                pred.logs.append(event.text)
                if pred.webhook is not None:
                    pred.webhook.update("logs")
                if pred.stream is not None:
                    pred.stream.put_nowait(("log", event.text))
            elif isinstance(event, OutputEvent):
                value = await encode_output(event.value, client=self.http, upload_url=self.upload_url)
                if event.chunk:
                    if not isinstance(pred.output, list):
                        pred.output = []
                    pred.output.append(value)
                else:
                    pred.output = value
                if pred.webhook is not None:
                    pred.webhook.update("output")
                if pred.stream is not None:
                    pred.stream.put_nowait(("output", value))
            elif isinstance(event, DoneEvent):
                pred.status = event.status
                pred.error = event.error
                if event.metrics:
                    pred.metrics.update(event.metrics)
        if not pred.finished:
            pred.status = "failed"
            pred.error = pred.error or "the worker ended the prediction without a result"

    def _finish(self, pred: Prediction, tmp: Path | None, started: float) -> None:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        pred.completed_at = now_iso()
        if started:
            elapsed = time.perf_counter() - started
            pred.metrics.setdefault("predict_time", elapsed)
            self._duration.observe(elapsed)
        # Release the slot first: the response is sent only after `done` is set.
        self.in_use -= 1
        self._in_flight.dec()
        self._live.pop(pred.id, None)
        self._remember(pred)
        pred.done.set()
        outcome = self._outcomes.get(pred.status)
        if outcome is None:
            outcome = self._outcomes[pred.status] = self.metrics.predictions.labels(self.kind, pred.status)
        outcome.inc()
        if pred.webhook is not None:
            pred.webhook.complete()
        if pred.stream is not None:
            pred.stream.put_nowait(("completed", None))

    def _remember(self, pred: Prediction) -> None:
        pred.input = {}  # the validated copy (local paths, big data URIs) is no longer needed
        self._finished[pred.id] = pred
        self._finished_bytes += len(pred.encode())  # encoded once, here; responses reuse it
        while len(self._finished) > 1 and (
            len(self._finished) > KEEP_FINISHED or self._finished_bytes > KEEP_BYTES
        ):
            _, old = self._finished.popitem(last=False)
            self._finished_bytes -= len(old.encode())

    async def shutdown(self, grace: float) -> None:
        """Cancel what is still running and give it `grace` seconds to finish."""
        live = list(self._live.values())
        for pred in live:
            pred.cancel_requested = True
            if pred.status == "processing":
                try:
                    await asyncio.wait_for(self.supervisor.cancel(pred.id), grace)
                except Exception:
                    log.warning("could not cancel %s %s at shutdown", self.kind, pred.id)
        tasks = [p.task for p in live if p.task is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
