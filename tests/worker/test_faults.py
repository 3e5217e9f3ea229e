"""A predictor that raises, exits, segfaults or is killed fails that prediction, clearly, and the
client restarts the child (running setup again), or reports DEFUNCT when it cannot."""

from __future__ import annotations

import asyncio

import pytest

from cogkit.errors import WorkerNotReady
from cogkit.worker.events import WorkerState

from .helpers import collect, run, started


def test_exception_fails_only_that_prediction() -> None:
    async def go() -> None:
        async with started("faults.py:Predictor") as client:
            await client.wait_for_setup()
            failed = await collect(client, "p1", {"kind": "raise"})
            assert failed.done.status == "failed"
            assert failed.done.error == "ValueError: bad things happened"
            assert "Traceback" in failed.logs and "bad things happened" in failed.logs
            ok = await collect(client, "p2", {"kind": "ok"})
            assert ok.done.status == "succeeded"
            assert client.restarts == 0

    run(go())


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("sys_exit", "predict() called sys.exit(3)"),
        ("os_exit", "the worker process exited with code 4 while running this prediction"),
        ("segfault", "the worker process was killed by signal SIGSEGV (segmentation fault)"),
        ("sigkill", "the worker process was killed by signal SIGKILL (often the out-of-memory killer)"),
    ],
)
def test_crash_fails_prediction_and_restarts(kind: str, message: str) -> None:
    async def go() -> None:
        async with started("faults.py:Predictor") as client:
            await client.wait_for_setup()
            first_pid = (await collect(client, "warm", {})).values[0].split()[-1]
            crashed = await collect(client, "crash", {"kind": kind})
            assert crashed.done.status == "failed"
            assert message in crashed.done.error
            if kind == "sys_exit":
                assert f"about to {kind}" in crashed.logs
            # After os._exit or a kill, lines still queued inside the dead child are lost (documented).
            if kind == "segfault":
                assert "Fatal Python error" in crashed.logs  # faulthandler's dump reaches the logs
            for _ in range(200):  # the restart runs setup() again; bounded wait
                if client.state == WorkerState.READY and client.restarts == 1:
                    break
                await __import__("asyncio").sleep(0.05)
            assert client.state == WorkerState.READY
            after = await collect(client, "after", {})
            assert after.done.status == "succeeded"
            assert after.values[0].split()[-1] != first_pid

    run(go())


def test_failed_restart_makes_the_worker_defunct(tmp_path) -> None:
    async def go() -> None:
        marker = tmp_path / "marker"
        async with started("restart_fails.py:Predictor", env={"MARKER_FILE": str(marker)}) as client:
            assert (await client.wait_for_setup()).status == "succeeded"
            crashed = await collect(client, "crash", {})
            assert "exited with code 9" in crashed.done.error
            for _ in range(200):
                if client.state == WorkerState.DEFUNCT:
                    break
                await __import__("asyncio").sleep(0.05)
            assert client.state == WorkerState.DEFUNCT
            from cogkit.errors import PredictorError

            with pytest.raises(PredictorError, match="DEFUNCT"):
                await collect(client, "next", {})

    run(go())


def test_crash_is_seen_even_when_a_forked_process_holds_the_socket() -> None:
    async def go() -> None:
        async with started("forks.py:Predictor") as client:
            await client.wait_for_setup()
            crashed = await collect(client, "p", {})
            assert "exited with code 5" in crashed.done.error

    run(go(), timeout=20)


def test_after_sys_exit_the_worker_is_not_ready_until_the_new_child_is() -> None:
    """The exiting child says so before its Done, so the client is STARTING by the time the
    prediction's end is seen: nothing is sent to the dying child. predict() then raises
    WorkerNotReady (a wait or a 503 for the server, not a failed prediction) until READY."""

    async def go() -> None:
        async with started("faults.py:Predictor") as client:
            await client.wait_for_setup()
            first_pid = (await collect(client, "warm", {})).values[0].split()[-1]
            exited = await collect(client, "exit", {"kind": "sys_exit"})
            assert exited.done.status == "failed" and "sys.exit(3)" in exited.done.error
            assert client.state == WorkerState.STARTING
            with pytest.raises(WorkerNotReady):
                await collect(client, "too-soon", {})
            while client.state == WorkerState.STARTING:
                assert await client.wait_state_change() in (WorkerState.READY, WorkerState.STARTING)
            assert client.state == WorkerState.READY and client.restarts == 1
            pids = set()
            for i in range(5):
                after = await collect(client, f"after-{i}", {})
                assert after.done.status == "succeeded", after.done.error
                pids.add(after.values[0].split()[-1])
            assert len(pids) == 1 and first_pid not in pids

    run(go())


def test_state_changes_wake_waiters() -> None:
    async def go() -> None:
        async with started("sync_hello.py:Predictor") as client:
            assert client.state == WorkerState.STARTING  # no await since start(): setup cannot be done
            waiters = [asyncio.ensure_future(client.wait_state_change()) for _ in range(3)]
            assert await asyncio.gather(*waiters) == [WorkerState.READY] * 3

    run(go())
