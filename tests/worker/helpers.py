"""Test helpers that start a real worker child on a tiny predictor file from fixtures/."""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from typing import Any

from cogkit.worker.client import WorkerClient
from cogkit.worker.events import DoneEvent, LogEvent, OutputEvent

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
    outputs: list[OutputEvent] = field(default_factory=list)
    done: DoneEvent | None = None

    @property
    def values(self) -> list[Any]:
        return [o.value for o in self.outputs]


async def collect(client: WorkerClient, prediction_id: str, inputs: dict[str, Any], **kwargs: Any) -> Result:
    result = Result()
    async for event in client.predict(prediction_id, inputs, **kwargs):
        if isinstance(event, LogEvent):
            result.logs += event.text
        elif isinstance(event, OutputEvent):
            result.outputs.append(event)
        else:
            assert result.done is None, "more than one DoneEvent"
            result.done = event
    assert result.done is not None, "no DoneEvent"
    return result
