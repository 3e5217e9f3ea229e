"""A hypothesis state machine over slots and cancellation, against a real async server (4 slots).

The model counts predictions holding a slot; the server must agree on every step: 202/409 for
new async predictions, 409 for sync ones only when full, BUSY exactly when full, and a canceled
prediction frees its slot.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tests.server.conftest import ServerProcess

SLOTS = 4
pytestmark = pytest.mark.timeout(300)


def _wait_status(server: ServerProcess, pid: str, wanted: set[str], timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = server.client.get(f"/predictions/{pid}").json()["status"]
        if status in wanted:
            return status
        time.sleep(0.01)
    raise AssertionError(f"{pid} stayed {status!r}, wanted {wanted}")


class Slots(RuleBasedStateMachine):
    server: ServerProcess

    def __init__(self) -> None:
        super().__init__()
        self.running: list[str] = []
        self.counter = 0

    def teardown(self) -> None:
        for pid in self.running:
            self.server.client.post(f"/predictions/{pid}/cancel")
        for pid in self.running:
            _wait_status(self.server, pid, {"canceled", "succeeded", "failed"})

    @rule()
    def start_long(self) -> None:
        self.counter += 1
        pid = f"sm-{id(self)}-{self.counter}"
        r = self.server.client.post(
            "/predictions", json={"id": pid, "input": {"seconds": 60}}, headers={"Prefer": "respond-async"}
        )
        if len(self.running) < SLOTS:
            assert r.status_code == 202, r.text
            _wait_status(self.server, pid, {"processing"})
            self.running.append(pid)
        else:
            assert r.status_code == 409, r.text

    @rule()
    def quick_sync(self) -> None:
        r = self.server.client.post("/predictions", json={"input": {"seconds": 0, "tag": "q"}})
        assert r.status_code == (200 if len(self.running) < SLOTS else 409), r.text

    @precondition(lambda self: self.running)
    @rule(index=st.integers(min_value=0, max_value=SLOTS - 1))
    def cancel(self, index: int) -> None:
        pid = self.running.pop(index % len(self.running))
        assert self.server.client.post(f"/predictions/{pid}/cancel").status_code == 200
        assert _wait_status(self.server, pid, {"canceled", "succeeded", "failed"}) == "canceled"

    @invariant()
    def health_matches(self) -> None:
        status = self.server.client.get("/health-check").json()["status"]
        assert status == ("BUSY" if len(self.running) >= SLOTS else "READY")


def test_slots_and_cancellation(server: Any) -> None:
    Slots.server = server("async_concurrent.py:Predictor")
    run = Slots.TestCase
    run.settings = settings(
        max_examples=8, stateful_step_count=12, deadline=None, suppress_health_check=list(HealthCheck)
    )
    run().runTest()
