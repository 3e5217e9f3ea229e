"""Fault tests: each kind of crash in user code fails that prediction clearly, hangs nothing,
and the server recovers (the worker is restarted and setup() runs again)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import ServerProcess

CRASH = "crash.py:Predictor"


def _pid(server: ServerProcess) -> int:
    """The worker's pid, from a healthy prediction (waits out a restart, bounded)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r = server.client.post("/predictions", json={"input": {"kind": "none"}})
        if r.status_code == 200 and r.json()["status"] == "succeeded":
            return int(re.search(r"pid (\d+)", r.json()["output"]).group(1))  # type: ignore[union-attr]
        time.sleep(0.05)
    raise AssertionError(f"no healthy prediction after the crash:\n{server.log}")


@pytest.fixture(scope="module")
def crash_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    server = ServerProcess(tmp_path_factory.mktemp("crash"), predictor=CRASH)
    server.wait_for("READY")
    yield server
    server.stop()


def test_raise_fails_only_that_prediction(crash_server: ServerProcess) -> None:
    before = _pid(crash_server)
    body = crash_server.client.post("/predictions", json={"input": {"kind": "raise"}}).json()
    assert body["status"] == "failed"
    assert "the model refused" in body["error"]
    assert _pid(crash_server) == before  # an exception does not need a new worker


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("exit", "sys.exit(3)"),
        ("os_exit", "code 4"),
        ("segfault", "SIGSEGV"),
        ("sigkill", "SIGKILL"),
    ],
)
def test_process_death_fails_the_prediction_and_the_worker_restarts(
    crash_server: ServerProcess, kind: str, words: str
) -> None:
    before = _pid(crash_server)
    r = crash_server.client.post("/predictions", json={"input": {"kind": kind}}, timeout=60)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "failed", body
    assert words in body["error"], body["error"]
    assert body["completed_at"] is not None
    after = _pid(crash_server)
    assert after != before
    health = crash_server.client.get("/health-check").json()
    assert health["status"] == "READY"
    assert 'cogkit_worker_restarts{kind="prediction"}' in crash_server.client.get("/metrics").text


def test_async_crash_is_reported_and_polling_sees_it(crash_server: ServerProcess) -> None:
    r = crash_server.client.post(
        "/predictions", json={"id": "boom", "input": {"kind": "os_exit"}}, headers={"Prefer": "respond-async"}
    )
    assert r.status_code == 202
    deadline = time.monotonic() + 60
    body = r.json()
    while body["status"] not in ("failed", "succeeded") and time.monotonic() < deadline:
        time.sleep(0.05)
        body = crash_server.client.get("/predictions/boom").json()
    assert body["status"] == "failed"
    assert "code 4" in body["error"]
    _pid(crash_server)


def test_worker_that_cannot_restart_is_defunct(fresh_server: Any, tmp_path: Path) -> None:
    s: ServerProcess = fresh_server("setup_once.py:Predictor", env={"SETUP_ONCE_MARKER": str(tmp_path / "m")})
    s.wait_for("READY")
    body = s.client.post("/predictions", json={"input": {"die": True}}).json()
    assert body["status"] == "failed"
    assert "code 9" in body["error"]
    s.wait_for("DEFUNCT", timeout=60)
    r = s.client.post("/predictions", json={"input": {}})
    assert r.status_code == 503
    assert r.json()["status"] == "failed"
    assert "DEFUNCT" in r.json()["error"]
