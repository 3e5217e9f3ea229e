"""Webhook delivery against real HTTP receivers on 127.0.0.1 (no mocks): order, throttling,
bounded retries with Retry-After, hosts that do not resolve, and tarpits that never answer."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from cogkit.server.webhooks import WebhookPolicy, WebhookSender, retry_after_seconds
from tests.server.receiver import Receiver, Tarpit

pytestmark = pytest.mark.anyio

FAST = {"wait_initial": 0.01, "wait_max": 0.05}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _sender(client: httpx.AsyncClient, token: str | None = None, **policy: Any) -> WebhookSender:
    return WebhookSender(client, token=token, policy=WebhookPolicy(**{**FAST, **policy}))  # type: ignore[arg-type]


async def _arrived(receiver: Receiver, count: int, timeout: float = 20.0) -> None:
    """Wait without blocking the event loop (the sender runs on it), bounded."""
    deadline = time.monotonic() + timeout
    while len(receiver.requests) < count:
        assert time.monotonic() < deadline, f"{len(receiver.requests)} of {count} requests arrived"
        await asyncio.sleep(0.02)


def _body(state: dict[str, Any]) -> Callable[[], bytes]:
    return lambda: json.dumps(state).encode()


async def test_events_arrive_in_order_with_bearer_token() -> None:
    state = {"status": "processing", "logs": ""}
    with Receiver() as r:
        async with httpx.AsyncClient() as client:
            sender = _sender(client, token="s3cret", throttle=0.0)
            channel = sender.channel(r.url + "/hook", None, _body(state))
            channel.start()
            state["logs"] = "hello\n"
            channel.update("logs")
            await asyncio.sleep(0.2)
            state["status"] = "succeeded"
            channel.complete(json.dumps(state).encode())
            await sender.drain(10)
        got = r.wait_for(3)
    assert [g.json()["status"] for g in got] == ["processing", "processing", "succeeded"]
    assert got[1].json()["logs"] == "hello\n"
    assert all(g.headers["authorization"] == "Bearer s3cret" for g in got)
    assert all(g.headers["content-type"] == "application/json" for g in got)


async def test_filter_keeps_only_completed() -> None:
    with Receiver() as r:
        async with httpx.AsyncClient() as client:
            sender = _sender(client, throttle=0.0)
            channel = sender.channel(r.url, ["completed"], _body({"status": "processing"}))
            channel.start()
            channel.update("logs")
            channel.update("output")
            channel.complete(b'{"status": "succeeded"}')
            await sender.drain(10)
        assert [g.json() for g in r.requests] == [{"status": "succeeded"}]
        assert "authorization" not in r.requests[0].headers


async def test_the_first_update_goes_at_once_and_later_ones_are_coalesced() -> None:
    counter = {"n": 0}
    with Receiver() as r:
        async with httpx.AsyncClient() as client:
            # A throttle far longer than the test: after the first, every update folds into `completed`.
            sender = _sender(client, throttle=3600.0)
            channel = sender.channel(r.url, ["logs", "completed"], _body(counter))
            channel.start()
            counter["n"] = 1
            channel.update("logs")
            await _arrived(r, 1)
            for _ in range(50):
                counter["n"] += 1
                channel.update("logs")
                await asyncio.sleep(0)
            channel.complete(json.dumps(counter).encode())
            await sender.drain(10)
        assert [g.json()["n"] for g in r.requests] == [1, 51]


@pytest.mark.parametrize("failure", [500, 503, 429])
async def test_completed_is_retried_on_server_errors(failure: int) -> None:
    with Receiver(statuses=[failure, failure, failure, 200]) as r:
        async with httpx.AsyncClient() as client:
            sender = _sender(client)
            sender.channel(r.url, ["completed"], _body({})).complete(b'{"status": "succeeded"}')
            await sender.drain(20)
        assert len(r.requests) == 4


async def test_completed_is_not_retried_on_a_client_error() -> None:
    with Receiver(statuses=[400, 200]) as r:
        async with httpx.AsyncClient() as client:
            sender = _sender(client)
            sender.channel(r.url, ["completed"], _body({})).complete(b'{"status": "failed"}')
            await sender.drain(20)
        assert len(r.requests) == 1


async def test_attempts_are_bounded() -> None:
    with Receiver(statuses=[500]) as r:
        async with httpx.AsyncClient() as client:
            sender = _sender(client, attempts=5)
            sender.channel(r.url, ["completed"], _body({})).complete(b"{}")
            await asyncio.wait_for(sender.drain(60), 60)
        assert len(r.requests) == 5


async def test_retry_after_is_honoured() -> None:
    with Receiver(statuses=[503, 200], headers={"Retry-After": "1"}) as r:
        async with httpx.AsyncClient() as client:
            sender = _sender(client)
            sender.channel(r.url, ["completed"], _body({})).complete(b"{}")
            await sender.drain(20)
        first, second = r.wait_for(2)
    # The backoff alone would have waited at most 0.05 s; the receiver asked for a second.
    assert second.at - first.at >= 0.9


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    later = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 120))
    assert 100 < (retry_after_seconds(later) or 0) <= 120
    assert retry_after_seconds("Mon, 01 Jan 2001 00:00:00 GMT") == 0.0


async def test_a_host_that_does_not_resolve_is_given_up_at_once() -> None:
    async with httpx.AsyncClient() as client:
        # With these settings a retried failure would take far longer than the wait below.
        sender = _sender(client, attempts=1000, deadline=3600.0, wait_initial=5.0, wait_max=5.0)
        sender.channel("http://no-such-host.invalid/hook", ["completed"], _body({})).complete(b"{}")
        await asyncio.wait_for(sender.drain(3600), 20)


async def test_completed_survives_connection_refused_until_the_receiver_appears() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with httpx.AsyncClient() as client:
        sender = _sender(client)
        sender.channel(f"http://127.0.0.1:{port}/late", ["completed"], _body({})).complete(b'{"ok": 1}')
        await asyncio.sleep(0.2)  # several refused attempts happen meanwhile
        with Receiver(port=port) as r:
            await sender.drain(20)
            got = r.wait_for(1)
    assert got[0].path == "/late"
    assert got[0].json() == {"ok": 1}


async def test_completed_is_sent_even_if_the_prediction_never_started() -> None:
    with Receiver() as r:
        async with httpx.AsyncClient() as client:
            sender = _sender(client)
            sender.channel(r.url, None, _body({})).complete(b'{"status": "failed"}')
            await sender.drain(10)
        assert [g.json() for g in r.requests] == [{"status": "failed"}]


async def test_a_tarpit_does_not_delay_another_receiver() -> None:
    """Forty predictions whose webhook never answers, then one whose receiver is fine: the
    fine one is delivered while the tarpit still holds every connection it was given."""
    with Tarpit() as pit, Receiver() as r:
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=None)) as client:
            sender = _sender(client, attempt_timeout=60.0, per_host=4)
            for _ in range(40):
                sender.channel(pit.url, ["completed"], _body({})).complete(b"{}")
            await asyncio.sleep(0.3)
            sender.channel(r.url + "/fine", ["completed"], _body({})).complete(b'{"fine": true}')
            await _arrived(r, 1, timeout=30)
            assert [g.path for g in r.requests] == ["/fine"]
            assert pit.held() == 4  # per host, not forty: the rest wait their turn
            await sender.drain(0.1)
