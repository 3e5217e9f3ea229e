"""Queue mode: predictions from a Redis Streams consumer group, results back in Redis.

The server side (`consumer.py`) runs inside `python -m cogkit.server --queue URL`; the producer
side (`Producer`, `submit`, `result`, `cancel`) is for programs that queue work. The protocol is
in docs/scale-out.md. Nothing is imported eagerly: a server without a queue never loads redis.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cogkit.queue.address import QueueAddress, parse_queue_url
    from cogkit.queue.producer import Producer, QueueError, cancel, result, submit

__all__ = ["Producer", "QueueAddress", "QueueError", "cancel", "parse_queue_url", "result", "submit"]

_HOMES = {
    "Producer": "producer",
    "QueueError": "producer",
    "cancel": "producer",
    "result": "producer",
    "submit": "producer",
    "QueueAddress": "address",
    "parse_queue_url": "address",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f"cogkit.queue.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'cogkit.queue' has no attribute {name!r}")
