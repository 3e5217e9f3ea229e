"""`cogkit playground URL`'s proxy forwards Cog's routes to its one upstream, and nothing anywhere else.

A canary HTTP server listens on 127.0.0.2 (another loopback host) and records every request it
gets; each test that tries to reach another host through the proxy ends by asserting it got none.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from cogkit.errors import UsageError
from cogkit.playground import proxy
from tests.playground.conftest import PlaygroundProxy, free_port


class Recorder(ThreadingHTTPServer):
    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.hits: list[str] = []


class CanaryHandler(BaseHTTPRequestHandler):
    def _any(self) -> None:
        self.server.hits.append(f"{self.command} {self.path}")
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"canary reached")

    do_GET = do_POST = do_PUT = do_DELETE = _any

    def log_message(self, *args: Any) -> None:
        pass


class HostileUpstream(BaseHTTPRequestHandler):
    """An upstream that answers with a page, a cookie and a redirect to the canary."""

    canary = ""

    def do_GET(self) -> None:
        self.server.hits.append(f"GET {self.path}")
        if self.path == "/openapi.json":
            self.send_response(302)
            self.send_header("Location", self.canary + "/stolen")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Set-Cookie", "session=stolen")
        self.end_headers()
        self.wfile.write(b"<script>alert(1)</script>")

    def log_message(self, *args: Any) -> None:
        pass


def serve_in_thread(server: ThreadingHTTPServer) -> Iterator[ThreadingHTTPServer]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture
def canary() -> Iterator[Recorder]:
    yield from serve_in_thread(Recorder(("127.0.0.2", 0), CanaryHandler))


@pytest.fixture
def hostile_upstream(canary: Recorder) -> Iterator[Recorder]:
    handler = type("Handler", (HostileUpstream,), {"canary": f"http://127.0.0.2:{canary.server_address[1]}"})
    yield from serve_in_thread(Recorder(("127.0.0.1", 0), handler))


@pytest.fixture
def hello_proxy(model: Any, tmp_path: Path) -> Iterator[PlaygroundProxy]:
    running = PlaygroundProxy(tmp_path, model("hello").url)
    yield running
    running.stop()


def get(
    port: int, target: str, *, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict, bytes]:
    """Send this exact request target (no client normalises it) and read the answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in {"Host": f"127.0.0.1:{port}", **(headers or {})}.items():
            conn.putheader(name, value)
        conn.endheaders()
        answer = conn.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        conn.close()


def test_the_cli_says_where_the_page_is(hello_proxy: PlaygroundProxy) -> None:
    assert f"at {hello_proxy.url}/playground" in hello_proxy.log
    page = httpx.get(hello_proxy.url + "/playground")
    assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    settings = httpx.get(hello_proxy.url + "/playground/settings.json").json()
    assert settings["upstream"].startswith("http://127.0.0.1:")


def test_cog_routes_are_forwarded(hello_proxy: PlaygroundProxy, model: Any) -> None:
    upstream = model("hello").url
    assert httpx.get(hello_proxy.url + "/openapi.json").json() == httpx.get(upstream + "/openapi.json").json()
    assert httpx.get(hello_proxy.url + "/").json()["predictions_url"] == "/predictions"
    answer = httpx.put(hello_proxy.url + "/predictions/run-1", json={"input": {"text": "proxy"}}, timeout=60)
    assert answer.json()["output"] == "hello proxy"
    assert httpx.get(hello_proxy.url + "/predictions/run-1").json()["status"] == "succeeded"
    assert (
        httpx.post(hello_proxy.url + "/predictions", json={"input": {"text": "x"}}, timeout=60).status_code
        == 200
    )
    assert (
        answer.headers["x-content-type-options"] == "nosniff"
        and "sandbox" in answer.headers["content-security-policy"]
    )


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("GET", "//127.0.0.2:{canary}/openapi.json"),
        ("GET", "///127.0.0.2:{canary}/"),
        ("GET", "/@127.0.0.2:{canary}/"),
        ("GET", "/\\\\127.0.0.2:{canary}/"),
        ("GET", "/predictions/../shutdown"),
        ("GET", "/predictions/..%2F..%2Fshutdown"),
        ("GET", "/%2e%2e/openapi.json"),
        ("GET", "/predictions/%2F%2F127.0.0.2"),
        ("GET", "/predictions/.."),
        ("POST", "/shutdown"),
        ("GET", "/metrics"),
        ("GET", "/predictions"),
        ("DELETE", "/predictions/abc"),
        ("GET", "/openapi.json/../../x"),
    ],
)
def test_requests_for_other_routes_or_hosts_are_refused(
    hello_proxy: PlaygroundProxy, canary: Recorder, method: str, target: str
) -> None:
    status, _, body = get(hello_proxy.port, target.format(canary=canary.server_address[1]), method=method)
    assert status in (400, 404, 405), (status, body)
    assert canary.hits == []


