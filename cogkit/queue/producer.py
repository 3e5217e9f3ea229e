"""Put predictions on a queue and read their results: the Python helper behind `cogkit queue`.

    from cogkit.queue import Producer

    with Producer("redis://localhost:6379/0?stream=predictions") as queue:
        prediction_id = queue.submit({"text": "hello"}, webhook="https://example.com/hook")
        prediction = queue.result(prediction_id, wait=60)   # None if not finished within 60 s

Any Redis client in any language can do the same (see docs/scale-out.md); this one also
creates the consumer group, so that messages sent before the first replica starts are kept
for it and KEDA can measure the lag from the start.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from cogkit.errors import CogkitError, UsageError
from cogkit.queue.address import FIELD, QueueAddress, parse_queue_url
from cogkit.server.webhooks import EVENTS

if TYPE_CHECKING:
    from redis import Redis

CANCEL_TTL = 86400  # seconds a cancel request waits for its prediction to be taken
RECHECK = 1.0  # while waiting, look at the result key this often, in case a notification was missed


class QueueError(CogkitError):
    """Redis could not be reached, refused us, or holds something that is not a cogkit queue."""


@contextmanager
def _translated(address: QueueAddress) -> Iterator[None]:
    """Redis's exceptions become one QueueError line naming the queue (never its password)."""
    from redis.exceptions import AuthenticationError, ConnectionError, RedisError, TimeoutError

    try:
        yield
    except AuthenticationError as e:
        raise QueueError(
            f"Redis refused the credentials for {address.display}: {e}",
            hint="check the user and password in the URL: redis://USER:PASSWORD@HOST:PORT/DB?stream=NAME",
        ) from e
    except (ConnectionError, TimeoutError) as e:
        raise QueueError(
            f"cannot reach Redis at {address.display}: {e}", hint="is redis-server running there?"
        ) from e
    except RedisError as e:
        raise QueueError(f"Redis at {address.display} refused a command: {e}") from e


def check_id(prediction_id: str) -> str:
    if not prediction_id or len(prediction_id) > 256 or "/" in prediction_id:
        raise UsageError(
            f"prediction id {prediction_id[:80]!r} must be 1-256 characters without '/'",
            hint="leave the id out to get a random one",
        )
    return prediction_id


def request_body(
    inputs: Mapping[str, Any],
    *,
    prediction_id: str,
    webhook: str | None = None,
    webhook_events_filter: Iterable[str] | None = None,
) -> str:
    """The message: Cog's prediction request body, checked the way the server will check it."""
    body: dict[str, Any] = {"id": check_id(prediction_id), "input": dict(inputs)}
    if webhook is not None:
        if not webhook.startswith(("http://", "https://")):
            raise UsageError(f"webhook {webhook!r} must be an http(s) URL")
        body["webhook"] = webhook
    if webhook_events_filter is not None:
        events = list(webhook_events_filter)
        unknown = sorted(set(events) - EVENTS)
        if unknown:
            raise UsageError(f"unknown webhook events {unknown}", hint=f"choose from {sorted(EVENTS)}")
        body["webhook_events_filter"] = events
    return json.dumps(body)


class Producer:
    """A connection to one queue. Use it as a context manager, or call `close()`."""

    def __init__(self, url: str | QueueAddress, *, timeout: float = 10.0) -> None:
        from redis import Redis

        self.address = url if isinstance(url, QueueAddress) else parse_queue_url(url, source="queue URL")
        self.client: Redis = Redis.from_url(
            self.address.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout, protocol=2
        )
        self._group_ready = False

    def __enter__(self) -> Producer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()

    def submit(
        self,
        inputs: Mapping[str, Any],
        *,
        prediction_id: str | None = None,
        webhook: str | None = None,
        webhook_events_filter: Iterable[str] | None = None,
    ) -> str:
        """Queue one prediction and return its id (a new random one unless given).

        An id that already has a stored result is not run again: its result stands.
        """
        pid = prediction_id or uuid.uuid4().hex
        body = request_body(
            inputs, prediction_id=pid, webhook=webhook, webhook_events_filter=webhook_events_filter
        )
        with _translated(self.address):
            self._ensure_group()
            self.client.xadd(self.address.stream, {FIELD: body})
        return pid

    def _ensure_group(self) -> None:
        from redis.exceptions import ResponseError

        if self._group_ready:
            return
        try:
            self.client.xgroup_create(self.address.stream, self.address.group, id="0", mkstream=True)
        except ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise
        self._group_ready = True

    def result(self, prediction_id: str, *, wait: float = 0.0) -> dict[str, Any] | None:
        """The final prediction, waiting up to `wait` seconds for it; None if it has not finished."""
        with _translated(self.address):
            found = self._stored(prediction_id)
            if found is not None or wait <= 0:
                return found
            deadline = time.monotonic() + wait
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.address.done_channel)
                found = self._stored(prediction_id)  # it may have finished before we subscribed
                while found is None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return None
                    message = pubsub.get_message(timeout=min(left, RECHECK))
                    if message is None or message.get("data") == prediction_id.encode():
                        found = self._stored(prediction_id)
                return found
            finally:
                pubsub.close()

    def status(self, prediction_id: str) -> dict[str, Any]:
        """The final prediction if there is one; else `starting` (queued) or `processing` (running).

        A queue cannot tell an id it never saw (or whose result expired) from a queued one.
        """
        with _translated(self.address):
            found = self._stored(prediction_id)
            if found is not None:
                return found
            consumer = self.client.hget(self.address.running, prediction_id)
        return {"id": prediction_id, "status": "processing" if consumer is not None else "starting"}

    def cancel(self, prediction_id: str) -> None:
        """Cancel a queued prediction before it runs, or a running one (no-op once it finished)."""
        with _translated(self.address):
            pipe = self.client.pipeline(transaction=True)
            pipe.set(self.address.cancel_key(prediction_id), "1", ex=CANCEL_TTL)
            pipe.publish(self.address.cancel_channel, prediction_id)
            pipe.execute()

    def schema(self) -> dict[str, Any] | None:
        """The model's OpenAPI document, as the last replica to start published it (None before)."""
        with _translated(self.address):
            raw = self.client.get(self.address.schema_key)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise QueueError(f"{self.address.schema_key} does not hold a JSON schema") from None

    def _stored(self, prediction_id: str) -> dict[str, Any] | None:
        raw = self.client.get(self.address.result_key(prediction_id))
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise QueueError(f"{self.address.result_key(prediction_id)} does not hold a prediction") from None


def submit(url: str, inputs: Mapping[str, Any], **options: Any) -> str:
    """`Producer(url).submit(inputs, …)` for one-off use; returns the prediction id."""
    with Producer(url) as producer:
        return producer.submit(inputs, **options)


def result(url: str, prediction_id: str, *, wait: float = 0.0) -> dict[str, Any] | None:
    """`Producer(url).result(prediction_id, wait=…)` for one-off use."""
    with Producer(url) as producer:
        return producer.result(prediction_id, wait=wait)


def cancel(url: str, prediction_id: str) -> None:
    """`Producer(url).cancel(prediction_id)` for one-off use."""
    with Producer(url) as producer:
        producer.cancel(prediction_id)
