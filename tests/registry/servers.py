"""Real servers for the registry tests: CNCF Distribution, a JWT token issuer, a faulty TCP proxy, and
a foreign host that records every credential sent to it."""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import json
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import jwt
import yaml

from tests.lifetime import popen

READY_TIMEOUT_S = 30.0
REGISTRY_BIN = "/usr/bin/docker-registry"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Registry:
    """`docker-registry serve` on 127.0.0.1 with a config we write; restartable on the same port and disk."""

    root: Path
    auth: dict | None = None
    tls: tuple[Path, Path] | None = None
    # `http.host`: the base of the absolute URLs (upload Locations) the registry hands out.
    public_url: str | None = None
    # The `redirect` storage middleware: blob reads are answered with a redirect to this base URL.
    redirect_to: str | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    def start(self) -> Registry:
        http: dict = {"addr": self.host, "secret": "cogkit-test-secret"}
        if self.tls:
            http["tls"] = {"certificate": str(self.tls[0]), "key": str(self.tls[1])}
        if self.public_url:
            http["host"] = self.public_url
        config: dict = {
            "version": 0.1,
            "log": {"level": "info", "accesslog": {"disabled": False}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.root / "data")},
                "delete": {"enabled": True},
            },
            "http": http,
        }
        if self.auth:
            config["auth"] = self.auth
        if self.redirect_to:
            config["middleware"] = {
                "storage": [{"name": "redirect", "options": {"baseurl": self.redirect_to}}]
            }
        path = self.root / "config.yml"
        path.write_text(yaml.safe_dump(config))
        log = (self.root / "registry.log").open("ab")
        self.process = popen([REGISTRY_BIN, "serve", str(path)], stdout=log, stderr=log)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"docker-registry exited: {(self.root / 'registry.log').read_text()[-2000:]}"
                )
            try:
                httpx.get(f"{self.url}/v2/", verify=False, timeout=1.0)
                return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError(f"docker-registry did not answer on {self.host} in {READY_TIMEOUT_S}s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def manifest_blobs(self, repository: str, reference: str, *, headers: dict[str, str]) -> list[str]:
        """Digests a stored manifest references (read as the registry's own client would)."""
        accept = (
            "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"
        )
        response = httpx.get(
            f"{self.url}/v2/{repository}/manifests/{reference}",
            headers=headers | {"Accept": accept},
            verify=False,
        )
        response.raise_for_status()
        doc = response.json()
        return [doc["config"]["digest"]] + [layer["digest"] for layer in doc["layers"]]


def libtrust_key_id(public_der: bytes) -> str:
    """The `kid` Distribution 2.8 derives from a key: base32 of the first 240 bits of sha256(DER), in 4s."""
    encoded = base64.b32encode(hashlib.sha256(public_der).digest()[:30]).decode().rstrip("=")
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


class TokenIssuer:
    """A token realm: Basic-authenticates one user and signs short-lived JWTs the registry trusts.

    `lifetime_s` is how long the registry accepts a token; `advertised_s` is what `expires_in`
    claims, so a test can make tokens die before the client expects (forcing the 401 path).
    """

    SERVICE = "cogkit-test-registry"
    ISSUER = "cogkit-test-issuer"
    LEEWAY_S = 60  # Distribution accepts a token this long after its `exp`

    def __init__(self, root: Path, *, username: str, password: str) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self.username, self.password = username, password
        self.lifetime_s = 300.0
        self.advertised_s: float | None = None
        self.issued = 0
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cogkit test token issuer")])
        now = time.time()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_utc(now - 3600))
            .not_valid_after(_utc(now + 86400))
            .sign(self.key, hashes.SHA256())
        )
        self.cert_path = root / "token-issuer.crt"
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = libtrust_key_id(der)
        self.port = free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def registry_auth(self) -> dict:
        return {
            "token": {
                "realm": self.realm,
                "service": self.SERVICE,
                "issuer": self.ISSUER,
                "rootcertbundle": str(self.cert_path),
            }
        }

    def start(self) -> TokenIssuer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def sign(self, scopes: list[str], subject: str) -> str:
        now = int(time.time())
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": [a for a in actions.split(",") if a]})
        claims = {
            "iss": self.ISSUER,
            "sub": subject,
            "aud": self.SERVICE,
            "exp": now + int(self.lifetime_s) - self.LEEWAY_S,
            "nbf": now - 1,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        return jwt.encode(claims, self.key, algorithm="ES256", headers={"kid": self.kid})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                query = parse_qs(urlparse(self.path).query)
                header = self.headers.get("Authorization", "")
                expected = base64.b64encode(f"{issuer.username}:{issuer.password}".encode()).decode()
                if header != f"Basic {expected}":
                    self._reply(401, {"details": "incorrect username or password"})
                    return
                issuer.issued += 1
                token = issuer.sign(query.get("scope", []), issuer.username)
                advertised = issuer.advertised_s if issuer.advertised_s is not None else issuer.lifetime_s
                self._reply(200, {"token": token, "access_token": token, "expires_in": int(advertised)})

            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _utc(timestamp: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc)


class Proxy:
    """A TCP proxy in front of a registry that counts client→registry bytes and can cut a connection.

    `cut_after(n)` arms a one-shot fault: the connection that carries the n-th byte from then on is
    closed in both directions, as a flaky network would. `rate` limits client→registry bytes/second.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.sent = 0
        self.cuts = 0
        self.rate: float | None = None
        self._cut_at: int | None = None
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def reset(self) -> None:
        with self._lock:
            self.sent = 0

    def cut_after(self, nbytes: int) -> None:
        with self._lock:
            self._cut_at = self.sent + nbytes

    def stop(self) -> None:
        self._stopped.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, counted: bool) -> None:
        try:
            while True:
                data = src.recv(256 * 1024)
                if not data:
                    break
                if counted:
                    with self._lock:
                        self.sent += len(data)
                        cut = self._cut_at is not None and self.sent >= self._cut_at
                        if cut:
                            self._cut_at = None
                            self.cuts += 1
                    if cut:
                        break
                    if self.rate:
                        time.sleep(len(data) / self.rate)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    authorization: str | None


class ForeignHost:
    """An HTTP server on a second loopback address (127.0.0.2) that is not the registry.

    It records every request with its `Authorization` header and answers 401 with a Bearer
    challenge of its own, whose realm (`/token`, on this host) hands out `FOREIGN_TOKEN` to anyone.
    A client that follows Docker's rule sends it no credentials and never asks its realm.
    """

    ADDRESS = "127.0.0.2"
    FOREIGN_TOKEN = "foreign-token-must-never-reach-the-registry"

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((self.ADDRESS, 0), self._handler())
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.ADDRESS}:{self.port}"

    def start(self) -> ForeignHost:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def credentials_seen(self) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.authorization]

    @property
    def token_requests(self) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path.startswith("/token")]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        host = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                with host._lock:
                    host.received.append(Received(self.command, self.path, self.headers.get("Authorization")))
                if self.path.startswith("/token"):
                    body = json.dumps({"token": host.FOREIGN_TOKEN, "expires_in": 300}).encode()
                    self.send_response(200)
                else:
                    body = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "foreign"}]}).encode()
                    self.send_response(401)
                    realm = f'Bearer realm="{host.url}/token",service="foreign",scope="repository:x:pull"'
                    self.send_header("WWW-Authenticate", realm)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        return Handler
