"""Test helpers that start a real worker child on a tiny predictor file from fixtures/."""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from typing import Any

from cogkit.worker.client import WorkerClient
from cogkit.worker.events import ChunksEvent, DoneEvent, LogEvent, OutputEvent

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
TIMEOUT_S = 60.0


def run(coro: Coroutine[Any, Any, Any], timeout: float = TIMEOUT_S) -> Any:
    """Run one test coroutine, bounded so that a hang fails instead of blocking the suite."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


@contextlib.asynccontextmanager
async def started(ref: str, **kwargs: Any) -> AsyncIterator[WorkerClient]:
    client = WorkerClient(ref, cwd=kwargs.pop("cwd", FIXTURES), **kwargs)
    await client.start()
    try:
        yield client
    finally:
        await client.stop()


@dataclass
class Result:
    logs: str = ""
    values: list[Any] = field(default_factory=list)  # every output value, in order
    chunked: list[bool] = field(default_factory=list)  # for each value: an iterator's item?
    batches: list[int] = field(default_factory=list)  # the items of each ChunksEvent
    done: DoneEvent | None = None


async def collect(client: WorkerClient, prediction_id: str, inputs: dict[str, Any], **kwargs: Any) -> Result:
    result = Result()
    async for event in client.predict(prediction_id, inputs, **kwargs):
        if isinstance(event, LogEvent):
            result.logs += event.text
        elif isinstance(event, OutputEvent):
            result.values.append(event.value)
            result.chunked.append(False)
        elif isinstance(event, ChunksEvent):
            assert event.values, "an empty batch"
            result.values += event.values
            result.chunked += [True] * len(event.values)
            result.batches.append(len(event.values))
        else:
            assert result.done is None, "more than one DoneEvent"
            result.done = event
    assert result.done is not None, "no DoneEvent"
    return result
