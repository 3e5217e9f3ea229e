"""Real servers for the contract tests: `python -m cogkit.server` in a subprocess on 127.0.0.1.

Servers are started on first use and shared for the session (one per fixture predictor);
tests that crash or stop a server ask for a fresh one with `fresh_server`.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.lifetime import popen

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLES = Path(__file__).parents[2] / "examples"
START_TIMEOUT = 90.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(root: int) -> list[int]:
    """Every live process below `root`, from /proc (the worker runs in a session of its own)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    """Wait (bounded) for every pid to be gone; returns those still alive."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [p for p in pids if alive(p)]
        if not left:
            return []
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


class ServerProcess:
    """One `python -m cogkit.server` child, with its output in a log file for failure messages."""

    def __init__(
        self,
        log_dir: Path,
        *,
        predictor: str | None,
        train: str | None = None,
        explicit_shutdown: bool = True,
        cwd: Path = FIXTURES,
        **extra: Any,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"server-{self.port}.log"
        args = [sys.executable, "-m", "cogkit.server", "--host", "127.0.0.1", "--port", str(self.port)]
        args += ["--cwd", str(cwd)] + (["--await-explicit-shutdown"] if explicit_shutdown else [])
        if predictor:
            args += ["--predictor", predictor]
        if train:
            args += ["--train", train]
        for flag in extra.pop("args", ()):
            args.append(flag)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COG_", "COGKIT_", "WEBHOOK_AUTH"))}
        env.update(extra.pop("env", {}))
        self._log = self.log_path.open("wb")
        self.proc = popen(
            args,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=extra.pop("stdin", subprocess.DEVNULL),
            preexec_fn=extra.pop("preexec_fn", None),
        )
        self.client = httpx.Client(base_url=self.url, timeout=60.0)

    def descendants(self) -> list[int]:
        """The pids of the server's process tree below it (its worker and what that started)."""
        return descendants(self.proc.pid)

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, *statuses: str, timeout: float = START_TIMEOUT) -> dict[str, Any]:
        """Poll /health-check until its status is one of `statuses` (bounded)."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log}")
            try:
                last = self.client.get("/health-check", timeout=5).json()
                if last["status"] in statuses:
                    return last
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"no {statuses} within {timeout}s; last {last}\n{self.log}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            with contextlib.suppress(httpx.TransportError):
                self.client.post("/shutdown", timeout=5)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.client.close()
        self._log.close()
        return self.proc.returncode


@pytest.fixture(scope="session")
def _servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ServerProcess]]:
    servers: dict[str, ServerProcess] = {}
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="session")
def server(_servers: dict[str, ServerProcess], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """`server("hello.py:Predictor")`: a shared READY server for that predictor.

    `server(None, cwd=EXAMPLES / "hello-world")` serves what that project's cog.yaml names.
    """
    log_dir = tmp_path_factory.mktemp("server-logs")

    def get(predictor: str | None, **kw: Any) -> ServerProcess:
        key = f"{predictor}{sorted(kw.items())!r}"
        if key not in _servers:
            _servers[key] = ServerProcess(log_dir, predictor=predictor, **kw)
            _servers[key].wait_for("READY")
        return _servers[key]

    return get


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[Any]:
    """A server of the test's own (for crashes and shutdown); stopped at the end of the test."""
    started: list[ServerProcess] = []

    def start(predictor: str | None, **kw: Any) -> ServerProcess:
        proc = ServerProcess(tmp_path, predictor=predictor, **kw)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()
