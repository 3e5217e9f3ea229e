"""`cogkit playground URL`: the playground for any Cog-protocol server, through a same-origin proxy.

The page calls the API of the origin it came from, so this app serves the page and forwards
Cog's routes to ONE upstream fixed at start-up. What it forwards is narrow on purpose:

- only the methods and paths of Cog's API (`ALLOWED`), matched on the raw request path, so
  `//host`, `..`, percent-escapes and absolute-form targets never match and get a 404;
- the upstream URL is built from the fixed base and the matched path, never from the request's
  host, query or headers; redirects are not followed;
- request bodies are bounded (`MAX_REQUEST_BYTES`), and so are response bodies and every wait;
- only JSON may be posted and cross-site requests are refused, so another web page cannot
  drive the model through this proxy; the Host header must name this proxy (DNS rebinding);
- only the content type goes back, forced to JSON or an event stream, so an upstream answer can
  never be rendered as a page of this origin.
"""

from __future__ import annotations

import contextlib
import errno
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from cogkit.errors import UsageError
from cogkit.mode import Mode
from cogkit.playground import PATH
from cogkit.playground.routes import routes as playground_routes

MAX_REQUEST_BYTES = 128 << 20  # file inputs travel as data URIs; past this, pass URLs instead
MAX_RESPONSE_BYTES = 1 << 30
CONNECT_TIMEOUT_S = 10.0
API_TIMEOUT_S = 30.0
RUN_TIMEOUT_S = 3600.0  # a synchronous run answers when it ends; a stream may be quiet this long
MAX_CONNECTIONS = 32
READY_WAIT_S = 30.0

# Responses of the proxied API are data, never a document of this origin.
API_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
_ID = r"[A-Za-z0-9_-][A-Za-z0-9_.~-]{0,199}"


@dataclass(frozen=True)
class Allowed:
    method: str
    pattern: re.Pattern[str]
    timeout: float


def _allowed() -> tuple[Allowed, ...]:
    rules = [
        Allowed("GET", re.compile(r"/"), API_TIMEOUT_S),
        Allowed("GET", re.compile(r"/openapi\.json"), API_TIMEOUT_S),
        Allowed("GET", re.compile(r"/health-check"), API_TIMEOUT_S),
    ]
    for mode in Mode:
        one = f"/{mode.endpoint}/{_ID}"
        rules += [
            Allowed("POST", re.compile(f"/{mode.endpoint}"), RUN_TIMEOUT_S),
            Allowed("PUT", re.compile(one), RUN_TIMEOUT_S),
            Allowed("GET", re.compile(one), API_TIMEOUT_S),
            Allowed("POST", re.compile(one + "/cancel"), API_TIMEOUT_S),
        ]
    return tuple(rules)


ALLOWED = _allowed()
PROXIED_METHODS = sorted({rule.method for rule in ALLOWED})


def match(method: str, raw_path: bytes) -> tuple[Allowed, str] | None:
    """The rule that lets `method raw_path` through and the path to forward, or None."""
    try:
        path = raw_path.decode("ascii")
    except UnicodeDecodeError:
        return None
    for rule in ALLOWED:
        if rule.method == method and rule.pattern.fullmatch(path):
            return rule, path
    return None


@dataclass(frozen=True)
class Upstream:
    """The one server this proxy talks to: scheme, host, port and an optional base path."""

    url: httpx.URL
    display: str  # without credentials, for the page and the terminal

    @classmethod
    def parse(cls, raw: str) -> Upstream:
        text = raw.strip()
        if "://" not in text:
            text = "http://" + text
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(
                f"{raw!r} is not the URL of a Cog server",
                hint="pass an http(s) URL, e.g. http://127.0.0.1:5000",
            )
        if parts.query or parts.fragment:
            raise UsageError(f"{raw!r}: the server URL takes no ?query or #fragment", hint="drop them")
        try:
            port = parts.port
        except ValueError:
            raise UsageError(
                f"{raw!r}: the port is not a number", hint="e.g. http://127.0.0.1:5000"
            ) from None
        url = httpx.URL(text.rstrip("/"))
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        display = f"{parts.scheme}://{host}{f':{port}' if port else ''}{parts.path.rstrip('/')}"
        return cls(url=url, display=display)

    def target(self, path: str) -> httpx.URL:
        base = self.url.path.rstrip("/")
        return self.url.copy_with(path=(base + path) or "/", query=None, fragment=None)


def _refuse(status: int, detail: str) -> Response:
    return JSONResponse({"detail": detail}, status_code=status, headers=API_HEADERS)


