"""The servers compared, and one running server's process tree: start, READY, RSS, CPU, stop."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
FIXTURES = BENCH / "fixtures"
VENVS = BENCH / ".venvs"
RESULTS = BENCH / "results"
COG_VERSIONS = {"coglet": "0.23.1", "cog-0.14": "0.14.12"}
NAMES = ("cogkit", "coglet", "cog-0.14")
READY_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 15.0
RSS_SAMPLE_S = 0.01


class BenchError(Exception):
    """A server would not start, answer or stop: the run cannot give a fair number."""


@dataclass(frozen=True)
class ServerKind:
    """How to start one server implementation for a fixture directory."""

    name: str
    python: Path
    module: str
    extra_env: tuple[tuple[str, str], ...] = ()

    @property
    def is_cogkit(self) -> bool:
        return self.module == "cogkit.server"

    @property
    def streams(self) -> bool:
        """Whether it answers `Accept: text/event-stream` with events (Cog 0.14 has no SSE)."""
        return self.name != "cog-0.14"

    def command(self, port: int) -> list[str]:
        """The argv: cogkit takes flags; both Cog servers read PORT and cog.yaml from the cwd."""
        if self.is_cogkit:
            return [str(self.python), "-m", self.module, "--host", "127.0.0.1", "--port", str(port),
                    "--predictor", "predict.py:Predictor"]  # fmt: skip
        return [str(self.python), "-m", self.module, "--host", "127.0.0.1"]

    def environ(self, port: int, concurrency: int, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment shared by all, plus what each needs to find its predictor."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COG_", "COGKIT_", "PYTHON"))}
        # coglet spawns its worker with `python3` from PATH (as in a Cog image), so the venv's
        # bin directory must come first; the others use sys.executable and do not mind.
        env["PATH"] = f"{self.python.parent}{os.pathsep}{env.get('PATH', '')}"
        env["PORT"] = str(port)
        env["COG_LOG_LEVEL"] = "warning"
        env["COG_PREDICT_TYPE_STUB"] = "predict.py:Predictor"
        env["COG_MAX_CONCURRENCY"] = str(concurrency)
        env["COGKIT_PREDICTOR"] = "predict.py:Predictor"
        env["COGKIT_ECHO_MODEL_OUTPUT"] = "0"
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self.extra_env)
        env.update(extra or {})
        return env


def find_uv() -> list[str]:
    """uv from PATH, the dev venv, or the running interpreter's packages."""
    for candidate in (shutil.which("uv"), ROOT / ".venv" / "bin" / "uv"):
        if candidate and Path(candidate).exists():
            return [str(candidate)]
    return [sys.executable, "-m", "uv"]


def ensure_cog_venv(version: str) -> Path:
    """Create bench/.venvs/cog-<version> with `cog==<version>` unless it already works."""
    venv = VENVS / f"cog-{version}"
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import importlib.metadata as m; print(m.version('cog'))"]
    if python.exists():
        got = subprocess.run(probe, capture_output=True, text=True, timeout=60)
        if got.returncode == 0 and got.stdout.strip() == version:
            return python
    print(f"creating {venv} with cog=={version} ...", flush=True)
    uv = find_uv()
    subprocess.run([*uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True, timeout=300)
    subprocess.run([*uv, "pip", "install", "-q", "--python", str(python), f"cog=={version}"],
                   check=True, timeout=600)  # fmt: skip
    return python


def baseline_tree(ref: str, into: Path) -> Path:
    """`cogkit/` as it is at git `ref`, extracted under `into` (run with PYTHONPATH pointing there)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", ref, "cogkit"], capture_output=True, check=True
    ).stdout
    target = into / ref.replace("/", "_")
    target.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def server_kinds(
    only: Sequence[str], cogkit_python: Path, cogkit_env: Sequence[str] = (), baseline: Path | None = None
) -> list[ServerKind]:
    """The servers to compare, creating the Cog venvs on first use. With `baseline`, cogkit as it
    was at another commit runs too, as `cogkit-before`, from the same venv."""
    python = cogkit_python.absolute()  # not resolved: a venv's python is a symlink that must keep its venv
    extra = tuple((key, value) for key, _, value in (item.partition("=") for item in cogkit_env))
    kinds = []
    for name in NAMES:
        if only and name not in only:
            continue
        if name == "cogkit":
            kinds.append(ServerKind(name, python, "cogkit.server", extra))
            if baseline is not None:
                kinds.append(
                    ServerKind("cogkit-before", python, "cogkit.server", (("PYTHONPATH", str(baseline)),))
                )
        else:
            kinds.append(ServerKind(name, ensure_cog_venv(COG_VERSIONS[name]), "cog.server.http"))
    return kinds


def free_port() -> int:
    """A loopback port nobody listens on now (the tiny race is harmless here)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    """Return once something accepts on `port`; fail if `proc` dies or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise BenchError(f"nothing listened on port {port} (exit code {proc.poll()})") from None
            time.sleep(0.01)


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


class RunningServer:
    """One started server process (in its own process group) and where its log goes."""

    def __init__(
        self,
        kind: ServerKind,
        fixture: Path,
        concurrency: int,
        log_dir: Path,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.kind = kind
        self.port = free_port()
        self.log_path = log_dir / f"{kind.name}-{fixture.name}-{self.port}.log"
        self._log = self.log_path.open("wb")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            kind.command(self.port), cwd=fixture, env=kind.environ(self.port, concurrency, env),
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        self._pids: list[int] = []

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> float:
        """Poll GET /health-check until READY; return seconds since the process was started."""
        deadline = self.started + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.kind.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2.0)
                conn.request("GET", "/health-check")
                resp = conn.getresponse()
                body = resp.read()
                conn.close()
                if resp.status == 200 and json.loads(body).get("status") == "READY":
                    return time.perf_counter() - self.started
                if b"SETUP_FAILED" in body or b"DEFUNCT" in body:
                    raise BenchError(f"{self.kind.name} failed setup: {body[:500]!r}\n{self.log_tail()}")
            except (OSError, http.client.HTTPException, ValueError):
                pass
            time.sleep(0.005)
        raise BenchError(f"{self.kind.name} not READY after {timeout:.0f}s:\n{self.log_tail()}")

    def tree(self, fresh: bool = True) -> list[int]:
        """The server's pid and its descendants'; `fresh=False` reuses the last reading (cheap
        enough to sample often; the tree does not change during a workload)."""
        if fresh or not self._pids:
            self._pids = process_tree(self.proc.pid)
        return self._pids

    def rss_bytes(self, fresh: bool = True) -> int:
        """Sum of VmRSS over the server and all its descendants."""
        total = 0
        for pid in self.tree(fresh):
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            except OSError:
                continue
        return total

    def cpu_seconds(self) -> float:
        """User plus system CPU time of the server and its live descendants, from /proc."""
        total = 0
        for pid in process_tree(self.proc.pid):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        return total / os.sysconf("SC_CLK_TCK")

    def log_tail(self, lines: int = 30) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM the process group we created, then SIGKILL it if it lingers."""
        for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT_S), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
            # The leader is gone; take down any worker it left behind in its group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            break
        self._log.close()


class PeakRss:
    """Samples a server tree's RSS every RSS_SAMPLE_S on a thread while the block runs."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.peak = server.rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(RSS_SAMPLE_S):
            self.peak = max(self.peak, self.server.rss_bytes(fresh=False))

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.peak = max(self.peak, self.server.rss_bytes())
