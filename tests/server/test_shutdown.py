"""How the server process ends and restarts, with real processes and signals: SIGTERM drains
(every client still gets a JSON answer), the tree is gone within the stated bound, the server
follows its parent out through stdin, and SIGHUP restarts the worker under a live server."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import httpx

from cogkit.server.lifecycle import EXIT_BOUND
from tests.server.conftest import FIXTURES, ServerProcess, alive, descendants, free_port, wait_gone
from tests.server.receiver import Receiver
from tests.server.test_api import poll
from tests.server.test_fast_path import _raw_put

STUBBORN = "stubborn.py:Predictor"
SLEEPER = "sleeper.py:Predictor"
GRACE = 1.0


def _read_response(sock: socket.socket, timeout: float) -> tuple[bytes, dict[str, Any]]:
    sock.settimeout(timeout)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = [
            int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")
        ]
        if length and len(body) >= length[0]:
            break
    head, _, body = data.partition(b"\r\n\r\n")
    return head, json.loads(body)


def _stopping_server(fresh_server: Any, predictor: str, **kw: Any) -> tuple[ServerProcess, list[int]]:
    env = {"COGKIT_SHUTDOWN_GRACE": str(GRACE), **kw.pop("env", {})}
    s: ServerProcess = fresh_server(predictor, explicit_shutdown=False, env=env, **kw)
    s.wait_for("READY")
    tree = s.descendants()
    assert tree, "the worker should be a child of the server"
    return s, tree


def test_sigterm_answers_a_sync_prediction_that_outlasts_the_grace_with_json(fresh_server: Any) -> None:
    s, tree = _stopping_server(fresh_server, STUBBORN)
    sock = _raw_put(s.port, "/predictions/held", {"input": {"seconds": 120}})
    try:
        poll(s, "/predictions/held", {"processing"})
        sent = time.monotonic()
        s.proc.send_signal(signal.SIGTERM)
        head, body = _read_response(sock, GRACE + EXIT_BOUND)
    finally:
        sock.close()
    assert head.startswith(b"HTTP/1.1 200")
    assert b"application/json" in head
    assert body["status"] == "canceled"
    assert "shut down" in body["error"] and "SIGTERM" in body["error"]
    assert s.proc.wait(timeout=GRACE + EXIT_BOUND) == 0
    assert wait_gone(tree, 5) == []
    assert time.monotonic() - sent < GRACE + EXIT_BOUND


def test_sigterm_lets_running_predictions_finish_and_refuses_new_ones(fresh_server: Any) -> None:
    s, tree = _stopping_server(fresh_server, SLEEPER, env={"COGKIT_SHUTDOWN_GRACE": "20"})
    result: dict[str, Any] = {}

    def run() -> None:
        with httpx.Client(base_url=s.url, timeout=60) as c:
            result["body"] = c.post("/predictions", json={"id": "short", "input": {"seconds": 2}}).json()

    worker = threading.Thread(target=run)
    worker.start()
    poll(s, "/predictions/short", {"processing"})
    s.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 5
    refused = None
    while refused is None and time.monotonic() < deadline:
        r = s.client.post("/predictions", json={"input": {"seconds": 0}})
        if r.status_code == 503:
            refused = r
    assert refused is not None, "a new prediction during the drain should get 503"
    assert refused.json()["status"] == "failed" and "shutting down" in refused.json()["error"]
    assert s.client.get("/readyz").status_code == 503
    worker.join(timeout=30)
    assert result["body"]["status"] == "succeeded"
    assert s.proc.wait(timeout=30) == 0
    assert wait_gone(tree, 5) == []


def test_sigterm_sends_the_completed_webhook_of_a_prediction_that_outlasts_the_grace(
    fresh_server: Any,
) -> None:
    with Receiver() as hooks:
        s, tree = _stopping_server(fresh_server, STUBBORN)
        s.client.post(
            "/predictions",
            json={
                "id": "bg",
                "input": {"seconds": 120},
                "webhook": hooks.url + "/done",
                "webhook_events_filter": ["completed"],
            },
            headers={"Prefer": "respond-async"},
        )
        poll(s, "/predictions/bg", {"processing"})
        s.proc.send_signal(signal.SIGTERM)
        got = hooks.wait_for(1, timeout=GRACE + EXIT_BOUND)
        assert got[0].json()["status"] == "canceled"
        assert "shut down" in got[0].json()["error"]
        assert s.proc.wait(timeout=GRACE + EXIT_BOUND) == 0
    assert wait_gone(tree, 5) == []


def test_sigterm_ends_a_stream_with_its_completed_event(fresh_server: Any) -> None:
    s, tree = _stopping_server(fresh_server, STUBBORN)
    events: list[str] = []
    with (
        httpx.Client(base_url=s.url, timeout=GRACE + EXIT_BOUND) as c,
        c.stream(
            "POST", "/predictions", json={"input": {"seconds": 120}}, headers={"Accept": "text/event-stream"}
        ) as r,
    ):
        assert r.headers["cache-control"] == "no-cache"
        assert r.headers["x-accel-buffering"] == "no"
        s.proc.send_signal(signal.SIGTERM)
        for line in r.iter_lines():
            events.append(line)
    assert "event: completed" in events
    final = json.loads(events[events.index("event: completed") + 1].removeprefix("data: "))
    assert final["status"] == "canceled"
    assert s.proc.wait(timeout=GRACE + EXIT_BOUND) == 0
    assert wait_gone(tree, 5) == []


def test_a_killed_parent_takes_the_server_and_its_worker_with_it(tmp_path: Any) -> None:
    """The CLI's arrangement: the server's stdin is a pipe from its parent. SIGKILL the parent
    (no chance to clean up): the pipe closes, and the server and its worker follow."""
    port = free_port()
    launcher = (
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, '-m', 'cogkit.server', '--host', '127.0.0.1', '--port', '{port}',"
        f" '--cwd', {str(FIXTURES)!r}, '--predictor', 'sleeper.py:Predictor', '--exit-on-stdin-eof'],"
        " stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", launcher], stdout=subprocess.PIPE, text=True)
    server_pid = int(parent.stdout.readline())  # type: ignore[union-attr]
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as c:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if c.get("/health-check").json()["status"] == "READY":
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        tree = [server_pid, *descendants(server_pid)]
        assert len(tree) >= 2
        parent.kill()
        parent.wait(timeout=10)
        assert wait_gone(tree, 10 + EXIT_BOUND) == []
    finally:
        if parent.poll() is None:
            parent.kill()
        if alive(server_pid):
            subprocess.run(["kill", "-9", str(server_pid)], check=False)


def test_the_environment_variable_turns_on_exit_at_stdin_eof(fresh_server: Any) -> None:
    s: ServerProcess = fresh_server(
        "hello.py:Predictor", stdin=subprocess.PIPE, env={"COGKIT_EXIT_ON_STDIN_EOF": "1"}
    )
    s.wait_for("READY")
    tree = s.descendants()
    s.proc.stdin.close()  # type: ignore[union-attr]
    assert s.proc.wait(timeout=10 + EXIT_BOUND) == 0
    assert wait_gone(tree, 5) == []
    assert "stdin closed" in s.log


def test_sighup_restarts_the_worker_under_a_live_server(fresh_server: Any) -> None:
    s: ServerProcess = fresh_server(SLEEPER)
    s.wait_for("READY")
    old_workers = s.descendants()
    s.client.post(
        "/predictions", json={"id": "cut", "input": {"seconds": 30}}, headers={"Prefer": "respond-async"}
    )
    poll(s, "/predictions/cut", {"processing"})
    s.proc.send_signal(signal.SIGHUP)
    cut = poll(s, "/predictions/cut", {"failed", "succeeded", "canceled"})
    assert cut["status"] == "failed"
    assert "restarted (SIGHUP)" in cut["error"]
    health = s.wait_for("READY")
    assert health["setup"]["status"] == "succeeded"
    assert s.proc.poll() is None
    assert wait_gone(old_workers, 10) == []
    assert set(s.descendants()).isdisjoint(old_workers)
    assert s.client.post("/predictions", json={"input": {"seconds": 0}}).json()["status"] == "succeeded"
    assert 'cogkit_worker_restarts{kind="prediction"} 1.0' in s.client.get("/metrics").text


def test_a_prediction_sent_during_a_sighup_restart_waits_for_the_new_worker(fresh_server: Any) -> None:
    s: ServerProcess = fresh_server("hello.py:Predictor")
    s.wait_for("READY")
    for _ in range(3):
        s.proc.send_signal(signal.SIGHUP)
        body = s.client.post("/predictions", json={"input": {"text": "again"}}).json()
        assert body["status"] == "succeeded", body
        assert body["output"] == "hello again"
    assert s.proc.poll() is None
