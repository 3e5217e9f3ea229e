"""The clients: keep-alive request loops, closed-loop clients, and a server-sent-events reader.

All of them write pre-built request bytes to a socket and frame responses themselves, so that
a client costs a few µs per request, the same for every server. Run as a script, this module
is the client's floor: a minimal asyncio responder (`python clients.py PORT`).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

REQUEST_TIMEOUT_S = 60.0
MAX_CONNECTION_ERRORS = 50
RECV_BYTES = 1 << 20


class ClientError(Exception):
    """The client cannot go on (too many connection errors, a response it cannot frame)."""


class Refused(ClientError):
    """The server answered 409: every slot was busy (coglet, just after the previous stream)."""


@dataclass(frozen=True)
class Call:
    """One HTTP request, the same every time it is sent."""

    method: str = "POST"
    path: str = "/predictions"
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)

    def wire(self, port: int) -> bytes:
        head = f"{self.method} {self.path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in self.headers)
        return f"{head}Content-Length: {len(self.body)}\r\n\r\n".encode() + self.body


def predict(inputs: dict, *headers: tuple[str, str]) -> Call:
    return Call(
        body=json.dumps({"input": inputs}).encode(), headers=(("Content-Type", "application/json"), *headers)
    )


Check = Callable[[bytes], bool]


def output_is(expected: object) -> Check:
    def check(body: bytes) -> bool:
        try:
            return json.loads(body).get("output") == expected
        except (ValueError, AttributeError):
            return False

    return check


@dataclass
class Sample:
    """What one client loop saw: 2xx latencies, status counts, and anything odd."""

    latencies_ns: list[int] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    wrong_output: int = 0
    connection_errors: int = 0
    wall_s: float = 0.0
    client_cpu_ns: int = 0
    server_cpu_s: float = 0.0

    def count(self, status: str) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def merge(self, other: Sample) -> None:
        self.latencies_ns.extend(other.latencies_ns)
        for status, n in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + n
        self.wrong_output += other.wrong_output
        self.connection_errors += other.connection_errors
        self.client_cpu_ns += other.client_cpu_ns
        self.server_cpu_s += other.server_cpu_s

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    @property
    def ok(self) -> int:
        return sum(n for s, n in self.statuses.items() if s.startswith("2"))

    @property
    def non_2xx(self) -> int:
        return self.total - self.ok


class KeepAliveClient:
    """A minimal HTTP/1.1 client on one socket: a few µs per request, the same for every server.

    http.client spends over 100 µs of CPU per request parsing headers into objects, which is
    a large share of what is being measured; this sends pre-built bytes and reads
    `Content-Length` framing only (every server answers predictions with it).
    """

    def __init__(self, port: int, call: Call) -> None:
        self.port = port
        self.request = call.wire(port)
        self.sock: socket.socket | None = None
        self.buffer = bytearray()

    def _fill(self) -> None:
        assert self.sock is not None
        chunk = self.sock.recv(RECV_BYTES)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk

    def send(self) -> tuple[int, bytes]:
        """Send the request; return the status code and the body."""
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=REQUEST_TIMEOUT_S)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buffer = bytearray()
        self.sock.sendall(self.request)
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            self._fill()
        head = bytes(self.buffer[:end]).lower()
        at = head.find(b"\r\ncontent-length:")
        if at < 0:
            raise ClientError(f"a response without Content-Length on port {self.port}: {head[:300]!r}")
        stop = end + 4 + int(head[at + 17 :].split(b"\r\n", 1)[0])
        while len(self.buffer) < stop:
            self._fill()
        body = bytes(self.buffer[end + 4 : stop])
        del self.buffer[:stop]
        if b"\r\nconnection: close" in head:
            self.close()
        return int(head[9:12]), body

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class HttpLibClient:
    """The same contract over http.client: slower, so the gap between requests is wider."""

    def __init__(self, port: int, call: Call) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
        self.call = call

    def send(self) -> tuple[int, bytes]:
        try:
            self.conn.request(self.call.method, self.call.path, self.call.body, dict(self.call.headers))
            resp = self.conn.getresponse()
            return resp.status, resp.read()
        except http.client.HTTPException as e:
            raise ConnectionError(str(e)) from e

    def close(self) -> None:
        self.conn.close()


CLIENTS: dict[str, type[KeepAliveClient] | type[HttpLibClient]] = {
    "raw": KeepAliveClient,
    "http.client": HttpLibClient,
}


def request_loop(
    port: int,
    call: Call,
    sample: Sample,
    *,
    n: int | None = None,
    until: float | None = None,
    client_kind: str = "raw",
    check: Check | None = None,
) -> None:
    """Send `call` `n` times, or until the monotonic clock passes `until`, one after another on
    one keep-alive connection."""
    client = CLIENTS[client_kind](port, call)
    clock = time.perf_counter_ns
    cpu_start = time.thread_time_ns()
    sent = 0
    while (n is None or sent < n) and (until is None or time.monotonic() < until):
        sent += 1
        t0 = clock()
        try:
            status, data = client.send()
        except OSError:
            sample.connection_errors += 1
            sample.count("conn-error")
            if sample.connection_errors > MAX_CONNECTION_ERRORS:
                raise ClientError(
                    f"more than {MAX_CONNECTION_ERRORS} connection errors on port {port}"
                ) from None
            client.close()
            continue
        elapsed = clock() - t0
        sample.count(str(status))
        if 200 <= status < 300:
            sample.latencies_ns.append(elapsed)
            if check is not None and not check(data):
                sample.wrong_output += 1
    client.close()
    sample.client_cpu_ns += time.thread_time_ns() - cpu_start


def sequential(port: int, call: Call, n: int, warmup: int = 0, **kw: object) -> Sample:
    """`warmup` unrecorded requests, then `n` recorded ones, all on one connection."""
    if warmup:
        request_loop(port, call, Sample(), n=warmup, **kw)  # type: ignore[arg-type]
    sample = Sample()
    start = time.perf_counter()
    request_loop(port, call, sample, n=n, **kw)  # type: ignore[arg-type]
    sample.wall_s = time.perf_counter() - start
    return sample


def closed_loop(
    port: int,
    call: Call,
    clients: int,
    *,
    total: int | None = None,
    seconds: float | None = None,
    **kw: object,
) -> Sample:
    """`clients` threads, each with its own keep-alive connection, sending again as soon as an
    answer comes: `total` requests shared among them, or for `seconds`."""
    shares = [
        None if total is None else total // clients + (1 if i < total % clients else 0)
        for i in range(clients)
    ]
    samples = [Sample() for _ in shares]
    barrier = threading.Barrier(clients + 1, timeout=60)
    failures: list[BaseException] = []
    until: list[float] = []

    def client(i: int) -> None:
        try:
            request_loop(port, call, Sample(), n=2, **kw)  # type: ignore[arg-type]  # warm this thread's path
            barrier.wait()
            request_loop(port, call, samples[i], n=shares[i], until=until[0] if until else None, **kw)  # type: ignore[arg-type]
        except BaseException as e:  # reported by the main thread below
            failures.append(e)
            barrier.abort()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    if seconds is not None:
        until.append(time.monotonic() + seconds + 1.0)  # the barrier is passed within a second
    with contextlib.suppress(threading.BrokenBarrierError):
        barrier.wait()
    if seconds is not None:
        until[0] = time.monotonic() + seconds
    start = time.perf_counter()
    limit = (seconds or 0) + max(s or 0 for s in shares) * REQUEST_TIMEOUT_S + 60
    for thread in threads:
        thread.join(timeout=max(0.0, start + limit - time.perf_counter()))
        if thread.is_alive():
            raise ClientError(f"a client thread on port {port} did not finish")
    if failures:
        raise ClientError(f"a client thread on port {port} failed: {failures[0]!r}") from failures[0]
    merged = Sample(wall_s=time.perf_counter() - start)
    for sample in samples:
        merged.merge(sample)
    return merged


def percentile_us(latencies_ns: list[int], q: float) -> float:
    """Nearest-rank percentile in microseconds (NaN when there is nothing to rank)."""
    if not latencies_ns:
        return float("nan")
    ranked = sorted(latencies_ns)
    index = min(len(ranked) - 1, max(0, round(q / 100 * len(ranked) + 0.5) - 1))
    return ranked[index] / 1000


# ---------------------------------------------------------------------------- server-sent events


@dataclass
class TokenStream:
    """One SSE prediction of `fixtures/tokens`: when it was sent, and each token with its arrival
    time (monotonic ns). A token is `index:start:yielded`, stamped by the predictor."""

    sent_ns: int
    tokens: list[tuple[str, int]]
    completed: bool

    def _stamps(self, i: int) -> tuple[int, int]:
        _, start, yielded = self.tokens[i][0].split(":")
        return int(start), int(yielded)

    @property
    def first_token_ms(self) -> float:
        """Time to the first token, less the predictor's own (from its start to its first yield)."""
        start, yielded = self._stamps(0)
        return ((self.tokens[0][1] - self.sent_ns) - (yielded - start)) / 1e6

    @property
    def last_token_lag_ms(self) -> float:
        """How long after the predictor yielded its last token the client had it."""
        return (self.tokens[-1][1] - self._stamps(-1)[1]) / 1e6

    @property
    def tokens_per_s(self) -> float:
        return len(self.tokens) / max(1e-9, (self.tokens[-1][1] - self.sent_ns) / 1e9)


