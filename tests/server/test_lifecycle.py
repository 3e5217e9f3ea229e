"""Contract tests: concurrency, trainings, setup outcomes, health states and shutdown."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.conftest import FIXTURES, ServerProcess, free_port
from tests.server.test_api import poll

CONCURRENT = "async_concurrent.py:Predictor"


def _parallel(server: ServerProcess, n: int, seconds: float) -> list[int]:
    def one(i: int) -> int:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            return c.post("/predictions", json={"input": {"seconds": seconds, "tag": str(i)}}).status_code

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def test_concurrent_decorator_sets_the_slots(server: Any) -> None:
    s = server(CONCURRENT)
    assert _parallel(s, 4, 0.3) == [200] * 4
    assert 'cogkit_prediction_slots{kind="prediction"} 4.0' in s.client.get("/metrics").text


def test_all_slots_busy_gives_409(server: Any) -> None:
    s = server(CONCURRENT)
    for i in range(4):
        s.client.post(
            "/predictions",
            json={"id": f"slot{i}", "input": {"seconds": 30}},
            headers={"Prefer": "respond-async"},
        )
    for i in range(4):
        poll(s, f"/predictions/slot{i}", {"processing"})
    assert s.client.get("/health-check").json()["status"] == "BUSY"
    assert s.client.post("/predictions", json={"input": {}}).status_code == 409
    for i in range(4):
        s.client.post(f"/predictions/slot{i}/cancel")
    for i in range(4):
        assert poll(s, f"/predictions/slot{i}", {"canceled"})["status"] == "canceled"
    assert s.client.post("/predictions", json={"input": {}}).status_code == 200


def test_cog_max_concurrency_overrides_the_decorator(fresh_server: Any) -> None:
    s: ServerProcess = fresh_server(CONCURRENT, env={"COG_MAX_CONCURRENCY": "2"})
    s.wait_for("READY")
    for i in range(2):
        s.client.post(
            "/predictions",
            json={"id": f"c{i}", "input": {"seconds": 30}},
            headers={"Prefer": "respond-async"},
        )
    for i in range(2):
        poll(s, f"/predictions/c{i}", {"processing"})
    assert s.client.post("/predictions", json={"input": {}}).status_code == 409


def test_concurrency_above_one_needs_async(fresh_server: Any) -> None:
    s: ServerProcess = fresh_server("sleeper.py:Predictor", env={"COG_MAX_CONCURRENCY": "3"})
    health = s.wait_for("SETUP_FAILED")
    assert "async" in health["setup"]["logs"]


def test_trainings_routes_run_the_train_function(fresh_server: Any) -> None:
    s: ServerProcess = fresh_server("hello.py:Predictor", train="train.py:train")
    s.wait_for("READY")
    assert s.client.get("/").json()["trainings_url"] == "/trainings"
    body = s.client.post("/trainings", json={"input": {"steps": 3}}).json()
    assert body["status"] == "succeeded", body
    assert body["output"] == {"weights": "trained-3"}
    assert "training for 3 steps" in body["logs"]
    again = s.client.put("/trainings/t1", json={"input": {"steps": 2}}).json()
    assert s.client.get("/trainings/t1").json() == again
    assert s.client.post("/trainings", json={"input": {"steps": 0}}).status_code == 422
    assert "/trainings" in s.client.get("/openapi.json").json()["paths"]
    assert s.client.post("/predictions", json={"input": {"text": "x"}}).json()["output"] == "hello x"


def test_no_trainings_without_a_train_reference(server: Any) -> None:
    assert server("hello.py:Predictor").client.post("/trainings", json={"input": {}}).status_code == 404


def test_failed_setup_reports_logs_and_refuses_predictions(fresh_server: Any) -> None:
    s: ServerProcess = fresh_server("setup_fails.py:Predictor")
    health = s.wait_for("SETUP_FAILED")
    assert health["setup"]["status"] == "failed"
    assert "loading weights" in health["setup"]["logs"]
    assert "weights are missing" in health["setup"]["logs"]
    for r in (
        s.client.post("/predictions", json={"input": {"text": "x"}}),
        s.client.put("/predictions/after-failure", json={"input": {"text": "x"}}),
    ):
        # Cog's answer, status and body: `{"status": "failed", "error": …}`
        assert r.status_code == 503
        assert set(r.json()) == {"status", "error"}
        assert r.json()["status"] == "failed"
        assert "SETUP_FAILED" in r.json()["error"] and "weights are missing" in r.json()["error"]


def test_setup_timeout_bounds_setup(fresh_server: Any) -> None:
    s: ServerProcess = fresh_server("slow_setup.py:Predictor", env={"COG_SETUP_TIMEOUT": "1"})
    health = s.wait_for("SETUP_FAILED")
    assert "COG_SETUP_TIMEOUT" in health["setup"]["logs"] + str(health)
    assert "loading a very large model" in health["setup"]["logs"]


def test_predictions_sent_during_setup_wait_for_it(fresh_server: Any) -> None:
    s: ServerProcess = fresh_server("hello.py:Predictor")
    deadline_client = httpx.Client(base_url=s.url, timeout=60)
    s.wait_for("STARTING", "READY")
    r = deadline_client.post("/predictions", json={"input": {"text": "early"}})
    deadline_client.close()
    assert r.status_code == 200
    assert r.json()["output"] == "hello early"


def test_unhealthy_predictor_is_reported(fresh_server: Any) -> None:
    s: ServerProcess = fresh_server("unhealthy.py:Predictor")
    assert s.wait_for("UNHEALTHY", "READY")["status"] == "UNHEALTHY"


def test_post_shutdown_stops_the_server(fresh_server: Any) -> None:
    s: ServerProcess = fresh_server("hello.py:Predictor")
    s.wait_for("READY")
    assert s.client.post("/shutdown").status_code == 200
    assert s.proc.wait(timeout=30) == 0


def test_sigterm_is_ignored_with_await_explicit_shutdown(fresh_server: Any) -> None:
    s: ServerProcess = fresh_server("hello.py:Predictor")
    s.wait_for("READY")
    s.proc.send_signal(signal.SIGTERM)
    with pytest.raises(subprocess.TimeoutExpired):
        s.proc.wait(timeout=1)
    assert s.client.get("/health-check").json()["status"] == "READY"


def test_sigterm_stops_the_server_by_default(fresh_server: Any) -> None:
    s: ServerProcess = fresh_server("hello.py:Predictor", explicit_shutdown=False)
    s.wait_for("READY")
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(timeout=30) == 0


def test_worker_spawns_before_the_heavy_imports() -> None:
    """`launch` (which spawns the worker) must not import fastapi, uvicorn or httpx itself."""
    code = (
        "import sys, cogkit.server.launch, cogkit.server.__main__\n"
        "heavy = sorted(m for m in ('fastapi', 'uvicorn', 'httpx', 'starlette') if m in sys.modules)\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == ""


def test_library_serve_entry_runs_a_server(tmp_path: Path) -> None:
    port = free_port()
    code = (
        "from pathlib import Path\nfrom cogkit.server import serve\n"
        f"serve(predictor='hello.py:Predictor', cwd=Path({str(FIXTURES)!r}), host='127.0.0.1', port={port},"
        " worker_python=None, await_explicit_shutdown=True)\n"
    )
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=log, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as c:
            deadline = time.monotonic() + 60
            status = None
            while time.monotonic() < deadline and status != "READY":
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                try:
                    status = c.get("/health-check").json()["status"]
                except httpx.TransportError:
                    time.sleep(0.05)
            assert c.post("/predictions", json={"input": {"text": "lib"}}).json()["output"] == "hello lib"
            c.post("/shutdown")
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def test_probes_follow_the_model_state(fresh_server: Any) -> None:
    """/readyz and /livez answer by status code, which is all a kubelet reads."""
    slow: ServerProcess = fresh_server("slow_setup.py:Predictor", env={"COG_SETUP_TIMEOUT": "3"})
    slow.wait_for("STARTING")
    assert slow.client.get("/readyz").status_code == 503  # STARTING: not ready,
    assert slow.client.get("/livez").status_code == 200  # but alive
    slow.wait_for("SETUP_FAILED")
    assert slow.client.get("/readyz").status_code == 503
    assert slow.client.get("/livez").json() == {"status": "SETUP_FAILED"}
    assert slow.client.get("/livez").status_code == 503

    s: ServerProcess = fresh_server("hello.py:Predictor")
    s.wait_for("READY")
    assert s.client.get("/readyz").json() == {"status": "READY"}
    assert s.client.get("/livez").status_code == 200

    sick: ServerProcess = fresh_server("unhealthy.py:Predictor")
    sick.wait_for("UNHEALTHY", "READY")
    assert sick.client.get("/readyz").status_code == 503
    assert sick.client.get("/livez").status_code == 200
