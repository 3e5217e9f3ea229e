"""Server-sent events for one prediction: `output` per chunk, `log` per line, then `completed`.

Each event's data is one line of JSON, so multi-line log text and strings with newlines stay
intact. A client that disconnects stops its stream; the prediction itself runs on.

Memory stays bounded whatever the client does: the queue holds references to values the
prediction keeps anyway, at most `capacity` of them. A client that falls that far behind
gets no more `output`/`log` events, only `completed`, which carries the whole prediction.
When nothing happens for `KEEPALIVE` seconds a comment line goes out, so proxies do not cut
a long silent stream; the response headers tell them not to buffer it either.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from cogkit.server.encoding import dumps

if TYPE_CHECKING:
    from cogkit.server.prediction import Prediction

KEEPALIVE = 15.0
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class EventStream:
    """The events of one prediction waiting to be sent to its one SSE client."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.lagged = False
        self.completed = False
        self.pending: deque[tuple[str, Any]] = deque()
        self.wake = asyncio.Event()

    def push(self, kind: str, value: Any) -> None:
        if self.lagged or self.completed:
            return
        if len(self.pending) >= self.capacity:
            self.lagged = True  # from here on, the client gets `completed` only
            return
        self.pending.append((kind, value))
        self.wake.set()

    def complete(self) -> None:
        self.completed = True
        self.wake.set()


def value_json(value: Any) -> str:
    """One output or log value as a line of JSON (a file's data URI included)."""
    if isinstance(value, str):
        return json.dumps(value)
    return dumps(value, verbatim=True).decode()


def _event(name: str, data: bytes | str) -> bytes:
    text = data.decode() if isinstance(data, bytes) else data
    return f"event: {name}\ndata: {text}\n\n".encode()


async def sse_events(
    pred: Prediction, stream: EventStream, keepalive: float = KEEPALIVE
) -> AsyncIterator[bytes]:
    """Send the queued events until the prediction completes; the last event is the whole response."""
    items = stream.pending
    while True:
        stream.wake.clear()
        while items:
            kind, value = items.popleft()
            try:
                data = value_json(value)
            except (TypeError, ValueError, RecursionError):
                continue  # the prediction fails for it; `completed` says so
            yield _event(kind, data)
        if stream.completed and not items:
            yield _event("completed", pred.encode())
            return
        if items:
            continue  # more arrived while the last event was being sent
        try:
            await asyncio.wait_for(stream.wake.wait(), keepalive)
        except asyncio.TimeoutError:
            yield b": keep-alive\n\n"
