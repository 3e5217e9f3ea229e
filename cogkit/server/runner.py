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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from cogkit.sdk.schema import validate_input
from cogkit.server.files import download_inputs, encode_output, file_fields
from cogkit.server.http_errors import (
    InputInvalid,
    NotFound,
    RequestInvalid,
    SlotsBusy,
    UploadFailed,
    WorkerUnavailable,
)
from cogkit.server.metrics import ServerMetrics
from cogkit.server.prediction import Prediction, PredictionRequest, new_id, redact
from cogkit.server.supervisor import WorkerSupervisor, now_iso
from cogkit.server.webhooks import WebhookSender
from cogkit.worker.client import WorkerClient
from cogkit.worker.events import DoneEvent, LogEvent, OutputEvent

log = logging.getLogger("cogkit.server")

# Finished predictions stay readable (GET, idempotent PUT) within both bounds, oldest out first.
KEEP_FINISHED = 1000
KEEP_BYTES = 256 << 20


class _SchemaFacts:
    """What the runner needs from the worker's OpenAPI document, computed once per worker."""

    def __init__(self, openapi: Mapping[str, Any], component: str) -> None:
        self.openapi = openapi
        schemas = openapi.get("components", {}).get("schemas", {})
        self.component = component if component in schemas else "Input"
        self.files = file_fields(openapi, self.component)
        props = schemas.get(self.component, {}).get("properties", {})
        self.secrets = frozenset(n for n, p in props.items() if p.get("format") == "password")


class PredictionRunner:
    """Admits, runs and remembers the predictions (or trainings) of one worker supervisor."""

    def __init__(
        self,
        supervisor: WorkerSupervisor,
        *,
        kind: str,
        http: httpx.AsyncClient,
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
        self._facts: _SchemaFacts | None = None
        self._in_flight = metrics.in_flight.labels(kind)

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

    def _schema_facts(self, worker: WorkerClient) -> _SchemaFacts:
        schema = worker.schema or {}
        if self._facts is None or self._facts.openapi is not schema:
            self._facts = _SchemaFacts(schema, self.component)
            self.metrics.slots.labels(self.kind).set(self.supervisor.limit)
        return self._facts

    async def submit(self, request: PredictionRequest, *, stream: bool = False) -> tuple[Prediction, bool]:
        """Admit a prediction and start it; returns (prediction, existed) for idempotent ids."""
        existing = self.find(request.id)
        if existing is not None:
            return existing, True
        worker = await self._worker()
        facts = self._schema_facts(worker)
        inputs, errors = validate_input(facts.openapi, request.input, component=facts.component)
        if errors:
            self.metrics.rejected.labels(self.kind, "invalid").inc()
            raise RequestInvalid(errors)
        self._check_file_urls(inputs, facts)
        # From here to the task's creation there is no await: admission is atomic.
        existing = self.find(request.id)
        if existing is not None:
            return existing, True
        if self.in_use >= self.supervisor.limit:
            self.metrics.rejected.labels(self.kind, "busy").inc()
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
        pred.task = asyncio.get_running_loop().create_task(self._run(pred, facts))
        return pred, False

    def _check_file_urls(self, inputs: dict[str, Any], facts: _SchemaFacts) -> None:
        """Refuse other schemes (file://, ftp://) up front, with one 422 entry per bad value."""
        detail: list[dict[str, Any]] = []
        for name, is_list in facts.files.items():
            value = inputs.get(name)
            if value is None:
                continue
            for url in value if is_list else (value,):
                if not isinstance(url, str) or not url.startswith(("http://", "https://", "data:")):
                    detail += InputInvalid(
                        name, f"{str(url)[:80]!r} is not an http(s) URL or a data URI"
                    ).detail
        if detail:
            raise RequestInvalid(detail)

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

    async def _run(self, pred: Prediction, facts: _SchemaFacts) -> None:
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
            pred.status, pred.error = "failed", _first_message(e)
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
            self.metrics.prediction_time.labels(self.kind).observe(elapsed)
        # Release the slot first: the response is sent only after `done` is set.
        self.in_use -= 1
        self._in_flight.dec()
        self._live.pop(pred.id, None)
        self._remember(pred)
        pred.done.set()
        self.metrics.predictions.labels(self.kind, pred.status).inc()
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


def _first_message(error: Exception) -> str:
    detail = getattr(error, "detail", None)
    if detail:
        first = detail[0]
        return f"{'.'.join(str(p) for p in first['loc'][1:])}: {first['msg']}"
    return str(error)
