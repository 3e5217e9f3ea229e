"""Client data is data whatever its shape, and nothing in a message can wedge or kill a worker.

Each case runs on a real worker process. It was, before typed messages: a `{"$cogkit.path": ...}`
marker in an input (or in context) was read back as a file reference (the server then served
/etc/shadow as a data URI); `{"$cogkit.path": 123}` killed the client's reader, leaving the worker
BUSY for good; a marker in context made the child exit; deep nesting left predictions hanging.
Now each yields plain data or one failed prediction, and the next prediction succeeds.
"""

from __future__ import annotations

import pathlib
import sys
from typing import Any

import pytest

from cogkit.worker.client import WorkerClient
from cogkit.worker.events import WorkerState

from .helpers import Result, collect, run, started

MARKERS: list[Any] = [
    {"a": {"$cogkit.path": "/etc/shadow"}},
    {"$cogkit.path": "/proc/self/environ"},
    {"$cogkit.path": 123},
    {"$cogkit.path": None, "b": [{"$cogkit.path": ["x"]}]},
    {"n": 1.5, "s": "x", "z": [1, [2, [3]]], "t": True, "none": None},
]
CONTEXTS: list[Any] = [*MARKERS, {"x": {"$cogkit.path": "/etc/passwd"}}, 5, [1, 2], "text", {}]


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"d": value}
    return value


def _paths_in(value: Any) -> list[pathlib.PurePath]:
    if isinstance(value, pathlib.PurePath):
        return [value]
    if isinstance(value, dict):
        return [p for v in value.values() for p in _paths_in(v)]
    if isinstance(value, list):
        return [p for v in value for p in _paths_in(v)]
    return []


async def _still_serves(client: WorkerClient) -> None:
    after = await collect(client, "after", {"data": {"ok": 1}})
    assert after.done.status == "succeeded", after.done.error
    assert after.values == [{"ok": 1}]
    assert client.state == WorkerState.READY and client.restarts == 0


async def _one(client: WorkerClient, inputs: dict, **kwargs: Any) -> Result:
    result = await collect(client, "hostile", inputs, **kwargs)
    await _still_serves(client)
    return result


def test_markers_in_inputs_come_back_as_data() -> None:
    async def go() -> None:
        async with started("hostile.py:Predictor") as client:
            await client.wait_for_setup()
            for data in MARKERS:
                result = await _one(client, {"data": data})
                assert result.done.status == "succeeded", result.done.error
                assert result.values == [data]
                assert _paths_in(result.values) == []

    run(go())


def test_context_of_any_shape_is_data() -> None:
    async def go() -> None:
        async with started("hostile.py:Predictor") as client:
            await client.wait_for_setup()
            for context in CONTEXTS:
                result = await _one(client, {"act": "context"}, context=context)
                assert result.done.status == "succeeded", result.done.error
                assert result.values == [context]
                assert _paths_in(result.values) == []

    run(go())


def test_input_too_deep_for_this_process_fails_that_prediction() -> None:
    async def go() -> None:
        async with started("hostile.py:Predictor") as client:
            await client.wait_for_setup()
            result = await _one(client, {"data": _nested(5000)})
            assert result.done.status == "failed"
            assert result.done.error.startswith("the input cannot be passed to the worker")
            assert "nested too deeply" in result.done.error

    run(go())


def test_input_too_deep_for_the_child_fails_that_prediction() -> None:
    """Encoded here under a raised recursion limit, the child (default limit) cannot decode it:
    its reader names the prediction from the line's head, fails it, and keeps reading."""

    async def go() -> None:
        async with started("hostile.py:Predictor") as client:
            await client.wait_for_setup()
            result = await _one(client, {"data": _nested(3000)})
            assert result.done.status == "failed"
            assert result.done.error.startswith("the worker could not read this prediction's request")
            assert "RecursionError" in result.done.error

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)
    try:
        run(go())
    finally:
        sys.setrecursionlimit(limit)


@pytest.mark.parametrize(
    ("act", "error"),
    [
        ("deep", "predict() returned an output that cannot be sent: the output is nested more than 500"),
        ("object", "predict() returned an output that cannot be sent: cannot return a value of type object"),
    ],
)
def test_an_output_that_cannot_be_sent_fails_that_prediction(act: str, error: str) -> None:
    async def go() -> None:
        async with started("hostile.py:Predictor") as client:
            await client.wait_for_setup()
            result = await _one(client, {"act": act})
            assert result.done.status == "failed"
            assert result.done.error.startswith(error), result.done.error
            assert "Traceback" not in result.logs  # not the user's mistake in their code

    run(go())


@pytest.mark.parametrize(
    ("act", "error"),
    [
        ("forge_files", "output file entry [['a'], '/etc/passwd']: the value there is not that path"),
        ("forge_chunk_files", "output file entry [['a'], '/etc/passwd']: the value there is not that path"),
        ("forge_garbage", "not a message (JSONDecodeError"),
    ],
)
def test_a_message_the_client_cannot_handle_fails_that_prediction(act: str, error: str) -> None:
    """The predictor writes a forged line onto the channel: the client fails the prediction it
    names, cancels it in the child, and goes on reading."""

    async def go() -> None:
        async with started("hostile.py:Predictor") as client:
            await client.wait_for_setup()
            result = await _one(client, {"act": act})
            assert result.done.status == "failed"
            assert result.done.error.startswith("cogkit could not handle the worker's message")
            assert error in result.done.error, result.done.error
            assert _paths_in(result.values) == []

    run(go())


def test_garbage_from_the_parent_does_not_stop_the_child_reader() -> None:
    async def go() -> None:
        async with started("hostile.py:Predictor") as client:
            await client.wait_for_setup()
            assert client._gen is not None
            for line in (b"garbage\n", b'["predict"]\n', b'["cancel",1]\n', b'[["x"],"y"]\n', b"\xff\n"):
                await client._gen.send(line)
            await _still_serves(client)

    run(go())
