"""Cancellation: CancelationException in a sync predictor, CancelledError in an async one."""

from __future__ import annotations

import asyncio

from cogkit.worker.events import LogEvent, WorkerState

from .helpers import collect, run, started


async def _cancel_after_first_log(client, prediction_id: str, inputs: dict) -> list:
    events = []
    async for event in client.predict(prediction_id, inputs):
        events.append(event)
        if isinstance(event, LogEvent) and "sleeping" in event.text:
            await client.cancel(prediction_id)
    return events


def test_sync_cancel_is_not_swallowed_by_except_exception() -> None:
    async def go() -> None:
        async with started("cancel_sync.py:Predictor") as client:
            await client.wait_for_setup()
            events = await _cancel_after_first_log(client, "p1", {"seconds": 60})
            done = events[-1]
            assert done.status == "canceled", done
            assert not any(getattr(e, "value", None) == "swallowed" for e in events)
            # the same child serves the next prediction
            ok = await collect(client, "p2", {"seconds": 0})
            assert ok.values == ["woke"]
            assert client.restarts == 0 and client.state == WorkerState.READY

    run(go())


def test_async_cancel_one_of_two() -> None:
    async def go() -> None:
        async with started("cancel_async.py:Predictor") as client:
            await client.wait_for_setup()
            slow = asyncio.ensure_future(_cancel_after_first_log(client, "slow", {"seconds": 60}))
            quick = await collect(client, "quick", {"seconds": 0.05})
            assert quick.values == ["woke"]
            events = await slow
            assert events[-1].status == "canceled"

    run(go())


def test_cancel_unknown_prediction_is_a_no_op() -> None:
    async def go() -> None:
        async with started("sync_hello.py:Predictor") as client:
            await client.wait_for_setup()
            await client.cancel("nobody")
            assert (await collect(client, "p", {})).done.status == "succeeded"

    run(go())


def test_abandoned_prediction_is_canceled_and_frees_the_worker() -> None:
    async def go() -> None:
        async with started("cancel_sync.py:Predictor") as client:
            await client.wait_for_setup()
            stream = client.predict("gone", {"seconds": 60})
            async for event in stream:
                if isinstance(event, LogEvent):
                    break
            await stream.aclose()
            for _ in range(200):
                if client.state == WorkerState.READY:
                    break
                await asyncio.sleep(0.05)
            assert client.state == WorkerState.READY
            assert (await collect(client, "next", {"seconds": 0})).values == ["woke"]

    run(go())
