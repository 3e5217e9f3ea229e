"""Stopping, parent death, and a randomised sequence of predictions and cancellations."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import textwrap

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from cogkit.worker.events import DoneEvent, WorkerState

from .helpers import FIXTURES, collect, run, started


def test_stop_ends_a_running_prediction_and_the_child() -> None:
    async def go() -> None:
        async with started("cancel_sync.py:Predictor") as client:
            await client.wait_for_setup()
            events = []

            async def consume() -> None:
                async for event in client.predict("long", {"seconds": 60}):
                    events.append(event)

            task = asyncio.ensure_future(consume())
            while not events:
                await asyncio.sleep(0.01)
            proc = client._gen.proc
            await client.stop(grace=0.2)
            await asyncio.wait_for(task, 10)
            assert isinstance(events[-1], DoneEvent) and events[-1].status == "failed"
            assert events[-1].error.startswith("the worker was stopped")
            assert proc.returncode is not None

    run(go(), timeout=30)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie has exited already


async def _until_gone(*pids: int) -> None:
    while not all(_gone(pid) for pid in pids):
        await asyncio.sleep(0.05)


def test_child_exits_when_its_parent_dies(tmp_path) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, os, sys
        from cogkit.worker.client import WorkerClient
        async def main():
            client = WorkerClient("faults.py:Predictor", cwd={str(FIXTURES)!r})
            await client.start()
            await client.wait_for_setup()
            print(client._gen.proc.pid, flush=True)
            os._exit(0)
        asyncio.run(main())
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    run(_until_gone(int(out.stdout.strip())))


KILLED_PARENT = """
import asyncio, os, sys, time
from cogkit.worker.client import WorkerClient
from cogkit.worker.events import OutputEvent

async def main():
    client = WorkerClient("spawns.py:Predictor", cwd=sys.argv[1])
    await client.start()
    await client.wait_for_setup()
    async for event in client.predict("p", {}):
        if isinstance(event, OutputEvent):
            helper = event.value
    holder = 0
    if sys.argv[2] == "fork":  # a forked copy keeps the socket open: no EOF reaches the worker
        holder = os.fork()
        if holder == 0:
            time.sleep(1000)
            os._exit(0)
    print(client._gen.proc.pid, helper, holder, flush=True)
    await asyncio.sleep(1000)

asyncio.run(main())
"""


@pytest.mark.parametrize("how", ["eof", "fork"])
def test_sigkill_of_the_parent_takes_the_worker_and_its_subprocesses(how: str) -> None:
    """The worker sees the parent die by EOF on its socket or, when a forked process still holds
    the socket, by its parent pid changing; either way it kills its process group, which holds
    the `sleep 1000` its predictor started."""
    parent = subprocess.Popen(
        [sys.executable, "-c", KILLED_PARENT, str(FIXTURES), how], stdout=subprocess.PIPE, text=True
    )
    holder = 0
    try:
        assert parent.stdout is not None
        assert select.select([parent.stdout], [], [], 60)[0], "the parent never reported its worker"
        worker, helper, holder = (int(n) for n in parent.stdout.readline().split())
        assert not _gone(worker) and not _gone(helper)
        parent.kill()
        parent.wait(30)
        run(_until_gone(worker, helper), timeout=30)
    finally:
        parent.kill()
        parent.wait(30)
        if holder:
            os.kill(holder, signal.SIGKILL)


@pytest.mark.parametrize("ref", ["cancel_async.py:Predictor", "cancel_sync.py:Predictor"])
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)
@given(
    st.lists(
        st.tuples(st.sampled_from(["run", "cancel"]), st.floats(min_value=0.0, max_value=0.05)),
        min_size=1,
        max_size=8,
    )
)
@example([("cancel", 0.0)])  # canceled before its task first runs: found by this test
def test_random_predictions_and_cancellations(ref: str, plan: list) -> None:
    """Whatever the interleaving: exactly one DoneEvent each, and the worker ends READY."""

    async def go() -> None:
        async with started(ref) as client:
            await client.wait_for_setup()

            async def one(i: int, action: str, delay: float) -> str:
                pid = f"p{i}"
                stream = asyncio.ensure_future(collect(client, pid, {"seconds": delay}))
                if action == "cancel":
                    await asyncio.sleep(delay / 2)
                    await client.cancel(pid)
                result = await stream
                if action == "run":
                    assert result.done.status == "succeeded", result.done
                    assert result.values == ["woke"]
                else:
                    assert result.done.status in ("canceled", "succeeded")
                return result.done.status

            statuses = await asyncio.gather(*(one(i, a, d) for i, (a, d) in enumerate(plan)))
            assert len(statuses) == len(plan)
            assert client.state == WorkerState.READY and client.restarts == 0

    run(go(), timeout=30)