def test_absolute_form_targets_and_queries_still_reach_only_the_upstream(
    hello_proxy: PlaygroundProxy, canary: Recorder, model: Any
) -> None:
    port = canary.server_address[1]
    expected = httpx.get(model("hello").url + "/openapi.json").json()
    for target in (f"http://127.0.0.2:{port}/openapi.json", f"/openapi.json?url=http://127.0.0.2:{port}/"):
        status, _, body = get(hello_proxy.port, target)
        assert status == 200 and json.loads(body) == expected
    status, _, _ = get(hello_proxy.port, "/", headers={"X-Forwarded-Host": f"127.0.0.2:{port}"})
    assert status == 200
    assert canary.hits == []


def test_other_sites_cannot_use_the_proxy(hello_proxy: PlaygroundProxy) -> None:
    body = json.dumps({"input": {"text": "x"}})
    url = hello_proxy.url + "/predictions"
    refused = [
        httpx.post(
            url, content=body, headers={"Content-Type": "application/json", "Origin": "http://evil.example"}
        ),
        httpx.post(
            url, content=body, headers={"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}
        ),
        httpx.post(
            url, content=body, headers={"Content-Type": "text/plain"}
        ),  # a form post needs no preflight
        httpx.get(hello_proxy.url + "/openapi.json", headers={"Host": "rebound.example"}),  # DNS rebinding
    ]
    assert [r.status_code for r in refused] == [403, 403, 415, 421]
    same_origin = {
        "Content-Type": "application/json",
        "Origin": hello_proxy.url,
        "Sec-Fetch-Site": "same-origin",
    }
    assert httpx.post(url, content=body, headers=same_origin, timeout=60).status_code == 200


def test_request_bodies_are_bounded(hello_proxy: PlaygroundProxy) -> None:
    declared = {"Content-Type": "application/json", "Content-Length": str(proxy.MAX_REQUEST_BYTES + 1)}
    status, _, body = get(hello_proxy.port, "/predictions/big", method="PUT", headers=declared)
    assert status == 413 and b"MiB" in body


def test_streamed_bodies_over_the_limit_are_cut_off(
    hostile_upstream: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No Content-Length: only counting what arrives can stop it (the app in-process, with a small limit)."""
    monkeypatch.setattr(proxy, "MAX_REQUEST_BYTES", 1000)
    app = proxy.build_app(proxy.Upstream.parse(f"http://127.0.0.1:{hostile_upstream.server_address[1]}"))

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"x" * 300

    async def send() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            answer = await client.put(
                "/predictions/abc", content=chunks(), headers={"Content-Type": "application/json"}
            )
        return answer.status_code

    with ThreadPoolExecutor(1) as thread:  # its own event loop: Playwright's may be running in this one
        assert thread.submit(asyncio.run, send()).result(timeout=60) == 413
    assert hostile_upstream.hits == []


def test_an_upstream_answer_is_never_a_page_and_redirects_are_not_followed(
    hostile_upstream: Recorder, canary: Recorder, tmp_path: Path
) -> None:
    running = PlaygroundProxy(tmp_path, f"http://127.0.0.1:{hostile_upstream.server_address[1]}")
    try:
        page = httpx.get(running.url + "/")
        assert page.headers["content-type"] == "application/json"
        assert "sandbox" in page.headers["content-security-policy"]
        assert "set-cookie" not in page.headers
        redirect = httpx.get(running.url + "/openapi.json")
        assert redirect.status_code == 302 and "location" not in redirect.headers
    finally:
        running.stop()
    assert canary.hits == []


def test_an_unreachable_upstream_is_a_clear_502(tmp_path: Path) -> None:
    running = PlaygroundProxy(tmp_path, f"http://127.0.0.1:{free_port()}")
    try:
        answer = httpx.get(running.url + "/openapi.json")
        assert answer.status_code == 502 and answer.json()["detail"].startswith(
            "cannot reach http://127.0.0.1:"
        )
    finally:
        running.stop()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com", "is not the URL of a Cog server"),
        ("http://", "is not the URL of a Cog server"),
        ("http://127.0.0.1:5000/?x=1", r"takes no \?query"),
        ("http://127.0.0.1:port", "the port is not a number"),
    ],
)
def test_bad_upstream_urls_are_usage_errors(url: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        proxy.Upstream.parse(url)


def test_upstream_display_hides_credentials_and_keeps_a_base_path() -> None:
    upstream = proxy.Upstream.parse("https://user:secret@models.example:8443/team/model/")
    assert upstream.display == "https://models.example:8443/team/model"
    assert (
        str(upstream.target("/predictions/abc"))
        == "https://user:secret@models.example:8443/team/model/predictions/abc"
    )
    assert proxy.Upstream.parse("127.0.0.1:5000").display == "http://127.0.0.1:5000"


def test_a_busy_port_is_one_clear_error(hello_proxy: PlaygroundProxy) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cogkit", "playground", "http://127.0.0.1:9", "--port", str(hello_proxy.port)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{hello_proxy.port}" in result.stderr
    assert "Traceback" not in result.stderr