def _host_allowed(request: Request, hosts: frozenset[str] | None) -> bool:
    if hosts is None:
        return True
    host = request.headers.get("host", "")
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name.strip("[]").lower() in hosts


def _same_site(request: Request) -> bool:
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.headers.get('host', '')}"


async def _bounded_body(request: Request) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_REQUEST_BYTES):
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_REQUEST_BYTES:
            return None
    return bytes(body)


async def _bounded(stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    sent = 0
    async for chunk in stream:
        sent += len(chunk)
        if sent > MAX_RESPONSE_BYTES:
            return  # cut off: the client sees a truncated body, never an unbounded one
        yield chunk


def _forwarder(upstream: Upstream, client: httpx.AsyncClient, hosts: frozenset[str] | None) -> Callable:
    async def forward(request: Request) -> Response:
        if not _host_allowed(request, hosts):
            return _refuse(421, "this proxy answers only to the host it listens on")
        matched = match(request.method, request.scope.get("raw_path") or request.scope["path"].encode())
        if matched is None:
            return _refuse(404, "not a Cog API route this proxy forwards")
        rule, path = matched
        headers = {"Accept": request.headers.get("accept", "application/json")}
        body = b""
        if request.method in ("POST", "PUT"):
            if not _same_site(request):
                return _refuse(403, "cross-site requests are refused")
            if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
                return _refuse(415, "send the request body as application/json")
            found = await _bounded_body(request)
            if found is None:
                return _refuse(
                    413, f"request body over {MAX_REQUEST_BYTES >> 20} MiB; pass large files as URLs"
                )
            body = found
            headers["Content-Type"] = "application/json"
            if "prefer" in request.headers:
                headers["Prefer"] = request.headers["prefer"][:200]
        outgoing = client.build_request(
            request.method,
            upstream.target(path),
            headers=headers,
            content=body if request.method in ("POST", "PUT") else None,
            timeout=httpx.Timeout(rule.timeout, connect=CONNECT_TIMEOUT_S),
        )
        try:
            answer = await client.send(outgoing, stream=True)
        except httpx.HTTPError as e:
            return _refuse(502, f"cannot reach {upstream.display}: {type(e).__name__}: {e}")
        streaming = answer.headers.get("content-type", "").startswith("text/event-stream")
        return StreamingResponse(
            _bounded(answer.aiter_bytes()),
            status_code=answer.status_code,
            media_type="text/event-stream" if streaming else "application/json",
            headers=API_HEADERS,
            background=BackgroundTask(answer.aclose),
        )

    return forward


def loopback_hosts(host: str) -> frozenset[str] | None:
    """Host headers to accept when listening on `host`; None (any) when listening on all addresses."""
    if host in ("0.0.0.0", "::", ""):
        return None
    return frozenset({host.strip("[]").lower(), "localhost", "127.0.0.1", "::1"})


def build_app(upstream: Upstream, *, listen_host: str = "127.0.0.1") -> Starlette:
    """The page plus the forwarding routes; the httpx client lives as long as the app."""
    client = httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,  # never route through a proxy the environment names
        limits=httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=8),
    )
    forward = _forwarder(upstream, client, loopback_hosts(listen_host))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    return Starlette(
        routes=[
            *playground_routes({"upstream": upstream.display}),
            Route("/{path:path}", forward, methods=PROXIED_METHODS),
        ],
        lifespan=lifespan,
    )


def serve(url: str, *, host: str, port: int, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve the playground for the server at `url` until interrupted; `on_ready(page_url)` once listening."""
    upstream = Upstream.parse(url)
    server = uvicorn.Server(
        uvicorn.Config(
            build_app(upstream, listen_host=host),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=5,
        )
    )
    shown_host = f"[{host}]" if ":" in host else host
    page_url = f"http://{shown_host}:{port}{PATH}"

    def announce() -> None:
        deadline = time.monotonic() + READY_WAIT_S
        while not server.started and not server.should_exit and time.monotonic() < deadline:
            time.sleep(0.05)
        if server.started and on_ready is not None:
            on_ready(page_url)

    try:
        listener = socket.create_server((host, port))
    except OSError as e:
        busy = e.errno == errno.EADDRINUSE
        raise UsageError(
            f"cannot listen on {host}:{port}: {e.strerror or e}",
            hint="another server uses that port: pick another with --port" if busy else "check --host",
        ) from e
    threading.Thread(target=announce, daemon=True, name="cogkit-playground-ready").start()
    with listener:
        server.run(sockets=[listener])
