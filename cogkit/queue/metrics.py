"""Queue metrics, registered on the server's own registry so they appear in its /metrics.

* `cogkit_queue_lag{stream,group}`: entries not yet delivered to the group (Redis ≥ 7 `XINFO GROUPS`)
* `cogkit_queue_pending{stream,group}`: delivered to some replica and not yet acknowledged
* `cogkit_queue_held{stream,group}`: messages this replica holds now
* `cogkit_queue_messages_total{stream,group,outcome}`: completed, duplicate, dead_lettered, handed_back
* `cogkit_queue_connected{stream,group}`: 1 while this replica can reach Redis

Lag and pending are read from Redis every heartbeat, so every replica reports the group's
numbers; a dashboard should take the max over replicas, not the sum.
"""

from __future__ import annotations

import enum
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from cogkit.queue.address import QueueAddress


class Outcome(enum.Enum):
    """What became of a message this replica took."""

    COMPLETED = "completed"  # ran here; this replica stored its result
    DUPLICATE = "duplicate"  # its id already had a result: acknowledged without storing
    DEAD_LETTERED = "dead_lettered"  # malformed, or delivered too many times: moved to NAME:dead
    HANDED_BACK = "handed_back"  # not started here (drain, model unavailable): left for another replica


class QueueMetrics:
    def __init__(self, registry: CollectorRegistry, address: QueueAddress) -> None:
        labels = ("stream", "group")
        values = (address.stream, address.group)
        self.lag = Gauge(
            "cogkit_queue_lag", "Stream entries not yet delivered to the group", labels, registry=registry
        ).labels(*values)
        self.pending = Gauge(
            "cogkit_queue_pending", "Entries delivered but not yet acknowledged", labels, registry=registry
        ).labels(*values)
        self.held = Gauge(
            "cogkit_queue_held", "Messages this replica holds", labels, registry=registry
        ).labels(*values)
        self.connected = Gauge(
            "cogkit_queue_connected", "1 while Redis answers this replica", labels, registry=registry
        ).labels(*values)
        messages = Counter(
            "cogkit_queue_messages", "Messages taken, by outcome", (*labels, "outcome"), registry=registry
        )
        self._outcomes: dict[Outcome, Any] = {o: messages.labels(*values, o.value) for o in Outcome}

    def count(self, outcome: Outcome) -> None:
        self._outcomes[outcome].inc()
