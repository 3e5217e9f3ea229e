"""A generator that yields faster than the consumer reads blocks in its `yield`: memory stays
bounded on both sides (the child's queue, the client's per-prediction queue), and nothing is
lost or reordered once the consumer catches up."""

from __future__ import annotations

import asyncio
import pathlib

from cogkit.worker.events import ChunksEvent, DoneEvent, WorkerState

from .helpers import run, started

TOTAL = 2000  # chunks of 32 KiB: 62.5 MiB if nothing held the generator back
# What may be in flight: the child's queue (4 MiB), the socket and asyncio's read buffer (a few
# MiB), the client's queue for the prediction (8 MiB): about 470 chunks. Far below TOTAL.
BOUND = 1000


async def _count_when_still(counter: pathlib.Path) -> int:
    """The generator's count once it has not moved for a second (bounded by the test timeout)."""
    last = -1
    while True:
        await asyncio.sleep(1.0)
        text = counter.read_text() if counter.exists() else ""
        count = int(text) if text else 0
        if count == last:
            return count
        last = count


def test_a_fast_generator_waits_for_a_slow_consumer(tmp_path: pathlib.Path) -> None:
    counter = tmp_path / "yielded"

    async def go() -> None:
        async with started("firehose.py:Predictor", env={"YIELDED_FILE": str(counter)}) as client:
            await client.wait_for_setup()
            events = client.predict("firehose", {"count": TOTAL})
            first = await events.__anext__()
            assert isinstance(first, ChunksEvent)
            held = await _count_when_still(counter)
            assert 0 < held < BOUND, f"the generator ran ahead to {held} chunks"
            received = len(first.values)
            async for event in events:
                if isinstance(event, DoneEvent):
                    assert event.status == "succeeded", event.error
                    break
                assert isinstance(event, ChunksEvent)
                assert all(len(value) == 32 << 10 for value in event.values)
                received += len(event.values)
            assert received == TOTAL
            assert client.state == WorkerState.READY

    run(go(), timeout=120)
