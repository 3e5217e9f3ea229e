"""The event stream of one prediction: keep-alive comments, bounded queueing, the last event."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from cogkit.server.prediction import Prediction
from cogkit.server.sse import EventStream, sse_events

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _prediction() -> Prediction:
    return Prediction(id="p", input={}, echo_input={}, created_at="now")


async def _next(frames: AsyncIterator[bytes]) -> bytes:
    return await asyncio.wait_for(frames.__anext__(), 10)


async def test_a_silent_stream_sends_keep_alive_comments() -> None:
    pred, stream = _prediction(), EventStream(10)
    frames = sse_events(pred, stream, keepalive=0.05)
    assert await _next(frames) == b": keep-alive\n\n"
    stream.push("output", ["hi"])
    assert await _next(frames) == b'event: output\ndata: "hi"\n\n'
    pred.status, pred.completed_at = "succeeded", "later"
    stream.complete()
    last = await _next(frames)
    assert last.startswith(b"event: completed\ndata: {") and b'"succeeded"' in last


async def test_a_client_that_falls_behind_gets_completed_with_everything() -> None:
    pred, stream = _prediction(), EventStream(capacity=3)
    stream.push("output", [0, 1])
    stream.push("output", [2])
    for n in range(3, 1000):
        stream.push("output", [n])
    assert stream.lagged and stream.queued == 3 and len(stream.pending) == 2
    pred.output, pred.status, pred.completed_at = list(range(1000)), "succeeded", "later"
    stream.complete()
    events = b"".join([frame async for frame in sse_events(pred, stream)]).split(b"\n\n")[:-1]
    assert [e.split(b"\n", 1)[0] for e in events] == [b"event: output"] * 3 + [b"event: completed"]
    assert b"999" in events[-1]


async def test_queued_events_go_out_together_in_order_and_complete() -> None:
    pred, stream = _prediction(), EventStream(10_000)
    for n in range(0, 500, 100):  # batches as the worker sends them
        stream.push("output", [f"t{k}" for k in range(n, n + 100)])
    stream.push("log", ["a line\n"])
    pred.status, pred.completed_at = "succeeded", "later"
    stream.complete()
    frames = [frame async for frame in sse_events(pred, stream)]
    assert len(frames) == 1  # everything queued when the sender woke: one write
    events = frames[0].split(b"\n\n")[:-1]
    assert events[:500] == [f'event: output\ndata: "t{n}"'.encode() for n in range(500)]
    assert events[500] == b'event: log\ndata: "a line\\n"'
    assert events[501].startswith(b"event: completed\ndata: {")


async def test_a_lone_token_is_sent_without_waiting_for_more() -> None:
    pred, stream = _prediction(), EventStream(10)
    frames = sse_events(pred, stream)
    waiting = asyncio.ensure_future(_next(frames))
    await asyncio.sleep(0)  # the sender is now waiting for events
    stream.push("output", ["only"])
    assert await waiting == b'event: output\ndata: "only"\n\n'  # nothing else was pushed
    stream.push("output", ["next"])
    assert await _next(frames) == b'event: output\ndata: "next"\n\n'
    pred.status, pred.completed_at = "succeeded", "later"
    stream.complete()
    assert (await _next(frames)).startswith(b"event: completed\n")


async def test_a_batch_is_one_event_per_value_and_a_value_json_cannot_hold_is_left_out() -> None:
    pred, stream = _prediction(), EventStream(100)
    stream.push("output", ['a "quoted"\nline', {"k": [1, 2]}, "ünï"])
    stream.push("output", ["before", {1j}, "after"])  # the prediction fails for it; `completed` says so
    stream.push("output", [])  # nothing to send
    frames = sse_events(pred, stream)
    events = (await _next(frames)).split(b"\n\n")[:-1]
    assert events == [
        b'event: output\ndata: "a \\"quoted\\"\\nline"',
        b'event: output\ndata: {"k": [1, 2]}',
        b'event: output\ndata: "\\u00fcn\\u00ef"',
        b'event: output\ndata: "before"',
        b'event: output\ndata: "after"',
    ]
    assert stream.queued == 0 and not stream.pending
