"""The prediction request and record: Cog's shapes, parsed and rendered without pydantic.

Parsing by hand keeps the hot path to one `json.loads` and a few type checks; the errors
still come back in FastAPI's `detail` shape so Cog clients read them the same way.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cogkit.server.encoding import JsonText, dumps, loads
from cogkit.server.http_errors import BadRequest, RequestInvalid
from cogkit.server.webhooks import EVENTS, WebhookChannel

if TYPE_CHECKING:
    from cogkit.server.sse import EventStream

# Deeper input is refused (422): no real model takes it, and past Python's recursion limit it
# would break validation, the worker's encoder or ours.
MAX_DEPTH = 64
TERMINAL = frozenset({"succeeded", "failed", "canceled"})

_second: list[Any] = [-1, ""]  # the last whole second seen by now_iso, and its formatted text


def now_iso() -> str:
    """The UTC time in ISO 8601, microseconds included; formats the date at most once a second."""
    now = time.time()
    whole = int(now)
    if whole != _second[0]:
        _second[:] = [whole, datetime.fromtimestamp(whole, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")]
    return f"{_second[1]}.{int((now - whole) * 1e6):06d}+00:00"


@dataclass(frozen=True, slots=True)
class PredictionRequest:
    """`{id?, input, context?, webhook?, webhook_events_filter?}`; unknown keys are ignored, as Cog does."""

    input: dict[str, Any]
    id: str | None = None
    context: dict[str, str] | None = None
    webhook: str | None = None
    webhook_events_filter: tuple[str, ...] | None = None

    @classmethod
    def parse(cls, body: bytes, *, path_id: str | None = None) -> PredictionRequest:
        """Decode and check a request body: BadRequest (400) when it is not JSON, else
        RequestInvalid (422) with one entry per bad field."""
        try:
            data = loads(body) if body else {}
        except (ValueError, UnicodeDecodeError) as e:
            raise BadRequest(f"the request body is not valid JSON: {e}") from None
        except RecursionError:
            raise BadRequest(f"the request body nests deeper than {MAX_DEPTH} levels") from None
        if not isinstance(data, dict):
            raise RequestInvalid([_err(["body"], "request body must be a JSON object", "dict_type")])
        errors: list[dict[str, Any]] = []
        inputs = data.get("input")
        if inputs is None:
            inputs = {}
        elif not isinstance(inputs, dict):
            errors.append(_err(["body", "input"], "input must be an object of named inputs", "dict_type"))
        elif _too_deep(inputs):
            errors.append(_err(["body", "input"], f"input nests deeper than {MAX_DEPTH} levels", "too_deep"))
        pid = data.get("id")
        if pid is not None and (not isinstance(pid, str) or not pid or len(pid) > 256 or "/" in pid):
            errors.append(_err(["body", "id"], "id must be a non-empty string without '/'", "string_type"))
        elif path_id is not None and pid is not None and pid != path_id:
            errors.append(
                _err(["body", "id"], "prediction ID must match the ID supplied in the URL", "value_error")
            )
        if path_id is not None:
            pid = path_id
        context = data.get("context")
        if context is not None and (
            not isinstance(context, dict) or not all(isinstance(v, str) for v in context.values())
        ):
            errors.append(_err(["body", "context"], "context must map names to strings", "dict_type"))
        webhook = data.get("webhook")
        if webhook is not None and (
            not isinstance(webhook, str) or not webhook.startswith(("http://", "https://"))
        ):
            errors.append(_err(["body", "webhook"], "webhook must be an http(s) URL", "url_parsing"))
        events = data.get("webhook_events_filter")
        if events is not None:
            if not isinstance(events, list) or not all(isinstance(e, str) and e in EVENTS for e in events):
                errors.append(
                    _err(
                        ["body", "webhook_events_filter"],
                        f"webhook_events_filter must be a list of {sorted(EVENTS)}",
                        "enum",
                    )
                )
            else:
                events = tuple(events)
        if errors:
            raise RequestInvalid(errors)
        return cls(input=inputs, id=pid, context=context, webhook=webhook, webhook_events_filter=events)


def _err(loc: list[Any], msg: str, kind: str) -> dict[str, Any]:
    return {"loc": loc, "msg": msg, "type": kind}


def _too_deep(inputs: dict[str, Any]) -> bool:
    """True when containers nest deeper than MAX_DEPTH; a flat input costs one pass over its values."""
    todo = [(v, 2) for v in inputs.values() if isinstance(v, dict | list)]
    while todo:
        value, depth = todo.pop()
        if depth > MAX_DEPTH:
            return True
        children = value.values() if isinstance(value, dict) else value
        todo.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def new_id() -> str:
    return uuid.uuid4().hex


def json_size(value: Any) -> int:
    """About how many bytes `value` takes in the response: cheap for the common str output."""
    if isinstance(value, str):
        return len(value) + 2
    if isinstance(value, JsonText):
        return len(value.data) + 2
    if value is None or isinstance(value, bool | int | float):
        return 8
    return len(dumps(value, verbatim=True))


@dataclass(slots=True)
class Prediction:
    """One prediction or training, from request to completion."""

    id: str
    input: dict[str, Any]
    echo_input: dict[str, Any]
    created_at: str
    context: dict[str, str] | None = None
    status: str = "starting"
    output: Any = None
    logs: deque[str] = field(default_factory=deque)
    error: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    webhook: WebhookChannel | None = None
    stream: EventStream | None = None
    cancel_requested: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    preparing: asyncio.Task[Any] | None = None  # downloads or waiting for the worker: cancel ends it
    interrupt: str | None = None  # why the server ended it (shutdown, restart), if it did
    output_bytes: int = 0
    log_bytes: int = 0
    logs_dropped: int = 0
    body: bytes | None = None
    verbatim: bool = False  # the output may hold data URIs cogkit encoded (encoding.JsonText)

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    def add_log(self, text: str, limit: int) -> None:
        """Keep the newest `limit` bytes (characters) of logs; count what was dropped."""
        if len(text) > limit:
            self.logs_dropped += len(text) - limit
            text = text[-limit:]
        self.logs.append(text)
        self.log_bytes += len(text)
        while self.log_bytes > limit:
            oldest = self.logs.popleft()
            self.log_bytes -= len(oldest)
            self.logs_dropped += len(oldest)

    def to_json(self) -> dict[str, Any]:
        logs = "".join(self.logs)
        if self.logs_dropped:
            logs = f"[cogkit: {self.logs_dropped} characters of earlier logs dropped]\n{logs}"
        return {
            "id": self.id,
            "input": self.echo_input,
            "output": self.output,
            "logs": logs,
            "error": self.error,
            "status": self.status,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "completed_at": self.completed_at,
            "metrics": self.metrics,
        }

    def encode(self) -> bytes:
        """The response body; once the prediction is complete it never changes, so it is kept."""
        if self.body is not None:
            return self.body
        data = dumps(self.to_json(), verbatim=self.verbatim)
        if self.completed_at is not None:
            self.body = data
        return data

    def seal(self) -> bytes:
        """Encode the finished record once and let go of everything the body now holds."""
        try:
            body = self.encode()
        except (TypeError, ValueError, RecursionError) as e:  # an output JSON cannot carry
            self.status, self.output = "failed", None
            self.error = f"the output cannot be encoded as JSON: {type(e).__name__}: {e}"
            body = self.encode()
        self.input, self.echo_input, self.output, self.logs = {}, {}, None, deque()
        return body


class FinishedCache:
    """Response bodies of finished predictions, oldest out first, within a count and a byte cap.

    Only the encoded body is kept, and its size is what is counted (the echoed input, output,
    logs and error are all in it), plus a fixed overhead per entry. A body larger than the
    whole cap is not kept at all: the cap holds always, for the newest record too.

    A body above `spill_bytes` (a data URI output, say) moves to a file in a private directory
    as soon as a thread has written it, and is read back when asked for: a burst of big
    predictions leaves the server's memory as it found it. It counts against the cap the same,
    which then bounds the disk it takes. File names are random, never a prediction id.
    """

    OVERHEAD = 256
    SPILL_BYTES = 1 << 20

    def __init__(self, max_bytes: int, max_count: int = 1000, spill_bytes: int = SPILL_BYTES) -> None:
        self.max_bytes = max_bytes
        self.max_count = max_count
        self.spill_bytes = spill_bytes
        self.bytes = 0
        self._entries: OrderedDict[str, tuple[bytes | Path, int]] = OrderedDict()  # id -> (body, size)
        self._folder: Path | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, prediction_id: object) -> bool:
        return prediction_id in self._entries

    @property
    def spilled(self) -> int:
        """How many bodies are on disk now."""
        return sum(isinstance(body, Path) for body, _ in self._entries.values())

    def get(self, prediction_id: str) -> bytes | None:
        """The body; a spilled one is read back here (for an idempotent PUT: use `read` elsewhere)."""
        entry = self._entries.get(prediction_id)
        if entry is None:
            return None
        return _read(entry[0]) if isinstance(entry[0], Path) else entry[0]

    async def read(self, prediction_id: str) -> bytes | None:
        """`get`, reading a spilled body on a thread."""
        entry = self._entries.get(prediction_id)
        if entry is None or not isinstance(entry[0], Path):
            return None if entry is None else entry[0]
        return await asyncio.to_thread(_read, entry[0])

    def add(self, prediction_id: str, body: bytes) -> bool:
        size = len(body) + len(prediction_id) + self.OVERHEAD
        if size > self.max_bytes:
            return False
        self._drop(prediction_id)
        self._entries[prediction_id] = (body, size)
        self.bytes += size
        while self.bytes > self.max_bytes or len(self._entries) > self.max_count:
            self._drop(next(iter(self._entries)))
        if len(body) > self.spill_bytes:
            self._spill(prediction_id, body)
        return True

    def close(self) -> None:
        """Forget everything and remove the spilled files (at shutdown)."""
        self._entries.clear()
        self.bytes = 0
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def _drop(self, prediction_id: str) -> None:
        entry = self._entries.pop(prediction_id, None)
        if entry is not None:
            self.bytes -= entry[1]
            if isinstance(entry[0], Path):
                entry[0].unlink(missing_ok=True)

    def _spill(self, prediction_id: str, body: bytes) -> None:
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="cogkit-finished-"))
        path = self._folder / uuid.uuid4().hex
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (a plain caller): write it here
            path.write_bytes(body)
            self._spilled(prediction_id, body, path, None)
            return
        written = loop.run_in_executor(None, path.write_bytes, body)
        written.add_done_callback(lambda done: self._spilled(prediction_id, body, path, done.exception()))

    def _spilled(self, prediction_id: str, body: bytes, path: Path, error: BaseException | None) -> None:
        """The file is written: it replaces the body, unless the entry went (or failed to write)."""
        entry = self._entries.get(prediction_id)
        if error is None and entry is not None and entry[0] is body:
            self._entries[prediction_id] = (path, entry[1])
        else:
            path.unlink(missing_ok=True)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:  # removed meanwhile (evicted, or the server is shutting down)
        return None
