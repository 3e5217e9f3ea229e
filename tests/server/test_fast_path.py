"""The prediction hot path and start-up: what the speed-ups must not break.

A synchronous request runs in its own HTTP handler (no task hand-off), routes are plain
request/response routes, metric children are cached and httpx is imported on first use.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

from cogkit.server.outbound import LazyClient
from cogkit.server.prediction import now_iso
from tests.server.receiver import Receiver
from tests.server.test_api import HELLO, SLEEPER, poll


def _raw_put(port: int, path: str, body: dict[str, Any]) -> socket.socket:
    """Send a PUT and return the open socket without reading the answer."""
    data = json.dumps(body).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = f"PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    sock.sendall(head.encode() + data)
    return sock


def test_sync_prediction_runs_on_when_its_client_goes_away(server: Any) -> None:
    s = server(SLEEPER)
    sock = _raw_put(s.port, "/predictions/orphan", {"input": {"seconds": 0.5}})
    poll(s, "/predictions/orphan", {"processing"})
    sock.close()
    done = poll(s, "/predictions/orphan", {"succeeded", "failed", "canceled"})
    assert done["status"] == "succeeded"
    assert done["output"] == "slept 0.5"
    # The slot came back: the next synchronous request is served, not refused.
    r = s.client.post("/predictions", json={"input": {"seconds": 0}})
    assert r.status_code == 200, r.text


def test_sync_put_joined_by_a_second_put_runs_once(server: Any) -> None:
    s = server(SLEEPER)
    sock = _raw_put(s.port, "/predictions/joined", {"input": {"seconds": 0.3}})
    try:
        poll(s, "/predictions/joined", {"processing"})
        second = s.client.put("/predictions/joined", json={"input": {"seconds": 0.3}})
        reply = b""
        while b"slept" not in reply:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed early: {reply!r}"
            reply += chunk
    finally:
        sock.close()
    assert reply.startswith(b"HTTP/1.1 200")
    assert second.status_code == 200
    assert second.json()["logs"] == "sleeping\n"  # one run, two answers
    assert second.json()["output"] == "slept 0.3"


def test_metrics_label_plain_routes_by_their_template(server: Any) -> None:
    s = server(HELLO)
    assert s.client.put("/predictions/labelled", json={"input": {"text": "x"}}).status_code == 200
    assert s.client.get("/predictions/labelled").status_code == 200
    assert s.client.get("/no-such-route").status_code == 404
    text = s.client.get("/metrics").text
    assert 'method="PUT",route="/predictions/{prediction_id}",status="200"' in text
    assert 'method="GET",route="/predictions/{prediction_id}",status="200"' in text
    assert 'route="unmatched",status="404"' in text
    assert 'cogkit_http_request_duration_seconds_count{route="/predictions/{prediction_id}"}' in text


def test_wrong_method_is_405_json(server: Any) -> None:
    r = server(HELLO).client.delete("/predictions")
    assert r.status_code == 405
    assert r.json() == {"detail": "Method Not Allowed"}


def test_server_import_leaves_httpx_fastapi_and_pydantic_out() -> None:
    """httpx (70-100 ms) loads on first download/upload/webhook; the app is Starlette's, so
    neither FastAPI (~160 ms) nor pydantic is imported by the server at all."""
    code = (
        "import sys, asyncio\n"
        "from cogkit.server import serve, app, lifecycle, outbound\n"
        "asyncio.run(outbound.Outbound(host='127.0.0.1', port=1).aclose())\n"
        "print(','.join(sorted(m for m in ('httpx', 'fastapi', 'pydantic') if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == ""


def test_lazy_client_makes_real_requests() -> None:
    async def go(url: str) -> tuple[bool, int, bool]:
        client = LazyClient(timeout=10.0)
        before = client.started
        response = await client.post(url + "/hook", content=b"{}")
        after = client.started
        await client.aclose()
        return before, response.status_code, after

    with Receiver() as r:
        before, status, after = asyncio.run(go(r.url))
        assert [x.path for x in r.requests] == ["/hook"]
    assert (before, status, after) == (False, 200, True)


def test_now_iso_is_utc_iso8601_with_microseconds() -> None:
    before = datetime.now(timezone.utc)
    stamps = [now_iso() for _ in range(1000)]
    after = datetime.now(timezone.utc)
    parsed = [datetime.fromisoformat(s) for s in stamps]
    assert all(p.utcoffset() == timedelta(0) for p in parsed)
    assert all(len(s) == len("2026-01-01T00:00:00.000000+00:00") for s in stamps)
    assert before - timedelta(microseconds=1) <= parsed[0] and parsed[-1] <= after + timedelta(microseconds=1)
    assert parsed == sorted(parsed)


def test_the_route_wrapper_answers_every_error_and_counts_every_request() -> None:
    """Without middleware, each route's wrapper maps errors to their answers (Cog's shapes; a
    bug is a 500 in JSON) and records the request under its template."""
    import httpx
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.routing import Route

    from cogkit.server.app import _instrumented
    from cogkit.server.http_errors import NotFound, RequestInvalid, WorkerUnavailable
    from cogkit.server.metrics import ServerMetrics

    failures = {
        "missing": NotFound("no prediction with id 'x'"),
        "invalid": RequestInvalid([{"loc": ["body", "input", "n"], "msg": "bad", "type": "value_error"}]),
        "down": WorkerUnavailable("the model cannot run predictions"),
        "bug": RuntimeError("a bug of ours"),
    }

    async def fail(request: Request) -> Any:
        raise failures[request.path_params["what"]]

    metrics = ServerMetrics()
    app = Starlette(routes=[_instrumented(Route("/fail/{what}", fail, methods=["GET"]), metrics)])

    async def go() -> dict[str, tuple[int, Any]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return {
                what: ((r := await client.get(f"/fail/{what}")).status_code, r.json()) for what in failures
            }

    got = asyncio.run(go())
    assert got["missing"] == (404, {"detail": "no prediction with id 'x'"})
    assert got["invalid"] == (
        422,
        {"detail": [{"loc": ["body", "input", "n"], "msg": "bad", "type": "value_error"}]},
    )
    assert got["down"] == (503, {"status": "failed", "error": "the model cannot run predictions"})
    assert got["bug"] == (500, {"detail": "internal server error: RuntimeError"})
    text = metrics.render().decode()
    for status in (404, 422, 503, 500):
        assert (
            f'cogkit_http_requests_total{{method="GET",route="/fail/{{what}}",status="{status}"}} 1.0' in text
        )
