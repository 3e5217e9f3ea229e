"""Hostile clients on real sockets against a real server: silent and slow connections, endless
and oversized bodies, huge headers, thousands of half-open connections at a low file limit,
and requests that loop back to the server itself."""

from __future__ import annotations

import contextlib
import resource
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import ServerProcess
from tests.server.receiver import Receiver
from tests.server.test_api import HELLO

TIGHT = ["--header-timeout", "1", "--body-timeout", "1", "--max-body-bytes", "100000"]


@pytest.fixture(scope="module")
def tight(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with one-second header and body deadlines and a 100 kB body limit."""
    server = ServerProcess(tmp_path_factory.mktemp("tight"), predictor=HELLO, args=TIGHT)
    server.wait_for("READY")
    yield server
    server.stop()


def _connect(server: ServerProcess, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=timeout)


def _closed_within(sock: socket.socket, seconds: float) -> bytes:
    """Everything the server sends until it closes the connection; fails if it has not
    closed within `seconds` (a bound on a hostile client, not a speed target)."""
    sock.settimeout(seconds)
    received = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk
    raise AssertionError(f"the connection was still open after {seconds}s; got {received[:200]!r}")


def test_a_silent_connection_is_closed(tight: ServerProcess) -> None:
    with _connect(tight) as sock:
        assert _closed_within(sock, 15) == b""


def test_headers_sent_slowly_do_not_keep_a_connection(tight: ServerProcess) -> None:
    """A header line every 0.2 s: the connection is never idle, yet it is closed."""
    with _connect(tight) as sock:
        sock.sendall(b"GET /health-check HTTP/1.1\r\nHost: x\r\n")
        deadline = time.monotonic() + 15
        closed = False
        while not closed and time.monotonic() < deadline:
            try:
                sock.sendall(b"X-Slow: y\r\n")
                time.sleep(0.2)
                sock.settimeout(0.01)
                closed = sock.recv(1) == b""
            except TimeoutError:
                pass
            except OSError:  # reset: closed as well
                closed = True
        assert closed, "the slow client was still connected after 15 s"


def test_an_endless_chunked_body_is_cut_off_with_408(tight: ServerProcess) -> None:
    with _connect(tight) as sock:
        sock.sendall(
            b"POST /predictions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n1\r\n{\r\n"
        )
        with contextlib.suppress(OSError):
            for _ in range(50):  # a byte every 0.2 s: never idle, never done
                sock.sendall(b"1\r\n \r\n")
                time.sleep(0.2)
        reply = _closed_within(sock, 5)
    assert reply.startswith(b"HTTP/1.1 408")
    assert tight.client.get("/health-check").json()["status"] == "READY"


def test_a_declared_body_over_the_limit_is_413_before_it_is_read(tight: ServerProcess) -> None:
    with _connect(tight) as sock:
        sock.sendall(b"POST /predictions HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n{")
        reply = _closed_within(sock, 10)
    assert reply.startswith(b"HTTP/1.1 413")
    assert b"100000 bytes" in reply


def test_a_chunked_body_over_the_limit_is_413(tight: ServerProcess) -> None:
    with _connect(tight) as sock:
        sock.sendall(b"POST /predictions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"8000\r\n" + b" " * 0x8000 + b"\r\n"
        with contextlib.suppress(OSError):
            for _ in range(10):  # 320 kB in all
                sock.sendall(chunk)
        reply = _closed_within(sock, 10)
    assert reply.startswith(b"HTTP/1.1 413")


def test_headers_over_64_kib_are_refused(tight: ServerProcess) -> None:
    with _connect(tight) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(b"GET /health-check HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"a" * 70_000 + b"\r\n")
        reply = _closed_within(sock, 10)
    assert reply.startswith(b"HTTP/1.1 431")


def test_a_body_within_the_limits_is_served(tight: ServerProcess) -> None:
    text = "y" * 50_000
    body = tight.client.post("/predictions", json={"input": {"text": text}}).json()
    assert body["output"] == f"hello {text}"


def _raise_fd_limit(wanted: int) -> tuple[int, int]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, wanted)), hard))
    return soft, hard


def _open_partial(port: int, count: int) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            break
        with contextlib.suppress(OSError):
            sock.sendall(b"GET /health-check HTTP/1.1\r\nHost: x\r\nX-Partial: ")
        socks.append(sock)
    return socks


def test_health_check_answers_with_thousands_of_half_open_connections_at_the_fd_limit(
    fresh_server: Any,
) -> None:
    """The server may open 256 files; 3,000 connections that never finish their headers are
    opened against it. The newest connections push the oldest idle ones out, so a health check
    and a prediction still get through, and the server never runs out of descriptors."""
    old = _raise_fd_limit(4096)

    def low_fd_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    try:
        s: ServerProcess = fresh_server(HELLO, args=["--header-timeout", "60"], preexec_fn=low_fd_limit)
        s.wait_for("READY")
        socks = _open_partial(s.port, 3000)
        try:
            assert len(socks) > 2500
            r = s.client.get("/health-check", timeout=10)
            assert r.json()["status"] == "READY"
            body = s.client.post("/predictions", json={"input": {"text": "still"}}, timeout=30).json()
            assert body["output"] == "hello still"
            # At most 3/4 of the 256 descriptors are connections: the rest stayed free.
            assert len(list(Path(f"/proc/{s.proc.pid}/fd").iterdir())) < 256
            metrics = s.client.get("/metrics").text
            evicted = float(metrics.split('cogkit_http_connections_dropped{reason="evicted"} ')[1].split()[0])
            assert evicted > 2000
        finally:
            for sock in socks:
                sock.close()
        assert "Too many open files" not in s.log
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, old)


def test_a_request_carrying_the_servers_own_marker_is_refused(fresh_server: Any) -> None:
    """A webhook aimed at /shutdown through a spelling of this host that no address check knows
    (0x7f000001 is 127.0.0.1 to the resolver): the request arrives with the server's marker
    header and is refused; the server stays up."""
    s: ServerProcess = fresh_server("sleeper.py:Predictor")
    s.wait_for("READY")
    hook = f"http://0x7f000001:{s.port}/shutdown"
    s.client.post(
        "/predictions",
        json={"input": {"seconds": 0}, "webhook": hook, "webhook_events_filter": ["completed"]},
        headers={"Prefer": "respond-async"},
    )
    deadline = time.monotonic() + 20
    while "refused the completed event: HTTP 403" not in s.log and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "HTTP 403" in s.log
    assert s.proc.poll() is None
    assert s.client.get("/health-check").json()["status"] == "READY"


def test_urls_naming_the_server_are_refused_up_front(server: Any) -> None:
    s = server("files.py:Predictor")
    for host in ("127.0.0.1", "localhost", "0.0.0.0", "[::1]", "127.0.0.2"):
        r = s.client.post(
            "/predictions",
            json={
                "input": {"image": f"http://{host}:{s.port}/openapi.json"},
                "webhook": f"http://{host}:{s.port}/shutdown",
            },
        )
        assert r.status_code == 422, (host, r.text)
        assert {tuple(d["loc"]) for d in r.json()["detail"]} == {("body", "input", "image")}
        r = s.client.post(
            "/predictions",
            json={"input": {"image": "data:,x"}, "webhook": f"http://{host}:{s.port}/shutdown"},
        )
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "webhook"]
    assert s.client.get("/health-check").json()["status"] == "READY"


def test_a_download_redirected_to_the_server_is_refused(server: Any) -> None:
    s = server("files.py:Predictor")
    with Receiver() as r:
        r.redirects["/bounce"] = f"http://127.0.0.1:{s.port}/openapi.json"
        body = s.client.post("/predictions", json={"input": {"image": r.url + "/bounce"}}).json()
    assert body["status"] == "failed"
    assert "403" in body["error"]


def test_accepted_connections_have_nagle_off() -> None:
    """TCP_NODELAY on the server's sockets (the event loop sets it; this guards the protocol
    the server runs on): an SSE token is written at once, not held for the client's ACK."""
    import asyncio

    import uvicorn
    import uvloop
    from uvicorn.server import ServerState

    from cogkit.server.connections import ConnectionGuard
    from cogkit.server.limits import Limits

    async def app(scope: Any, receive: Any, send: Any) -> None:
        return None

    config = uvicorn.Config(app, lifespan="off", log_config=None)
    config.load()
    guard = ConnectionGuard(Limits(), (b"x-cogkit-test", b"1"))
    made: list[Any] = []

    def factory() -> Any:
        made.append(guard.protocol_factory()(config=config, server_state=ServerState(), app_state={}))
        return made[-1]

    async def main() -> int:
        server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(500):  # bounded: the accept is a loop iteration or two away
            if made:
                break
            await asyncio.sleep(0.01)
        sock = made[0].transport.get_extra_info("socket")
        flag = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        writer.close()
        server.close()
        return flag

    for new_loop in (uvloop.new_event_loop, asyncio.new_event_loop):
        loop = new_loop()
        try:
            made.clear()
            assert loop.run_until_complete(main()) == 1
        finally:
            loop.close()
