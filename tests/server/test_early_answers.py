"""Answers from the HTTP protocol itself (`connections.EarlyAnswers`), on a real uvicorn protocol
over real sockets: a held request is answered without the app, or handed to it whole; the
connection lives on; pipelined responses keep their order."""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.server import ServerState

from cogkit.server.connections import ConnectionGuard
from cogkit.server.limits import Limits

BUSY = b'{"detail":"all slots are busy"}'
TIMEOUT_S = 10.0  # a bound against a hang, not a speed target


class Refuser:
    """Holds `POST /predictions` while `busy`; refuses it unless its body names an id."""

    def __init__(self) -> None:
        self.busy = True
        self.bodies: list[bytes] = []

    def holds(self, method: bytes, target: bytes) -> bool:
        return self.busy and method == b"POST" and target == b"/predictions"

    def answer(self, method: bytes, target: bytes, body: bytes) -> tuple[int, bytes] | None:
        self.bodies.append(body)
        return None if b'"id"' in body else (409, BUSY)


class App:
    """Records what reaches it and answers `app saw N bytes`; `/slow` takes 0.2 s."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.seen.append((scope["path"], len(body)))
        if scope["path"] == "/slow":
            await asyncio.sleep(0.2)
        reply = f"app saw {len(body)} bytes".encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"%d" % len(reply))],
            }
        )
        await send({"type": "http.response.body", "body": reply})


async def _serve(app: App, refuser: Refuser) -> tuple[asyncio.AbstractServer, int]:
    config = uvicorn.Config(app, lifespan="off", log_config=None)
    config.load()
    guard = ConnectionGuard(Limits(), (b"x-cogkit-test", b"1"), refuser)
    state = ServerState()
    factory = guard.protocol_factory()
    server = await asyncio.get_running_loop().create_server(
        lambda: factory(config=config, server_state=state, app_state={}), "127.0.0.1", 0
    )
    return server, server.sockets[0].getsockname()[1]


async def _response(reader: asyncio.StreamReader) -> tuple[bytes, dict[bytes, bytes], bytes]:
    """One response: status line, headers (lower-case names) and its content-length body."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT_S)
    status, *lines = head[:-4].split(b"\r\n")
    headers = dict(line.lower().split(b": ", 1) for line in lines)
    body = await asyncio.wait_for(reader.readexactly(int(headers[b"content-length"])), TIMEOUT_S)
    return status, headers, body


def _post(path: str, body: bytes, *extra: str) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n" + "".join(
        f"{h}\r\n" for h in extra
    )
    return head.encode() + b"\r\n" + body


def _run(test: Any) -> None:
    async def main() -> None:
        app, refuser = App(), Refuser()
        server, port = await _serve(app, refuser)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            await test(app, refuser, reader, writer)
            writer.close()
        finally:
            server.close()

    asyncio.run(asyncio.wait_for(main(), 30))


def test_a_held_request_is_answered_without_the_app_and_the_connection_lives_on() -> None:
    async def test(app: App, refuser: Refuser, reader: Any, writer: Any) -> None:
        writer.write(_post("/predictions", b'{"input": {}}'))
        status, headers, body = await _response(reader)
        assert (status, body) == (b"HTTP/1.1 409 Conflict", BUSY)
        assert headers[b"content-type"] == b"application/json" and b"connection" not in headers
        assert app.seen == [] and refuser.bodies == [b'{"input": {}}']
        refuser.busy = False  # a slot is free: the next request on the same connection is the app's
        writer.write(_post("/predictions", b"{}"))
        status, _, body = await _response(reader)
        assert (status, body) == (b"HTTP/1.1 200 OK", b"app saw 2 bytes")
        assert app.seen == [("/predictions", 2)]

    _run(test)


def test_a_held_request_the_hook_lets_through_reaches_the_app_whole() -> None:
    """The body arrives in pieces while the request is held; the app gets every byte of it, both
    with a declared length and chunked."""

    async def test(app: App, refuser: Refuser, reader: Any, writer: Any) -> None:
        body = b'{"id": "known", "input": {"text": "' + b"x" * 300_000 + b'"}}'
        request = _post("/predictions", body)
        for start in range(0, len(request), 65536):
            writer.write(request[start : start + 65536])
            await writer.drain()
            await asyncio.sleep(0)
        status, _, reply = await _response(reader)
        assert (status, reply) == (b"HTTP/1.1 200 OK", f"app saw {len(body)} bytes".encode())
        chunked = b"".join(
            b"%x\r\n%s\r\n" % (len(body[i : i + 5000]), body[i : i + 5000]) for i in range(0, len(body), 5000)
        )
        writer.write(
            b"POST /predictions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + chunked
            + b"0\r\n\r\n"
        )
        status, _, reply = await _response(reader)
        assert (status, reply) == (b"HTTP/1.1 200 OK", f"app saw {len(body)} bytes".encode())
        assert refuser.bodies == [body, body]
        assert app.seen == [("/predictions", len(body))] * 2

    _run(test)


def test_pipelined_requests_are_answered_in_order() -> None:
    """A request sent behind one whose response is under way is not answered early: its answer
    would overtake the first one's."""

    async def test(app: App, refuser: Refuser, reader: Any, writer: Any) -> None:
        writer.write(_post("/slow", b"1") + _post("/predictions", b"22") + _post("/predictions", b"333"))
        replies = [(await _response(reader))[2] for _ in range(3)]
        assert replies == [b"app saw 1 bytes", b"app saw 2 bytes", b"app saw 3 bytes"]
        assert [path for path, _ in app.seen] == ["/slow", "/predictions", "/predictions"]

    _run(test)


def test_a_client_that_closes_or_waits_for_100_continue() -> None:
    async def test(app: App, refuser: Refuser, reader: Any, writer: Any) -> None:
        # Waiting for `100 Continue` before sending the body: uvicorn's cycle sends it, so the
        # request is not held.
        writer.write(
            b"POST /predictions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"
        )
        assert (
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT_S)
            == b"HTTP/1.1 100 Continue\r\n\r\n"
        )
        writer.write(b"{}")
        assert (await _response(reader))[2] == b"app saw 2 bytes"
        # `Connection: close`: the 409 says so, and the connection ends.
        writer.write(_post("/predictions", b"{}", "Connection: close"))
        status, headers, body = await _response(reader)
        assert (status, headers[b"connection"], body) == (b"HTTP/1.1 409 Conflict", b"close", BUSY)
        assert await asyncio.wait_for(reader.read(), TIMEOUT_S) == b""
        assert app.seen == [("/predictions", 2)]

    _run(test)
