"""Server-sent events for one prediction: `output` per chunk, `log` per line, then `completed`.

Each event's data is one line of JSON, so multi-line log text and strings with newlines stay
intact. A client that disconnects stops its stream; the prediction itself runs on.

Events arrive in batches, as the worker sent them (all the tokens of a burst that were queued
together), and each batch is one entry in the queue and one write: per token, only its JSON
and its event lines are made, in one `join`.

Memory stays bounded whatever the client does: the queue holds references to values the
prediction keeps anyway, at most `capacity` of them. A client that falls that far behind
gets no more `output`/`log` events, only `completed`, which carries the whole prediction.
When nothing happens for `KEEPALIVE` seconds a comment line goes out, so proxies do not cut
a long silent stream; the response headers tell them not to buffer it either.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from json.encoder import encode_basestring_ascii
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
        self.pending: deque[tuple[str, list[Any]]] = deque()  # (kind, values): one batch each
        self.queued = 0  # values in `pending`
        self.wake = asyncio.Event()

    def push(self, kind: str, values: list[Any]) -> None:
        """Queue one event of `kind` per value, in order."""
        if self.lagged or self.completed or not values:
            return
        if self.queued + len(values) > self.capacity:
            self.lagged = True  # from here on, the client gets `completed` only
            return
        self.pending.append((kind, values))
        self.queued += len(values)
        self.wake.set()

    def complete(self) -> None:
        self.completed = True
        self.wake.set()

    def take(self) -> bytes:
        """Every queued event, taken off the queue, as the bytes of one write."""
        parts = []
        pending = self.pending
        while pending:
            kind, values = pending.popleft()
            head = f"event: {kind}\ndata: "
            try:
                parts.append(head + f"\n\n{head}".join(map(value_json, values)) + "\n\n")
            except (TypeError, ValueError, RecursionError):  # one by one, leaving out what fails
                parts.extend(f"{head}{line}\n\n" for line in _encodable(values))
        self.queued = 0
        return "".join(parts).encode()


def value_json(value: Any) -> str:
    """One output or log value as a line of JSON (a file's data URI included)."""
    if type(value) is str:  # what json.dumps does for a str, without its per-call checks
        return encode_basestring_ascii(value)
    return dumps(value, verbatim=True).decode()


def _encodable(values: list[Any]) -> list[str]:
    """The JSON of each value that has one; the prediction fails for the others, and
    `completed` says so."""
    lines = []
    for value in values:
        try:
            lines.append(value_json(value))
        except (TypeError, ValueError, RecursionError):
            continue
    return lines


async def sse_events(
    pred: Prediction, stream: EventStream, keepalive: float = KEEPALIVE
) -> AsyncIterator[bytes]:
    """Send the queued events until the prediction completes; the last event is the whole response.

    Each wake-up sends everything queued by then in one write (a burst of tokens is a few
    writes, not one per token), and the `completed` event rides with the last of them.
    """
    while True:
        stream.wake.clear()
        chunk = stream.take()
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
