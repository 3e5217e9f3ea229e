"""Server-sent events for one prediction: `output` per chunk, `log` per line, then `completed`.

Each event's data is one line of JSON, so multi-line log text and strings with newlines stay
intact. A client that disconnects stops its stream; the prediction itself runs on.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from cogkit.server.prediction import Prediction


def _event(name: str, data: bytes | str) -> bytes:
    text = data.decode() if isinstance(data, bytes) else data
    return f"event: {name}\ndata: {text}\n\n".encode()


async def sse_events(pred: Prediction) -> AsyncIterator[bytes]:
    """Drain the prediction's event queue until it completes; the last event is the whole response."""
    assert pred.stream is not None
    while True:
        kind, value = await pred.stream.get()
        if kind == "completed":
            yield _event("completed", pred.encode())
            return
        yield _event(kind, json.dumps(value))
