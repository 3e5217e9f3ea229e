"""Client connections: the bounds uvicorn lacks, enforced before any handler runs.

uvicorn leaves a connection open for as long as its client sends nothing, or a header line,
or a chunk of an endless body, now and then; thousands of those exhaust the file descriptors
and the health check stops answering. `GuardedProtocol` is uvicorn's httptools protocol with:

* a header deadline (`header_timeout`) from the first byte of a request, or from the moment a
  fresh connection is accepted, to the end of its headers, and at most 64 KiB of headers;
* a body deadline (`body_timeout`) from the end of the headers to the end of the body, and a
  body size limit (`max_body_bytes`: 413 from `Content-Length`, or as soon as a chunked body
  passes it);
* a connection limit: past it, a new connection evicts the oldest one that is not being
  served (waiting for its headers, or idle between keep-alive requests). A client that is
  quick to send a request therefore always gets through, however many slow ones are open;
  only when every connection is busy with a request is the newcomer turned away (503);
* loop refusal: a request carrying this server's own outbound marker (`outbound.py`) is
  answered 403 and never reaches a handler;
* early answers: a request the server can answer from what it knows now, without the app, is
  answered here (`EarlyAnswers`: a POST or PUT of a prediction while every slot is busy gets
  its 409). Such a request is held from its headers to the end of its body, then answered, or
  handed to uvicorn as if it had just arrived. That costs a 409 a few µs of CPU instead of
  uvicorn's request cycle, Starlette and a handler; under overload, most requests are 409s.

Accepted sockets have TCP_NODELAY (asyncio and uvloop both set it; a test checks it on this
protocol): a small write, such as one SSE token, leaves at once instead of waiting for the ACK
of the previous one, which a client that delays its ACKs holds back for up to 40 ms.

The deadlines share one timer per connection, re-armed lazily: a request costs two stores of
`loop.time()` instead of a timer, which keeps the prediction hot path as fast as it was.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import resource
from collections.abc import Callable
from typing import Any, Protocol

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from cogkit.server.limits import Limits

log = logging.getLogger("cogkit.server")

MAX_HEADER_BYTES = 64 << 10


def connection_limit(configured: int) -> int:
    """`configured`, but never more than 3/4 of the open-file limit: the server needs the rest
    for its worker, downloads, webhooks and files, and must keep accepting (to evict)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return configured
    return max(1, min(configured, soft * 3 // 4))


class EarlyAnswers(Protocol):
    """Requests the server answers in the HTTP protocol, before uvicorn's request cycle, the app
    and its handlers (state.py's `ServerState`)."""

    def holds(self, method: bytes, target: bytes) -> bool:
        """Whether to hold a request (its method and request target, as sent) until its body is
        in, for `answer`. Asked for every request: it must be cheap."""
        ...

    def answer(self, method: bytes, target: bytes, body: bytes) -> tuple[int, bytes] | None:
        """(status, JSON body) to answer a held request with, or None to serve it normally."""
        ...


class ConnectionGuard:
    """What the connections of one server share: the limits, the marker and the counts."""

    def __init__(
        self, limits: Limits, marker_header: tuple[bytes, bytes], early: EarlyAnswers | None = None
    ) -> None:
        self.early = early
        self.header_timeout = limits.header_timeout
        self.body_timeout = limits.body_timeout
        self.max_body_bytes = limits.max_body_bytes
        self.max_connections = connection_limit(limits.max_connections)
        self.marker_name, self.marker = marker_header
        self.open = 0
        self.evicted = 0
        self.refused = 0

    def protocol_factory(self) -> Callable[..., GuardedProtocol]:
        """What to pass as uvicorn's `http=`."""
        return functools.partial(GuardedProtocol, guard=self)

    def evict_for(self, newcomer: GuardedProtocol) -> bool:
        """Close the oldest connection that is not being served. A scan, but only at the limit:
        keeping an ordered set up to date would cost every request instead."""
        victim: GuardedProtocol | None = None
        for conn in newcomer.connections:
            if conn is newcomer or not isinstance(conn, GuardedProtocol) or conn.serving:
                continue
            if victim is None or conn.opened < victim.opened:
                victim = conn
        if victim is None:
            return False
        self.evicted += 1
        victim.transport.abort()
        return True


def _raw_response(status: int, reason: str, detail: str) -> bytes:
    body = json.dumps({"detail": detail}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class GuardedProtocol(HttpToolsProtocol):
    """Per request this adds two parser callbacks and a few integer updates to uvicorn's own."""

    def __init__(self, *args: Any, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard = guard
        self.opened = 0.0
        self._deadline: float | None = None  # when the current phase (headers or body) must end
        self._timer: asyncio.TimerHandle | None = None
        self._headers_done = False
        self._header_bytes = 0
        self._body_bytes = 0
        self._held: bytearray | None = None  # the body of a request held for an early answer

    @property
    def serving(self) -> bool:
        """A request of this connection is in the app's hands (its response is not complete)."""
        cycle = self.cycle
        return cycle is not None and not cycle.response_complete and not self.transport.is_closing()

    # -- connection ------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        guard = self.guard
        guard.open += 1
        self.opened = self.loop.time()
        if guard.open > guard.max_connections and not guard.evict_for(self):
            guard.refused += 1
            self._refuse(503, "Service Unavailable", "too many connections; retry shortly")
            return
        self._arm(guard.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.open -= 1
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._deadline = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        guard = self.guard
        if self._headers_done:  # body bytes (a chunked body is counted with its framing)
            self._body_bytes += len(data)
            if self._body_bytes > guard.max_body_bytes:
                self._refuse(413, "Content Too Large", f"request body over {guard.max_body_bytes} bytes")
                return
            super().data_received(data)
            return
        if self._deadline is None:  # the first bytes of a keep-alive request
            self._arm(guard.header_timeout)
        self._header_bytes += len(data)
        super().data_received(data)
        if not self._headers_done and self._header_bytes > MAX_HEADER_BYTES:
            self._refuse(431, "Request Header Fields Too Large", f"headers over {MAX_HEADER_BYTES} bytes")

    # -- parser callbacks ------------------------------------------------------------------------

    def on_headers_complete(self) -> None:
        if self.transport.is_closing():
            return
        guard = self.guard
        self._headers_done = True
        self._header_bytes = self._body_bytes = 0
        for name, value in self.headers:
            if name == guard.marker_name and value == guard.marker:
                self._refuse(403, "Forbidden", "a prediction's URL may not point at this server")
                return
            if name == b"content-length" and value.isdigit() and int(value) > guard.max_body_bytes:
                self._refuse(413, "Content Too Large", f"request body over {guard.max_body_bytes} bytes")
                return
        self._deadline = self.loop.time() + guard.body_timeout
        early = guard.early
        if early is not None and early.holds(self.parser.get_method(), self.url) and self._may_answer_early():
            self._held = bytearray()
            return
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._deadline = None
        self._headers_done = False
        if self.transport.is_closing():
            return
        if self._held is not None:
            self._answer_held()
            return
        super().on_message_complete()

    def on_body(self, body: bytes) -> None:
        if self.transport.is_closing():  # refused mid-body: the parser may still call
            return
        if self._held is not None:  # bounded: data_received counts the body against its limit
            self._held += body
            return
        super().on_body(body)

    # -- early answers ---------------------------------------------------------------------------

    def _may_answer_early(self) -> bool:
        """Only when no earlier response on this connection is under way (pipelining: answers go
        out in order) and the client does not wait for `100 Continue` before its body."""
        cycle = self.cycle
        idle = cycle is None or cycle.response_complete
        return idle and not self.pipeline and not self.expect_100_continue

    def _answer_held(self) -> None:
        body, self._held = bytes(self._held or b""), None
        early = self.guard.early
        answer = early.answer(self.parser.get_method(), self.url, body) if early is not None else None
        if answer is None:  # served the normal way after all, as if it had just arrived
            super().on_headers_complete()
            if body:
                super().on_body(body)
            super().on_message_complete()
            return
        status, content = answer
        keep_alive = self.parser.get_http_version() != "1.0" and self.parser.should_keep_alive()
        head = [STATUS_LINE[status]]
        head += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
        head.append(b"content-type: application/json\r\ncontent-length: %d\r\n" % len(content))
        head.append(b"\r\n" if keep_alive else b"connection: close\r\n\r\n")
        self.transport.write(b"".join(head) + content)
        if keep_alive:
            self.on_response_complete()  # uvicorn's own bookkeeping: counts, keep-alive timer
        else:
            self.transport.close()

    # -- deadlines -------------------------------------------------------------------------------

    def _arm(self, seconds: float) -> None:
        self._deadline = self.loop.time() + seconds
        if self._timer is None:
            self._timer = self.loop.call_at(self._deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline is None or self.transport.is_closing():
            return  # served, or idle between requests (uvicorn's keep-alive timeout applies)
        if self.loop.time() < deadline:
            self._timer = self.loop.call_at(deadline, self._on_timer)
            return
        if self._headers_done:
            self._refuse(408, "Request Timeout", "the request body did not arrive in time")
        else:
            self.transport.close()  # a silent or slow-header connection gets no answer

    def _refuse(self, status: int, reason: str, detail: str) -> None:
        """Answer `status` unless a response is under way, then close the connection."""
        cycle = self.cycle
        if cycle is None or cycle.response_complete or not cycle.response_started:
            # A handler still reading the body sees a disconnect (`connection_lost`), so its own
            # answer is never written after this one.
            self.transport.write(_raw_response(status, reason, detail))
        self.transport.close()
