"""The prediction runner: ids, concurrency slots, the worker event loop, cancel and shutdown.

A prediction holds a slot from admission until its last worker event has been recorded; the
slot is released *before* the prediction is marked done, so the HTTP response is always sent
after the slot is free. A client that waits for each response before sending the next request
therefore never sees 409, whatever its connection reuse.

Every admitted prediction reaches a terminal state, and every waiter hears of it (the
response, the `completed` webhook, the SSE `completed` event): `_finish` runs in a `finally`,
an output JSON cannot carry fails the prediction instead of the server, and at shutdown a
prediction the worker will not let go of is ended by the server (`abort`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from cogkit.mode import Mode
from cogkit.sdk.schema import validate_input
from cogkit.server.downloads import download_inputs
from cogkit.server.http_errors import (
    NotFound,
    RequestInvalid,
    SlotsBusy,
    WorkerUnavailable,
)
from cogkit.server.inputs import SchemaFacts, check_file_urls, first_message
from cogkit.server.limits import Limits
from cogkit.server.metrics import ServerMetrics
from cogkit.server.outbound import Outbound
from cogkit.server.outputs import OutputEncoder
from cogkit.server.prediction import (
    FinishedCache,
    Prediction,
    PredictionRequest,
    json_size,
    new_id,
    now_iso,
)
from cogkit.server.sse import EventStream
from cogkit.server.supervisor import NotServing, WorkerSupervisor
from cogkit.server.webhooks import WebhookSender
from cogkit.worker.client import WorkerClient
from cogkit.worker.events import ChunksEvent, DoneEvent, LogEvent, OutputEvent

log = logging.getLogger("cogkit.server")

CANCEL_WAIT = 3.0  # at shutdown, how long canceled predictions get before the server ends them
DRAIN_POLL = 0.05


class PredictionRunner:
    """Admits, runs and remembers the predictions (or trainings) of one worker supervisor."""

    def __init__(
        self,
        supervisor: WorkerSupervisor,
        *,
        mode: Mode,
        outbound: Outbound,
        webhooks: WebhookSender,
        metrics: ServerMetrics,
        limits: Limits,
        upload_url: str | None = None,
    ) -> None:
        self.supervisor = supervisor
        self.mode = mode
        self.kind = mode.noun  # the metrics label
        self.outbound = outbound
        self.webhooks = webhooks
        self.metrics = metrics
        self.limits = limits
        self.outputs = OutputEncoder(
            client=outbound.uploads, upload_url=upload_url, max_file_bytes=limits.max_output_file_bytes
        )
        self.accepting = True
        self.in_use = 0
        self.finished = FinishedCache(limits.finished_cache_bytes)
        self._live: dict[str, Prediction] = {}
        self._facts: SchemaFacts | None = None
        # Metric children, looked up once: `labels()` on every request costs more than `inc()`.
        self._in_flight = metrics.in_flight.labels(self.kind)
        self._rejected_busy = metrics.rejected.labels(self.kind, "busy")
        self._rejected_invalid = metrics.rejected.labels(self.kind, "invalid")
        self._duration = metrics.prediction_time.labels(self.kind)
        self._outcomes: dict[str, Any] = {}
        self._cancels: set[asyncio.Task[None]] = set()
        self._busy_body: tuple[int, bytes] = (0, b"")  # (slots, the 409 body), built once per limit

    @property
    def busy(self) -> bool:
        return self.in_use >= self.supervisor.limit

    async def response(self, prediction_id: str) -> bytes:
        """GET: the prediction as it stands."""
        pred = self._live.get(prediction_id)
        if pred is not None:
            return pred.encode()
        body = await self.finished.read(prediction_id)
        if body is None:
            raise NotFound(f"no {self.kind} with id {prediction_id!r}")
        return body

    def refuse_early(self, path_id: str | None, body: bytes) -> bytes | None:
        """The 409 body when every slot is busy, decided before the body is parsed or validated
        (the cheapest answer under overload); None when the request must go the full way.

        A request that may name a known prediction goes the full way, so an idempotent PUT or
        POST of a known id is still answered with that prediction: by its path id, or when the
        body holds an `"id"` key at all (parsing it would cost what this saves).
        """
        if not self.accepting or self.in_use < self.supervisor.limit:
            return None
        if path_id is not None and self._existing(path_id) is not None:
            return None
        if path_id is None and b'"id"' in body:
            return None
        self._rejected_busy.inc()
        limit = self.supervisor.limit
        if self._busy_body[0] != limit:
            self._busy_body = (limit, json.dumps({"detail": str(self._slots_busy())}).encode())
        return self._busy_body[1]

    def _slots_busy(self) -> SlotsBusy:
        return SlotsBusy(f"Already running a {self.kind}: all {self.supervisor.limit} slot(s) are busy")

    # -- admission -------------------------------------------------------------------------------

    async def predict(self, request: PredictionRequest) -> bytes:
        """Admit a prediction and run it to completion in the caller's task (a synchronous request).

        This saves a task and an event hop per request. The slot is still released before this
        returns, so the response goes out after it is free. If the caller is cancelled (a forced
        shutdown), the prediction ends as canceled and the worker is told to stop it; if the
        server itself ended it (`abort`), the caller still answers with the prediction.
        """
        pred, facts = await self._admit(request, stream=False)
        if isinstance(pred, bytes):
            return pred
        if facts is None:
            return (await self.wait(pred)).encode()
        pred.task = asyncio.current_task()
        try:
            await self._run(pred, facts)
        except asyncio.CancelledError:
            if pred.interrupt is not None and pred.done.is_set():
                task = asyncio.current_task()
                if task is not None and hasattr(task, "uncancel"):
                    task.uncancel()
                return pred.encode()
            if pred.started_at is not None:
                self._background(self._cancel_quietly(pred.id))
            raise
        return pred.encode()

    async def submit(
        self, request: PredictionRequest, *, stream: bool = False
    ) -> tuple[Prediction | bytes, bool]:
        """Admit a prediction and start it in its own task; returns (prediction, existed)."""
        pred, facts = await self._admit(request, stream=stream)
        if isinstance(pred, bytes) or facts is None:
            return pred, True
        pred.task = asyncio.get_running_loop().create_task(self._run(pred, facts))
        return pred, False

    async def wait(self, pred: Prediction) -> Prediction:
        """Wait for completion. The prediction runs in its own task, so a waiter that is
        cancelled (its client went away) leaves the prediction running."""
        if not pred.done.is_set():
            await pred.done.wait()
        return pred

    def _existing(self, prediction_id: str | None) -> Prediction | bytes | None:
        if prediction_id is None:
            return None
        return self._live.get(prediction_id) or self.finished.get(prediction_id)

    async def _admit(
        self, request: PredictionRequest, *, stream: bool
    ) -> tuple[Prediction | bytes, SchemaFacts | None]:
        """Validate and take a slot; facts is None when the id already names a prediction.

        A request that arrives while the worker sets up or restarts waits here, at most
        `start_wait` seconds, then gets 503: it never becomes a prediction that fails for it.
        """
        existing = self._existing(request.id)
        if existing is not None:
            return existing, None
        if not self.accepting:
            raise WorkerUnavailable(f"the server is shutting down; it takes no new {self.mode.endpoint}")
        try:
            worker = await self.supervisor.serving(self.limits.start_wait)
        except NotServing as e:
            raise WorkerUnavailable(
                f"the model cannot run {self.mode.endpoint} ({e.health.value}): {e.message}"
            ) from e
        facts = self._schema_facts(worker)
        inputs, errors = validate_input(facts.openapi, request.input, component=facts.component)
        if errors:
            self._rejected_invalid.inc()
            raise RequestInvalid(errors)
        check_file_urls(inputs, facts, self.outbound.aims_at_self)
        if request.webhook is not None and self.outbound.aims_at_self(request.webhook):
            self._rejected_invalid.inc()
            raise RequestInvalid(
                [
                    {
                        "loc": ["body", "webhook"],
                        "msg": "a webhook may not point at this server",
                        "type": "value_error",
                    }
                ]
            )
        # From here to the caller's start of `_run` there is no await: admission is atomic.
        existing = self._existing(request.id)
        if existing is not None:
            return existing, None
        if self.in_use >= self.supervisor.limit:
            self._rejected_busy.inc()
            raise self._slots_busy()
        self.in_use += 1
        self._in_flight.inc()
        pred = Prediction(
            id=request.id or new_id(),
            input=inputs,
            echo_input=facts.echo(request.input),
            created_at=now_iso(),
            context=request.context,
        )
        if request.webhook:
            pred.webhook = self.webhooks.channel(request.webhook, request.webhook_events_filter, pred.encode)
        if stream:
            pred.stream = EventStream(self.limits.stream_buffer)
        self._live[pred.id] = pred
        return pred, facts

    def _schema_facts(self, worker: WorkerClient) -> SchemaFacts:
        schema = worker.schema or {}
        if self._facts is None or self._facts.openapi is not schema:
            self._facts = SchemaFacts(schema, self.mode)
            self.metrics.slots.labels(self.kind).set(self.supervisor.limit)
        return self._facts

    # -- running ---------------------------------------------------------------------------------

    async def _run(self, pred: Prediction, facts: SchemaFacts) -> None:
        tmp = Path(tempfile.mkdtemp(prefix="cogkit-in-")) if facts.has_files(pred.input) else None
        started = 0.0
        try:
            prepared = await self._prepare(pred, facts, tmp)
            if prepared is None or pred.cancel_requested:
                pred.status, pred.error = "canceled", pred.interrupt
                return
            worker, inputs = prepared
            pred.status = "processing"
            pred.started_at = now_iso()
            started = time.perf_counter()
            if pred.webhook is not None:
                pred.webhook.start()
            await self._consume(pred, worker, inputs)
        except (RequestInvalid, WorkerUnavailable) as e:
            pred.status, pred.error = "failed", first_message(e)
        except asyncio.CancelledError:
            pred.status, pred.error = "canceled", pred.interrupt or "the server is shutting down"
            raise
        except Exception as e:  # a bug or a broken pipe must fail this prediction, not hang it
            log.exception("%s %s failed inside the server", self.kind, pred.id)
            pred.status, pred.error = "failed", f"{type(e).__name__}: {e}"
        finally:
            self._finish(pred, tmp, started)

    async def _prepare(
        self, pred: Prediction, facts: SchemaFacts, tmp: Path | None
    ) -> tuple[WorkerClient, dict[str, Any]] | None:
        """The worker and the inputs with local file paths; None if canceled meanwhile.

        Downloads and waiting for a (re)starting worker run in tasks that `cancel` can end. The
        common case (no files, the worker ready) needs neither and costs nothing. The worker is
        taken with `serving_now()` in the same step as the caller sends it the prediction, so
        it cannot have begun a restart in between.
        """
        inputs = pred.input
        worker = self.supervisor.serving_now()
        if tmp is None and worker is not None:
            return worker, inputs
        if tmp is not None:
            fetched = await self._interruptible(pred, self._download(inputs, facts, tmp))
            if fetched is None:
                return None
            inputs = fetched
        deadline = time.monotonic() + self.limits.start_wait
        while (worker := self.supervisor.serving_now()) is None:
            wait = max(0.0, deadline - time.monotonic())
            if await self._interruptible(pred, self._serving(wait)) is None:
                return None
        return worker, inputs

    async def _interruptible(self, pred: Prediction, step: Any) -> Any:
        """Run `step` in a task that `cancel` ends; its result, or None if it was canceled."""
        job = asyncio.get_running_loop().create_task(step)
        pred.preparing = job
        try:
            await asyncio.wait([job])
        except asyncio.CancelledError:
            job.cancel()
            raise
        finally:
            pred.preparing = None
        return None if job.cancelled() else job.result()

    async def _download(self, inputs: dict[str, Any], facts: SchemaFacts, tmp: Path) -> dict[str, Any]:
        limits = self.limits
        fetch = download_inputs(
            inputs,
            facts.files,
            client=self.outbound.downloads,
            directory=tmp,
            max_bytes=limits.max_download_bytes,
        )
        try:
            return await asyncio.wait_for(fetch, limits.download_timeout)
        except asyncio.TimeoutError:
            message = f"the file downloads did not finish within {limits.download_timeout:g}s (COGKIT_DOWNLOAD_TIMEOUT)"
            raise RequestInvalid([{"loc": ["body", "input"], "msg": message, "type": "timeout"}]) from None

    async def _serving(self, wait: float) -> WorkerClient:
        try:
            return await self.supervisor.serving(wait)
        except NotServing as e:
            raise WorkerUnavailable(f"the model cannot run it ({e.health.value}): {e.message}") from e

    async def _consume(self, pred: Prediction, worker: WorkerClient, inputs: dict[str, Any]) -> None:
        """Record the worker's events. A failure of ours (an output file refused, too much
        output) cancels the prediction in the worker, and the events are still read to its end,
        so the slot is not freed while the worker is still busy with it."""
        cancel_sent = False
        failure: str | None = None
        max_logs = self.limits.max_log_bytes
        async for event in worker.predict(pred.id, inputs, context=pred.context):
            if (pred.cancel_requested or failure is not None) and not cancel_sent:
                cancel_sent = True
                await worker.cancel(pred.id)
            if isinstance(event, ChunksEvent):
                if failure is None:
                    failure = await self._record_output(pred, event.values, chunks=True)
            elif isinstance(event, OutputEvent):
                if failure is None:
                    failure = await self._record_output(pred, [event.value], chunks=False)
            elif isinstance(event, LogEvent):
                pred.add_log(event.text, max_logs)
                if pred.webhook is not None:
                    pred.webhook.update("logs")
                if pred.stream is not None:
                    pred.stream.push("log", [event.text])
            elif isinstance(event, DoneEvent):
                pred.status = event.status
                pred.error = event.error
                if event.metrics:
                    pred.metrics.update(event.metrics)
        if failure is not None:
            pred.status, pred.error = "failed", failure
        elif pred.interrupt is not None and pred.status != "succeeded":
            pred.error = pred.interrupt
        if not pred.finished:
            pred.status = "failed"
            pred.error = pred.error or "the worker ended the prediction without a result"
        if pred.status == "succeeded" and pred.output is None and worker.output_is_iterator:
            pred.output = []  # an iterator that yielded nothing, as Cog reports it

    async def _record_output(self, pred: Prediction, values: list[Any], *, chunks: bool) -> str | None:
        """Add output to the prediction, its webhook and its stream: a batch of an iterator's
        items (`chunks`), or the returned value alone. Returns why the prediction fails instead."""
        try:
            if not all(isinstance(value, str) for value in values):  # tokens need no encoding
                values = [await self._encoded(pred, value) for value in values]
            pred.output_bytes += sum(map(json_size, values))
        except (TypeError, ValueError, RecursionError) as e:
            return f"the output cannot be encoded as JSON: {type(e).__name__}"
        except Exception as e:  # refused, too large, upload failed: this prediction fails
            return first_message(e)
        if pred.output_bytes > self.limits.max_output_bytes:
            pred.output = None
            return f"the output passed {self.limits.max_output_bytes} bytes (COGKIT_MAX_OUTPUT_BYTES)"
        if not chunks:
            pred.output = values[0]
        elif isinstance(pred.output, list):
            pred.output.extend(values)
        else:
            pred.output = list(values)
        if pred.webhook is not None:
            pred.webhook.update("output")
        stream = pred.stream
        if stream is not None:
            stream.push("output", values)
            if not stream.sent and len(stream.pending) == 1:
                await asyncio.sleep(0)  # the first batch leaves before the next event is handled
        return None

    async def _encoded(self, pred: Prediction, value: Any) -> Any:
        """An output value as the response holds it: files become data URIs or upload URLs."""
        if isinstance(value, str):
            return value
        encoded = await self.outputs.encode(value)
        pred.verbatim = pred.verbatim or encoded is not value  # it may hold data URIs of ours
        return encoded

    def _finish(self, pred: Prediction, tmp: Path | None, started: float) -> None:
        body = b""
        try:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
            pred.completed_at = now_iso()
            if not pred.finished:
                pred.status, pred.error = "failed", pred.error or "the server could not finish it"
            if started:
                elapsed = time.perf_counter() - started
                pred.metrics.setdefault("predict_time", elapsed)
                self._duration.observe(elapsed)
            body = pred.seal()
        except Exception:
            log.exception("finishing %s %s", self.kind, pred.id)
        finally:
            # Release the slot first: the response is sent only after `done` is set.
            self.in_use -= 1
            self._in_flight.dec()
            self._live.pop(pred.id, None)
            if body and not self.finished.add(pred.id, body):
                log.warning(
                    "%s %s is not kept for GET: its %d bytes pass COGKIT_FINISHED_CACHE_BYTES",
                    self.kind,
                    pred.id,
                    len(body),
                )
            pred.done.set()
            outcome = self._outcomes.get(pred.status)
            if outcome is None:
                outcome = self._outcomes[pred.status] = self.metrics.predictions.labels(
                    self.kind, pred.status
                )
            outcome.inc()
            if pred.webhook is not None:
                pred.webhook.complete(body)
            if pred.stream is not None:
                pred.stream.complete()

    # -- cancel, restart and shutdown ------------------------------------------------------------

    async def cancel(self, prediction_id: str) -> None:
        """Cancel a prediction in any state before it finishes; 404 if none is running by that id."""
        pred = self._live.get(prediction_id)
        if pred is None:
            raise NotFound(f"no running {self.kind} with id {prediction_id!r}")
        pred.cancel_requested = True
        if pred.preparing is not None:
            pred.preparing.cancel()
        elif pred.status == "processing":
            await self.supervisor.cancel(prediction_id)

    def interrupt_running(self, reason: str) -> None:
        """Before the worker is restarted: what it is running ends `failed` with `reason`."""
        for pred in self._live.values():
            if pred.status == "processing":
                pred.interrupt = reason

    async def drain(self, grace: float, reason: str) -> None:
        """Stop admitting; let what runs finish within `grace`, cancel the rest, and end what
        the worker still holds after CANCEL_WAIT, so every prediction gets its answer."""
        self.accepting = False
        await self._until_idle(grace)
        if not self._live:
            return
        for pred in list(self._live.values()):
            pred.interrupt = reason
            try:
                await asyncio.wait_for(self.cancel(pred.id), 1.0)
            except Exception:
                log.warning("could not cancel %s %s at shutdown", self.kind, pred.id)
        await self._until_idle(CANCEL_WAIT)
        for pred in list(self._live.values()):
            if pred.task is not None and not pred.task.done():
                pred.task.cancel()
        await self._until_idle(1.0)

    async def _until_idle(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while self._live and time.monotonic() < deadline:
            await asyncio.sleep(DRAIN_POLL)  # shutdown only: no per-request cost for an event

    def _background(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._cancels.add(task)  # a reference, so the task is not collected mid-way
        task.add_done_callback(self._cancels.discard)

    async def _cancel_quietly(self, prediction_id: str) -> None:
        try:
            await self.supervisor.cancel(prediction_id)
        except Exception:
            log.warning("could not cancel %s %s in the worker", self.kind, prediction_id)
