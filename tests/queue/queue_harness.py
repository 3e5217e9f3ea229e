"""Real processes for the queue tests: redis-server, server replicas in queue mode, a webhook receiver.

(This directory has no `__init__.py` on purpose: as a package it would be named `queue` and
shadow the standard library's module. Its modules therefore have names unique in the suite.)
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import redis

from tests.lifetime import popen

FIXTURES = Path(__file__).parent / "fixtures"
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], Any], *, timeout: float, what: str, every: float = 0.05) -> Any:
    """Poll `predicate` until it returns something truthy (bounded); return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


class RedisServer:
    """`redis-server` on a free loopback port, durable (AOF, fsync always) so it can be restarted."""

    def __init__(self, directory: Path) -> None:
        self.binary = shutil.which("redis-server")
        assert self.binary is not None
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        assert self.binary is not None
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir)]
        args += ["--save", "", "--appendonly", "yes", "--appendfsync", "always", "--daemonize", "no"]
        args += ["--logfile", str(self.dir / "redis.log")]
        self.proc = popen(
            args,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        client = redis.Redis(port=self.port, socket_timeout=2)
        try:
            wait_until(lambda: _pings(client), timeout=20, what=f"redis-server on port {self.port}")
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: Redis gets no chance to save anything more than its AOF already has."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def url(self, stream: str, *, db: int = 0, group: str | None = None) -> str:
        query = f"stream={stream}" + (f"&group={group}" if group else "")
        return f"redis://127.0.0.1:{self.port}/{db}?{query}"

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis(
            port=self.port,
            db=db,
            decode_responses=True,
            encoding_errors="backslashreplace",
            socket_timeout=10,
        )


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


class Replica:
    """`python -m cogkit.server --queue URL` in its own session, its output in a log file.

    A marker in its environment (inherited by its worker) lets a test find every process it left.
    """

    def __init__(
        self,
        log_dir: Path,
        queue_url: str,
        *,
        trace_url: str,
        predictor: str = "work.py:Predictor",
        claim_idle: float = 2.0,
        max_deliveries: int = 3,
        env: dict[str, str] | None = None,
        queue_flag: bool = True,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.marker = uuid.uuid4().hex
        self.log_path = log_dir / f"replica-{self.port}.log"
        args = [sys.executable, "-m", "cogkit.server", "--host", "127.0.0.1", "--port", str(self.port)]
        args += ["--cwd", str(FIXTURES), "--predictor", predictor]
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("COG_", "COGKIT_"))}
        full_env.update(
            QUEUE_TEST_REDIS=trace_url,
            QUEUE_TEST_MARKER=self.marker,
            COGKIT_QUEUE_CLAIM_IDLE=str(claim_idle),
            COGKIT_QUEUE_MAX_DELIVERIES=str(max_deliveries),
            COGKIT_ECHO_MODEL_OUTPUT="0",
        )
        if queue_flag:
            args += ["--queue", queue_url]
        else:
            full_env["COGKIT_QUEUE_URL"] = queue_url
        full_env.update(env or {})
        self._log = self.log_path.open("wb")
        self.proc = popen(
            args,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def metrics(self) -> dict[str, float]:
        """The queue gauges and counters from /metrics, by name (labels dropped; one stream)."""
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        values: dict[str, float] = {}
        for line in text.splitlines():
            match = re.match(r'(cogkit_queue_\w+)(?:\{[^}]*outcome="(\w+)"[^}]*\}|\{[^}]*\})? (\S+)$', line)
            if match:
                name = match[1] + (f":{match[2]}" if match[2] else "")
                values[name] = float(match[3])
        return values

    def wait_consuming(self, timeout: float = START_TIMEOUT) -> Replica:
        def consuming() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"replica exited with {self.proc.returncode}:\n{self.log}")
            return "consuming from" in self.log

        wait_until(consuming, timeout=timeout, what=f"replica {self.port} to consume\n{self.log[-3000:]}")
        return self

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)

    def terminate(self) -> None:
        self.proc.send_signal(signal.SIGTERM)

    def leftovers(self) -> list[int]:
        """Pids still running with this replica's marker: the server or any child it started."""
        found = []
        needle = f"QUEUE_TEST_MARKER={self.marker}".encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                if needle in (entry / "environ").read_bytes().split(b"\0"):
                    stat = (entry / "stat").read_text()
                    if stat.rsplit(")", 1)[1].split()[0] != "Z":  # zombies are gone, just not reaped
                        found.append(int(entry.name))
        return found

    def close(self) -> None:
        """Kill the replica and anything it left (bounded), then close its log."""
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        for pid in self.leftovers():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._log.close()


class Hooks:
    """A webhook receiver on 127.0.0.1 that keeps every body it is sent."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with hooks._lock:
                    hooks.bodies.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def completed(self) -> Counter[str]:
        """How many terminal webhooks each prediction id got."""
        with self._lock:
            return Counter(
                b["id"] for b in self.bodies if b.get("status") in ("succeeded", "failed", "canceled")
            )

    def last(self, prediction_id: str) -> dict[str, Any] | None:
        with self._lock:
            mine = [b for b in self.bodies if b.get("id") == prediction_id]
        return mine[-1] if mine else None

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