def _token(data: str) -> str:
    """An `output` event's token: cogkit sends the JSON string, coglet `{"chunk": …, "index": …}`."""
    value = json.loads(data)
    return (value["chunk"] if isinstance(value, dict) else value).strip()


def stream_tokens(port: int, call: Call, *, quickack: bool) -> TokenStream:
    """POST with `Accept: text/event-stream` and read the events until `completed`.

    With `quickack` the client acknowledges every segment at once (TCP_QUICKACK, re-armed after
    each read, as Linux clears it); otherwise it is an ordinary client whose delayed ACKs meet a
    server's Nagle algorithm, if the server leaves it on.
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=REQUEST_TIMEOUT_S)
    clock = time.monotonic_ns
    tokens: list[tuple[str, int]] = []
    raw = bytearray()
    events = bytearray()
    head_done, completed = False, False
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if quickack:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        sent = clock()
        sock.sendall(call.wire(port))
        while not completed:
            chunk = sock.recv(RECV_BYTES)
            now = clock()
            if quickack:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            if not chunk:
                break
            raw += chunk
            if not head_done:
                end = raw.find(b"\r\n\r\n")
                if end < 0:
                    continue
                head = bytes(raw[:end]).lower()
                if head.startswith(b"http/1.1 409"):
                    raise Refused(f"409 on port {port}")
                if not head.startswith(b"http/1.1 200") or b"chunked" not in head:
                    raise ClientError(f"not a chunked event stream: {bytes(raw[:300])!r}")
                del raw[: end + 4]
                head_done = True
            while (eol := raw.find(b"\r\n")) >= 0:  # chunked framing: size line, data, CRLF
                size = int(bytes(raw[:eol]).split(b";")[0], 16)
                if len(raw) < eol + 2 + size + 2:
                    break
                events += raw[eol + 2 : eol + 2 + size]
                del raw[: eol + 2 + size + 2]
            while (sep := events.find(b"\n\n")) >= 0:
                event = bytes(events[:sep]).decode()
                del events[: sep + 2]
                name = data = ""
                for line in event.split("\n"):
                    if line.startswith("event:"):
                        name = line[6:].strip()
                    elif line.startswith("data:"):
                        data = line[5:].strip()
                if name == "output":
                    tokens.append((_token(data), now))
                elif name == "completed":
                    completed = True
    finally:
        sock.close()
    if not tokens:
        raise ClientError(f"no tokens arrived on port {port}")
    return TokenStream(sent, tokens, completed)


# ---------------------------------------------------------------------------- the client's floor


def serve_floor(port: int) -> None:
    """A minimal keep-alive HTTP responder: the client's own cost, with no framework behind it."""
    import asyncio

    body = json.dumps({"status": "succeeded", "output": "hello world"}).encode()
    reply = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
             % (len(body), body))  # fmt: skip

    class Responder(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport
            self.buffer = b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
                head = self.buffer[:end].lower()
                length = 0
                if (at := head.find(b"content-length:")) >= 0:
                    length = int(head[at + 15 :].split(b"\r\n", 1)[0])
                if len(self.buffer) < end + 4 + length:
                    return
                self.buffer = self.buffer[end + 4 + length :]
                self.transport.write(reply)  # type: ignore[attr-defined]

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Responder, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def measure_floor(call: Call, n: int, warmup: int, client_kind: str) -> Sample:
    """Run the same sequential loop against the floor responder in a child process."""
    from .launch import free_port, wait_listening

    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, str(port)], start_new_session=True)
    try:
        wait_listening(port, proc)
        return sequential(port, call, n, warmup, client_kind=client_kind)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


if __name__ == "__main__":
    serve_floor(int(sys.argv[1]))
