"""Webhook delivery against a real HTTP receiver on 127.0.0.1 (no mocks)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest

from cogkit.server.webhooks import WebhookSender
from tests.server.receiver import Receiver

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _sender(client: httpx.AsyncClient, **kw: Any) -> WebhookSender:
    return WebhookSender(client, backoff_start=0.01, backoff_cap=0.05, **kw)


async def test_events_arrive_in_order_with_bearer_token() -> None:
    state = {"status": "processing", "logs": ""}
    with Receiver() as r:
        async with httpx.AsyncClient() as client:
            sender = _sender(client, token="s3cret", throttle=0.0)
            channel = sender.channel(r.url + "/hook", None, lambda: dict(state))
            channel.start()
            state["logs"] = "hello\n"
            channel.update("logs")
            state["status"] = "succeeded"
            channel.complete()
            await sender.drain(10)
        got = r.wait_for(2)
    assert got[0].json()["status"] == "processing"
    assert got[-1].json() == {"status": "succeeded", "logs": "hello\n"}
    assert all(g.headers["authorization"] == "Bearer s3cret" for g in got)
    assert all(g.headers["content-type"] == "application/json" for g in got)


async def test_filter_keeps_only_completed() -> None:
    with Receiver() as r:
        async with httpx.AsyncClient() as client:
            sender = _sender(client, throttle=0.0)
            channel = sender.channel(r.url, ["completed"], lambda: {"status": "succeeded"})
            channel.start()
            channel.update("logs")
            channel.update("output")
            channel.complete()
            await sender.drain(10)
        assert len(r.requests) == 1
        assert "authorization" not in r.requests[0].headers


async def test_logs_are_coalesced_within_the_throttle_interval() -> None:
    counter = {"n": 0}
    with Receiver() as r:
        async with httpx.AsyncClient() as client:
            # A throttle far longer than the test: every update is folded into `completed`.
            sender = _sender(client, throttle=3600.0)
            channel = sender.channel(r.url, ["logs", "completed"], lambda: dict(counter))
            channel.start()
            for _ in range(50):
                counter["n"] += 1
                channel.update("logs")
                await asyncio.sleep(0)
            channel.complete()
            await sender.drain(10)
        assert [g.json()["n"] for g in r.requests] == [50]


@pytest.mark.parametrize("failure", [500, 503, 429])
async def test_completed_is_retried_on_server_errors(failure: int) -> None:
    with Receiver(statuses=[failure, failure, failure, 200]) as r:
        async with httpx.AsyncClient() as client:
            sender = _sender(client, throttle=0.0)
            channel = sender.channel(r.url, ["completed"], lambda: {"status": "succeeded"})
            channel.start()
            channel.complete()
            await sender.drain(20)
        assert len(r.requests) == 4


async def test_completed_is_not_retried_on_a_client_error() -> None:
    with Receiver(statuses=[400, 200]) as r:
        async with httpx.AsyncClient() as client:
            sender = _sender(client, throttle=0.0)
            channel = sender.channel(r.url, ["completed"], lambda: {"status": "failed"})
            channel.start()
            channel.complete()
            await sender.drain(20)
        assert len(r.requests) == 1


async def test_completed_survives_connection_refused_until_the_receiver_appears() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with httpx.AsyncClient() as client:
        sender = _sender(client, throttle=0.0)
        channel = sender.channel(
            f"http://127.0.0.1:{port}/late", ["completed"], lambda: {"status": "succeeded"}
        )
        channel.start()
        channel.complete()
        await asyncio.sleep(0.2)  # several refused attempts happen meanwhile
        with Receiver(port=port) as r:
            await sender.drain(20)
            got = r.wait_for(1)
    assert got[0].path == "/late"
    assert got[0].json() == {"status": "succeeded"}


async def test_completed_is_sent_even_if_the_prediction_never_started() -> None:
    with Receiver() as r:
        async with httpx.AsyncClient() as client:
            sender = _sender(client, throttle=0.0)
            channel = sender.channel(r.url, None, lambda: {"status": "failed"})
            channel.complete()
            await sender.drain(10)
        assert [g.json() for g in r.requests] == [{"status": "failed"}]
