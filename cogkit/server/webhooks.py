"""Webhook delivery for async predictions.

Each prediction with a webhook gets one `WebhookChannel`, a single task that posts its events
in order: `start` at once; `output` and `logs` coalesced so at most one goes out per throttle
interval (every webhook carries the whole prediction, so only the newest state matters); and
`completed`, which is retried with capped exponential backoff on network errors, 429 and 5xx
until it is delivered or the server shuts down. A 4xx other than 429 is a receiver's final word.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx  # imported on first use (see lazyhttp.py): it slows the server's start

    from cogkit.server.lazyhttp import LazyClient

log = logging.getLogger("cogkit.server.webhooks")

EVENTS = frozenset({"start", "output", "logs", "completed"})


class WebhookSender:
    """Shared delivery state: the HTTP client, the auth token, the policy and live channels."""

    def __init__(
        self,
        client: httpx.AsyncClient | LazyClient,
        *,
        token: str | None = None,
        throttle: float = 0.5,
        backoff_start: float = 0.1,
        backoff_cap: float = 10.0,
    ) -> None:
        self.client = client
        self.headers = {"Content-Type": "application/json", "User-Agent": "cogkit"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.throttle = throttle
        self.backoff_start = backoff_start
        self.backoff_cap = backoff_cap
        self._tasks: set[asyncio.Task[None]] = set()

    def channel(
        self, url: str, events: Iterable[str] | None, snapshot: Callable[[], dict[str, Any]]
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

    async def post(self, url: str, body: bytes) -> httpx.Response:
        return await self.client.post(url, content=body, headers=self.headers)


class WebhookChannel:
    """The ordered event stream of one prediction to one webhook URL."""

    def __init__(
        self,
        sender: WebhookSender,
        url: str,
        events: frozenset[str],
        snapshot: Callable[[], dict[str, Any]],
    ) -> None:
        self.sender = sender
        self.url = url
        self.events = events
        self.snapshot = snapshot
        self._wake = asyncio.Event()
        self._done = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin delivery; posts `start` (the state as of now) if it was asked for."""
        start_body = self._body() if "start" in self.events else None
        self._task = asyncio.get_running_loop().create_task(self._run(start_body))
        self.sender.track(self._task)

    def update(self, event: str) -> None:
        """Note new output or logs; delivered within one throttle interval."""
        if event in self.events:
            self._wake.set()

    def complete(self) -> None:
        """The prediction has finished: flush and deliver `completed` (retried)."""
        self._done = True
        self._wake.set()
        if self._task is None:  # it failed or was canceled before it started: no `start`
            self._task = asyncio.get_running_loop().create_task(self._run(None))
            self.sender.track(self._task)

    async def _run(self, start_body: bytes | None) -> None:
        if start_body is not None:
            await self._send_once(start_body)
        last = time.monotonic()
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._done:
                break
            delay = last + self.sender.throttle - time.monotonic()
            if delay > 0:
                # Sleep out the throttle, but wake early if the prediction completes.
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._until_done(), delay)
                if self._done:
                    break
            self._wake.clear()
            last = time.monotonic()
            await self._send_once()
        if "completed" in self.events:
            await self._send_until_delivered()

    async def _until_done(self) -> None:
        while not self._done:
            await self._wake.wait()
            self._wake.clear()
        self._wake.set()

    def _body(self) -> bytes:
        return json.dumps(self.snapshot()).encode()

    async def _send_once(self, body: bytes | None = None) -> None:
        import httpx

        try:
            response = await self.sender.post(self.url, body or self._body())
            if response.status_code >= 400:
                log.warning("webhook %s answered %s", self.url, response.status_code)
        except httpx.HTTPError as e:
            log.warning("webhook %s failed: %s", self.url, e)

    async def _send_until_delivered(self) -> None:
        import httpx

        delay = self.sender.backoff_start
        body = self._body()
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self.sender.post(self.url, body)
                status = response.status_code
                if status < 400:
                    return
                if status != 429 and status < 500:
                    log.error("webhook %s refused the completed event: HTTP %s", self.url, status)
                    return
                reason = f"HTTP {status}"
            except httpx.HTTPError as e:
                reason = f"{type(e).__name__}: {e}"
            log.warning("completed webhook to %s, attempt %d: %s; retrying", self.url, attempt, reason)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.sender.backoff_cap)
