"""Real HTTP endpoints on 127.0.0.1 for webhook, download and upload tests.

`Receiver` records every request and answers from a programmable list of status codes (the
last one repeats), so tests can make it fail with 500 or 429 before it accepts. `Tarpit`
accepts connections and never answers; `Dripper` answers 200 and then sends one byte at a
time, slowly, for ever. Both count the connections they hold.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """Start with `with Receiver() as r:`; `r.url` is its base URL."""

    def __init__(
        self, port: int = 0, statuses: list[int] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        self.requests: list[Received] = []
        self.statuses = list(statuses or [200])
        self.headers = dict(headers or {})
        self.files: dict[str, bytes] = {}
        self.redirects: dict[str, str] = {}  # GET path -> where a 307 sends it
        self._cond = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _record(self) -> int:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with receiver._cond:
                    receiver.requests.append(
                        Received(
                            self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                        )
                    )
                    status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                    receiver._cond.notify_all()
                if self.command == "PUT" and status < 300:
                    receiver.files[self.path] = body
                return status

            def do_POST(self) -> None:
                status = self._record()
                self.send_response(status)
                for name, value in receiver.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_PUT = do_POST

            def do_GET(self) -> None:
                path = self.path
                if path in receiver.redirects:
                    self.send_response(307)
                    self.send_header("Location", receiver.redirects[path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if path.startswith("/big/"):
                    size = int(path.rsplit("/", 1)[1])
                    self.send_response(200)
                    self.send_header("Content-Length", str(size))
                    self.end_headers()
                    self.wfile.write(b"x" * size)
                    return
                data = receiver.files.get(path)
                if data is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        """Block until `count` requests have arrived (bounded), then return them all."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} requests, got {len(self.requests)}: {self.requests}"
                    )
                self._cond.wait(left)
            return list(self.requests)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Holder:
    """A listening socket whose connections are handled by `serve(conn)` in threads."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0), backlog=512)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def held(self) -> int:
        with self._lock:
            return len(self._open)

    def _accept(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            with self._lock:
                self._open.add(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(0.5)
            self.serve(conn)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(conn)
            conn.close()

    def serve(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def _alive(self, conn: socket.socket) -> bool:
        """Wait a little; False once the peer has closed or the holder stops."""
        if self._stop.is_set():
            return False
        try:
            return conn.recv(65536, socket.MSG_PEEK) != b""
        except TimeoutError:
            return True

    def __enter__(self) -> _Holder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()


class Tarpit(_Holder):
    """Reads whatever comes and never answers, until the client gives up."""

    def serve(self, conn: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                if conn.recv(65536) == b"":
                    return
            except TimeoutError:
                continue


class Dripper(_Holder):
    """200 with a large Content-Length, then one byte every `interval` seconds."""

    def __init__(self, interval: float = 1.0) -> None:
        super().__init__()
        self.interval = interval

    def serve(self, conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
        while not self._stop.is_set():
            conn.sendall(b"x")
            deadline = time.monotonic() + self.interval
            while time.monotonic() < deadline:
                if not self._alive(conn):
                    return
