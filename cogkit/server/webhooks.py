"""Webhook delivery for async predictions, bounded in time, attempts and connections.

Each prediction with a webhook gets one `WebhookChannel`, a single task that posts its events
in order: `start` at once; the first `output`/`logs` change at once, later ones coalesced to at
most one per throttle interval (every webhook carries the whole prediction, so only the newest
state matters); and `completed`, retried by `stamina` with jittered exponential backoff, or
after the receiver's `Retry-After`, on network errors, timeouts, 429 and 5xx, for at most
`attempts` tries within `deadline` seconds. A 4xx other than 429 is the receiver's final word,
and a host that does not resolve is not retried.

No receiver can hold up another's webhooks: every POST must finish within `attempt_timeout`
(connecting and waiting for a slot included), posts run on their own connection pool (not the
one downloads use), and at most `per_host` of them go to one host at a time (`in_flight` in
all), so a tarpit can only delay the predictions that chose it.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cogkit.server.redact import redact_text, redact_url

if TYPE_CHECKING:
    from cogkit.server.outbound import LazyClient

log = logging.getLogger("cogkit.server.webhooks")

EVENTS = frozenset({"start", "output", "logs", "completed"})


@dataclass(frozen=True)
class WebhookPolicy:
    throttle: float = 0.5
    attempts: int = 12
    deadline: float = 300.0
    attempt_timeout: float = 10.0
    per_host: int = 4
    in_flight: int = 128
    wait_initial: float = 0.1
    wait_max: float = 30.0


class RetryableAnswer(Exception):
    """The receiver answered 429 or 5xx; `retry_after` is its `Retry-After`, in seconds."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.retry_after = retry_after


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds from now: delta-seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _unresolvable(error: BaseException) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, socket.gaierror):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class WebhookSender:
    """Shared delivery state: the client, the auth token, the policy, connection slots, channels."""

    def __init__(
        self, client: LazyClient, *, token: str | None = None, policy: WebhookPolicy | None = None
    ) -> None:
        self.client = client
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.policy = policy or WebhookPolicy()
        self._hosts: dict[str, list[Any]] = {}  # host -> [semaphore, users]
        self._in_flight = asyncio.Semaphore(self.policy.in_flight)
        self._tasks: set[asyncio.Task[None]] = set()

    def channel(
        self, url: str, events: Iterable[str] | None, snapshot: Callable[[], bytes]
    ) -> WebhookChannel:
        """Open the channel for one prediction; `snapshot()` returns its current response body."""
        chosen = EVENTS if events is None else frozenset(events) & EVENTS
        return WebhookChannel(self, url, chosen, snapshot)

    def track(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, grace: float) -> None:
        """At shutdown: give pending deliveries `grace` seconds, then cancel them."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1.0)

    @contextlib.asynccontextmanager
    async def _slot(self, host: str) -> AsyncIterator[None]:
        entry = self._hosts.get(host)
        if entry is None:
            entry = self._hosts[host] = [asyncio.Semaphore(self.policy.per_host), 0]
        entry[1] += 1
        try:
            async with entry[0], self._in_flight:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._hosts[host]

    async def _exchange(self, url: str, body: bytes) -> tuple[int, str | None]:
        async with self._slot(urlsplit(url).netloc.lower()):
            response = await self.client.post(url, content=body, headers=self.headers)
            return response.status_code, response.headers.get("retry-after")

    async def post_once(self, url: str, body: bytes) -> int:
        """One POST within the attempt timeout; raises RetryableAnswer on 429 and 5xx."""
        status, retry_after = await asyncio.wait_for(self._exchange(url, body), self.policy.attempt_timeout)
        if status == 429 or status >= 500:
            raise RetryableAnswer(status, retry_after_seconds(retry_after))
        return status

    async def deliver(self, url: str, body: bytes) -> None:
        """POST until the receiver takes it, refuses it, or the attempts or the time run out."""
        import httpx
        import stamina
        import stamina.instrumentation

        stamina.instrumentation.set_on_retry_hooks(())  # we log ourselves, URLs redacted
        policy = self.policy
        give_up_at = time.monotonic() + policy.deadline
        safe_url = redact_url(url)

        def backoff(error: Exception) -> bool | float:
            if isinstance(error, httpx.TransportError) and _unresolvable(error):
                return False
            if not isinstance(error, RetryableAnswer | httpx.TransportError | asyncio.TimeoutError):
                return False
            log.warning("completed webhook to %s failed (%s); retrying", safe_url, _reason(error))
            if isinstance(error, RetryableAnswer) and error.retry_after is not None:
                return min(error.retry_after, max(0.0, give_up_at - time.monotonic()))
            return True

        try:
            async for attempt in stamina.retry_context(
                on=backoff,
                attempts=policy.attempts,
                timeout=policy.deadline,
                wait_initial=policy.wait_initial,
                wait_max=policy.wait_max,
            ):
                with attempt:
                    status = await self.post_once(url, body)
        except Exception as e:
            log.error("gave up on the completed webhook to %s: %s", safe_url, _reason(e))
            return
        if status >= 400:
            log.error("webhook %s refused the completed event: HTTP %s", safe_url, status)


def _reason(error: BaseException) -> str:
    if isinstance(error, asyncio.TimeoutError):
        return "no answer in time"
    return redact_text(f"{type(error).__name__}: {error}")


class WebhookChannel:
    """The ordered event stream of one prediction to one webhook URL."""

    def __init__(
        self, sender: WebhookSender, url: str, events: frozenset[str], snapshot: Callable[[], bytes]
    ) -> None:
        self.sender = sender
        self.url = url
        self.events = events
        self.snapshot: Callable[[], bytes] | None = snapshot
        self._wake = asyncio.Event()
        self._changed = False
        self._first: bytes | None = None  # the first update, as it was when it happened
        self._sent_update = False
        self._final: bytes | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin delivery; posts `start` (the state as of now) if it was asked for."""
        assert self.snapshot is not None
        start_body = self.snapshot() if "start" in self.events else None
        self._task = asyncio.get_running_loop().create_task(self._run(start_body))
        self.sender.track(self._task)

    def update(self, event: str) -> None:
        """Note new output or logs. The first update is captured now and always sent, even if
        the prediction completes before it is out; later ones go once per throttle interval,
        each with the state as of sending, and are skipped once `completed` can say it all."""
        if event not in self.events or self.snapshot is None:
            return
        if not self._sent_update and self._first is None:
            self._first = self.snapshot()
        self._changed = True
        self._wake.set()

    def complete(self, body: bytes) -> None:
        """The prediction has finished with response `body`: deliver `completed` (retried)."""
        self._final = body
        self.snapshot = None  # the finished record is `body`; do not keep the live one alive
        self._wake.set()
        if self._task is None:  # it failed or was canceled before it started: no `start`
            self._task = asyncio.get_running_loop().create_task(self._run(None))
            self.sender.track(self._task)

    async def _run(self, start_body: bytes | None) -> None:
        if start_body is not None:
            await self._send_once(start_body)
        last_sent = 0.0
        while True:
            if self._first is not None:
                first, self._first = self._first, None
                self._sent_update, self._changed = True, False
                last_sent = time.monotonic()
                await self._send_once(first)
                continue
            if self._final is not None:
                break
            if not self._changed:
                self._wake.clear()
                await self._wake.wait()
                continue
            delay = last_sent + self.sender.policy.throttle - time.monotonic()
            if delay > 0:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._until_final(), delay)
                if self._final is not None:
                    break
            self._changed = False
            last_sent = time.monotonic()
            if self.snapshot is not None:
                await self._send_once(self.snapshot())
        if "completed" in self.events and self._final is not None:
            await self.sender.deliver(self.url, self._final)

    async def _until_final(self) -> None:
        while self._final is None:
            self._wake.clear()
            await self._wake.wait()

    async def _send_once(self, body: bytes) -> None:
        import httpx

        try:
            await self.sender.post_once(self.url, body)
        except (httpx.HTTPError, RetryableAnswer, asyncio.TimeoutError) as e:
            log.warning("webhook to %s failed: %s", redact_url(self.url), _reason(e))
