"""409 on the cheapest path: when every slot is busy, the answer comes before the body is
parsed or validated, except for a request that may name a known prediction."""

from __future__ import annotations

import socket
from typing import Any

from tests.server.test_api import SLEEPER, poll

ASYNC = {"Prefer": "respond-async"}


def _busy_count(server: Any) -> float:
    for line in server.client.get("/metrics").text.splitlines():
        if line.startswith('cogkit_predictions_rejected_total{kind="prediction",reason="busy"}'):
            return float(line.split()[-1])
    return 0.0


def test_a_full_server_answers_409_before_reading_the_input(fresh_server: Any) -> None:
    s = fresh_server(SLEEPER)
    s.wait_for("READY")
    held = s.client.put("/predictions/hold", json={"input": {"seconds": 30}}, headers=ASYNC)
    assert held.status_code == 202
    poll(s, "/predictions/hold", {"processing"})
    before = _busy_count(s)
    refused = [
        s.client.post("/predictions", json={"input": {"seconds": 0}}),
        s.client.post("/predictions", json={"input": {"seconds": "not a number"}}),  # invalid, not read
        s.client.post("/predictions", content=b"{not json", headers={"Content-Type": "application/json"}),
        s.client.put("/predictions/unknown", json={"input": {"seconds": 0}}),
    ]
    for r in refused:
        assert r.status_code == 409, r.text
        assert "slot" in r.json()["detail"]
    assert _busy_count(s) == before + len(refused)

    # A request that names the prediction that holds the slot is answered with it, not refused.
    again = s.client.put("/predictions/hold", json={"input": {"seconds": 30}}, headers=ASYNC)
    assert again.status_code == 202 and again.json()["id"] == "hold"
    by_body = s.client.post("/predictions", json={"id": "hold", "input": {"seconds": 30}}, headers=ASYNC)
    assert by_body.status_code == 202 and by_body.json()["id"] == "hold"

    assert s.client.post("/predictions/hold/cancel").status_code == 200
    assert poll(s, "/predictions/hold", {"canceled", "failed", "succeeded"})["status"] == "canceled"
    # With a free slot, validation runs again.
    invalid = s.client.post("/predictions", json={"input": {"seconds": "not a number"}})
    assert invalid.status_code == 422
    assert invalid.json()["detail"][0]["loc"] == ["body", "input", "seconds"]
    assert s.client.post("/predictions", json={"input": {"seconds": 0}}).status_code == 200


def _count(server: Any, prefix: str) -> float:
    for line in server.client.get("/metrics").text.splitlines():
        if line.startswith(prefix):
            return float(line.split()[-1])
    return 0.0


def test_refusals_from_the_protocol_are_counted_like_the_apps(fresh_server: Any) -> None:
    """The 409s answered by the HTTP protocol (plain ids) and by the app (an id it must decode)
    are counted alike: as rejected predictions and as HTTP requests of their route."""
    s = fresh_server(SLEEPER)
    s.wait_for("READY")
    assert (
        s.client.put("/predictions/hold", json={"input": {"seconds": 30}}, headers=ASYNC).status_code == 202
    )
    poll(s, "/predictions/hold", {"processing"})
    posts = 'cogkit_http_requests_total{method="POST",route="/predictions",status="409"}'
    puts = 'cogkit_http_requests_total{method="PUT",route="/predictions/{prediction_id}",status="409"}'
    before = (_busy_count(s), _count(s, posts), _count(s, puts))
    for _ in range(5):
        assert s.client.post("/predictions", json={"input": {"seconds": 0}}).status_code == 409
    for path in ("/predictions/plain-id", "/predictions/needs%20decoding"):
        assert s.client.put(path, json={"input": {"seconds": 0}}).status_code == 409
    after = (_busy_count(s), _count(s, posts), _count(s, puts))
    assert [b - a for a, b in zip(before, after, strict=True)] == [7, 5, 2]
    # Keep-alive and HTTP/1.0 clients get the same answer (one connection each, closed or not).
    with socket.create_connection(("127.0.0.1", s.port), timeout=10) as sock:
        request = b"POST /predictions HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}"
        sock.sendall(request)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 409") and b"connection: close" in reply and b"slot" in reply
    assert s.client.post("/predictions/hold/cancel").status_code == 200
