"""A generator that yields faster than the consumer reads blocks in its `yield`: memory stays
bounded on both sides (the child's queue, the client's per-prediction queue), and nothing is
lost or reordered once the consumer catches up, or when the child dies while it is held."""

from __future__ import annotations

import asyncio
import os
import pathlib
import signal

from cogkit.worker.events import ChunksEvent, DoneEvent, WorkerState

from .helpers import collect, run, started

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
                assert event.values == _numbered(received, len(event.values))  # in order, none lost
                received += len(event.values)
            assert received == TOTAL
            assert client.state == WorkerState.READY

    run(go(), timeout=120)


def _numbered(start: int, count: int) -> list[str]:
    return [f"{i:08d}" + "x" * ((32 << 10) - 8) for i in range(start, start + count)]


def test_a_child_killed_while_it_is_held_back_fails_its_prediction_and_restarts(
    tmp_path: pathlib.Path,
) -> None:
    """The client has stopped reading (the consumer is behind) when the child dies: what it read
    still comes, in order, then the failure; the next child is read as usual."""
    counter = tmp_path / "yielded"

    async def go() -> None:
        async with started("firehose.py:Predictor", env={"YIELDED_FILE": str(counter)}) as client:
            await client.wait_for_setup()
            events = client.predict("held", {"count": TOTAL})
            first = await events.__anext__()
            assert isinstance(first, ChunksEvent)
            assert 0 < await _count_when_still(counter) < BOUND
            os.kill(int((tmp_path / "yielded.pid").read_text()), signal.SIGKILL)
            values = list(first.values)
            async for event in events:
                if isinstance(event, DoneEvent):
                    break
                assert isinstance(event, ChunksEvent)
                values += event.values
            assert event.status == "failed" and "SIGKILL" in (event.error or "")
            assert 0 < len(values) < BOUND and values == _numbered(0, len(values))
            for _ in range(400):  # the restart runs setup() again; bounded wait
                if client.state == WorkerState.READY and client.restarts == 1:
                    break
                await asyncio.sleep(0.05)
            after = await collect(client, "after", {"count": 3})
            assert after.done is not None and after.done.status == "succeeded", after.done
            assert after.values == _numbered(0, 3)

    run(go(), timeout=120)


def test_many_small_messages_behind_a_slow_consumer_arrive_whole_and_in_order() -> None:
    """Reading stops in the middle of what one read brought (many small messages): the rest is
    handled, in order, before reading goes on."""
    count = 20000  # about 20 MiB of outputs: the consumer falls behind by more than the limit

    async def go() -> None:
        async with started("chatter.py:Predictor") as client:
            await client.wait_for_setup()
            events = client.predict("chatter", {"count": count})
            values: list[str] = []
            logs: list[str] = []
            first = True
            async for event in events:
                if first:  # let the generator run ahead until the client stops reading
                    await asyncio.sleep(1.0)
                    first = False
                if isinstance(event, DoneEvent):
                    assert event.status == "succeeded", event.error
                    break
                if isinstance(event, ChunksEvent):
                    values += event.values
                elif hasattr(event, "text"):
                    logs.append(event.text)
            assert values == [f"{i:08d}" + "y" * 1016 for i in range(count)]
            assert "".join(logs) == "".join(f"line {i:08d}\n" for i in range(count))

    run(go(), timeout=120)
