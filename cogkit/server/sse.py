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
        self.sent = False  # whether any event has gone out yet
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


def _events(items: deque[tuple[str, Any]]) -> bytes:
    """Every queued event, taken off the queue, as the bytes of one write."""
    parts = []
    while items:
        kind, value = items.popleft()
        try:
            data = value_json(value)
        except (TypeError, ValueError, RecursionError):
            continue  # the prediction fails for it; `completed` says so
        parts.append(f"event: {kind}\ndata: {data}\n\n")
    return "".join(parts).encode()


async def sse_events(
    pred: Prediction, stream: EventStream, keepalive: float = KEEPALIVE
) -> AsyncIterator[bytes]:
    """Send the queued events until the prediction completes; the last event is the whole response.

    Each wake-up sends everything queued by then in one write (a burst of tokens is a few
    writes, not one per token), and the `completed` event rides with the last of them.
    """
    items = stream.pending
    while True:
        stream.wake.clear()
        chunk = _events(items)
        if stream.completed:
            yield chunk + b"event: completed\ndata: " + pred.encode() + b"\n\n"
            return
        if chunk:
            stream.sent = True
            yield chunk
            continue  # more may have arrived while it was being sent
        try:
            await asyncio.wait_for(stream.wake.wait(), keepalive)
        except asyncio.TimeoutError:
            yield b": keep-alive\n\n"
