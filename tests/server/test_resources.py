"""What a prediction can make the server hold is bounded, on a real server: downloads under a
deadline and cancelable while they run, webhooks that cannot slow a download, output and logs
within their caps, the finished cache within its bytes, hostile file outputs refused, and every
admitted prediction ends, whatever its output does to the encoders."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import ServerProcess
from tests.server.receiver import Dripper, Receiver, Tarpit
from tests.server.test_api import poll

FILES = "files.py:Predictor"
FLOOD = "flood.py:Predictor"
DONE = {"succeeded", "failed", "canceled"}


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_dripping_download_cannot_hold_a_slot_past_the_deadline(fresh_server: Any) -> None:
    s: ServerProcess = fresh_server(FILES, args=["--download-timeout", "2"])
    s.wait_for("READY")
    with Dripper(interval=0.5) as drip:
        body = s.client.post("/predictions", json={"input": {"image": drip.url + "/slow.bin"}}).json()
        assert body["status"] == "failed"
        assert "did not finish within 2s" in body["error"] and "COGKIT_DOWNLOAD_TIMEOUT" in body["error"]
        _wait(lambda: drip.held() == 0, 10, "the dripping connection was left open")
    ok = s.client.post("/predictions", json={"input": {"image": "data:,fine"}}).json()
    assert ok["status"] == "succeeded"


def test_cancel_ends_a_prediction_while_it_downloads(server: Any) -> None:
    s = server(FILES)
    with Dripper(interval=0.5) as drip:
        s.client.post(
            "/predictions",
            json={"id": "dl", "input": {"image": drip.url + "/x.bin"}},
            headers={"Prefer": "respond-async"},
        )
        _wait(lambda: drip.held() == 1, 10, "the download never started")
        assert s.client.get("/predictions/dl").json()["status"] == "starting"
        assert s.client.post("/predictions/dl/cancel").status_code == 200
        assert poll(s, "/predictions/dl", DONE)["status"] == "canceled"
        _wait(lambda: drip.held() == 0, 10, "the canceled download kept its connection")
    assert s.client.post("/predictions", json={"input": {"image": "data:,x"}}).json()["status"] == "succeeded"


def test_webhooks_to_a_tarpit_do_not_slow_a_download(fresh_server: Any) -> None:
    s: ServerProcess = fresh_server(FILES)
    s.wait_for("READY")
    with Tarpit() as pit, Receiver() as files:
        files.files["/in/a.bin"] = b"abc"
        for n in range(30):
            s.client.post(
                "/predictions",
                json={"id": f"t{n}", "input": {"image": "data:,x"}, "webhook": pit.url},
                headers={"Prefer": "respond-async"},
            )
            poll(s, f"/predictions/t{n}", DONE)
        body = s.client.post("/predictions", json={"input": {"image": files.url + "/in/a.bin"}}).json()
        assert body["status"] == "succeeded", body
        assert pit.held() > 0  # the tarpit still holds its webhooks: they did not get in the way


def test_a_flood_of_output_fails_at_the_cap_and_memory_stays_bounded(fresh_server: Any) -> None:
    """A generator yielding 20 kB chunks for ever, to a stream client that never reads."""
    s: ServerProcess = fresh_server(FLOOD, args=["--max-output-bytes", "20000000"])
    s.wait_for("READY")
    base = _rss_mib(s.proc.pid)
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    try:
        body = b'{"input": {}}'
        sock.sendall(
            b"PUT /predictions/flood HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        done = poll(s, "/predictions/flood", DONE, timeout=120)
    finally:
        sock.close()
    assert done["status"] == "failed"
    assert "COGKIT_MAX_OUTPUT_BYTES" in done["error"]
    assert _rss_mib(s.proc.pid) - base < 400
    assert s.client.get("/health-check").json()["status"] == "READY"


def test_logs_are_kept_within_their_cap(fresh_server: Any) -> None:
    s: ServerProcess = fresh_server(FLOOD, args=["--max-log-bytes", "100000"])
    s.wait_for("READY")
    body = s.client.post("/predictions", json={"input": {"logs": True, "count": 200, "size": 5000}}).json()
    assert body["status"] == "succeeded"
    assert body["logs"].startswith("[cogkit: ")
    assert 50_000 < len(body["logs"]) < 100_200  # whole chunks are dropped, the newest kept


def test_the_finished_cache_never_passes_its_cap(fresh_server: Any) -> None:
    s: ServerProcess = fresh_server(FLOOD, args=["--finished-cache-bytes", "200000"])
    s.wait_for("READY")
    big = s.client.put("/predictions/big", json={"input": {"count": 20, "size": 20000}}).json()
    assert big["status"] == "succeeded" and len(big["output"]) == 20  # the caller got it all
    assert s.client.get("/predictions/big").status_code == 404  # but it was not kept
    for n in range(12):
        s.client.put(f"/predictions/small{n}", json={"input": {"count": 1, "size": 20000}})
    assert s.client.get("/predictions/small11").status_code == 200
    assert s.client.get("/predictions/small0").status_code == 404  # pushed out, oldest first


@pytest.mark.parametrize("kind", ["fifo", "dev_zero", "proc_environ", "symlink"])
def test_a_file_output_that_is_not_a_regular_file_is_refused(server: Any, kind: str) -> None:
    s = server("bad_outputs.py:Predictor")
    s.client.post(
        "/predictions",
        json={"id": f"bad-{kind}", "input": {"kind": kind}},
        headers={"Prefer": "respond-async"},
    )
    # A FIFO without a writer must not block the server: it answers while the output is read.
    assert s.client.get("/health-check", timeout=5).status_code == 200
    body = poll(s, f"/predictions/bad-{kind}", DONE)
    assert body["status"] == "failed"
    assert "not a regular file" in body["error"]
    assert body["output"] is None


def test_a_file_output_over_the_inline_cap_is_refused_with_a_hint(fresh_server: Any) -> None:
    s: ServerProcess = fresh_server("bad_outputs.py:Predictor", args=["--max-output-file-bytes", "1000000"])
    s.wait_for("READY")
    body = s.client.post("/predictions", json={"input": {"kind": "big"}}).json()
    assert body["status"] == "failed"
    assert "larger than 1000000 bytes" in body["error"] and "--upload-url" in body["error"]
    fine = s.client.post("/predictions", json={"input": {"kind": "fine"}}).json()
    assert fine["status"] == "succeeded" and fine["output"].startswith("data:")


def test_input_nested_a_thousand_deep_is_a_4xx(server: Any) -> None:
    s = server("hello.py:Predictor")
    body = '{"input": {"text": "x", "data": ' + "[" * 1000 + "1" + "]" * 1000 + "}}"
    r = s.client.post("/predictions", content=body.encode(), headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500


@pytest.mark.parametrize("depth", [900, 5000])
def test_every_admitted_prediction_ends_whatever_its_output(server: Any, depth: int) -> None:
    """Output nested deep enough to break an encoder: the sync answer, the completed webhook
    and the stream's completed event all still come."""
    s = server("deep.py:Predictor")
    sync = s.client.post("/predictions", json={"input": {"depth": depth}})
    assert sync.status_code == 200 and sync.json()["status"] in DONE
    with Receiver() as hooks:
        s.client.post(
            "/predictions",
            json={"id": f"deep{depth}", "input": {"depth": depth}, "webhook": hooks.url},
            headers={"Prefer": "respond-async"},
        )
        assert poll(s, f"/predictions/deep{depth}", DONE)["status"] in DONE
        _wait(lambda: any(h.json()["status"] in DONE for h in hooks.requests), 20, "no completed webhook")
    with s.client.stream(
        "POST", "/predictions", json={"input": {"depth": depth}}, headers={"Accept": "text/event-stream"}
    ) as r:
        assert "event: completed" in list(r.iter_lines())


def test_a_prediction_sent_during_a_long_setup_waits_at_most_the_start_wait_then_gets_503(
    fresh_server: Any,
) -> None:
    s: ServerProcess = fresh_server("slow_setup.py:Predictor", args=["--start-wait", "1"])
    s.wait_for("STARTING")
    for headers in ({}, {"Prefer": "respond-async"}):
        r = s.client.post("/predictions", json={"input": {}}, headers=headers, timeout=30)
        assert r.status_code == 503
        assert r.json()["status"] == "failed" and "STARTING" in r.json()["error"]
    assert s.client.get("/predictions/anything").status_code == 404  # nothing was admitted
