"""Benchmark cogkit's prediction server against Cog's own servers, side by side in one run.

Usage (from the repository root; the Cog venvs are created on first use)::

    python bench/server.py                 # the full run: 5,000 sequential requests per server
    python bench/server.py --quick         # a smoke run with small counts
    python bench/server.py --only cogkit --only coglet
    python bench/server.py --decompose --profile cogkit   # where cogkit's time goes
    python bench/server.py --cogkit-env COG_LOG_LEVEL=debug   # extra environment for cogkit

The same predictor files (``bench/fixtures/``) run under three servers:

* ``cogkit``: ``python -m cogkit.server`` in the dev venv (``.venv``);
* ``coglet``: ``python -m cog.server.http`` from ``cog==0.23.1`` (the Rust coglet server);
* ``cog-0.14``: ``python -m cog.server.http`` from ``cog==0.14.12`` (Cog's FastAPI server).

The harness itself uses only the standard library, so that a client library's cost is the
same for every server, and so that any Python 3.10+ can run it. It measures its own floor
(the same client against a minimal asyncio responder) so that the reader can see the client
does not dominate.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
FIXTURES = BENCH / "fixtures"
VENVS = BENCH / ".venvs"
RESULTS = BENCH / "results"
COG_VERSIONS = {"coglet": "0.23.1", "cog-0.14": "0.14.12"}
REQUEST_BODY = json.dumps({"input": {"text": "world"}}).encode()
EXPECTED_OUTPUT = "hello world"
READY_TIMEOUT_S = 180.0
REQUEST_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
MAX_CONNECTION_ERRORS = 50


class BenchError(Exception):
    """A server would not start, answer or stop: the run cannot give a fair number."""


# ---------------------------------------------------------------------------- servers


@dataclass(frozen=True)
class ServerKind:
    """How to start one server implementation for a fixture directory."""

    name: str
    python: Path
    module: str
    extra_env: tuple[tuple[str, str], ...] = ()

    def command(self, port: int, fixture: Path) -> list[str]:
        """The argv: cogkit takes flags; both Cog servers read PORT and cog.yaml from the cwd."""
        if self.name == "cogkit":
            return [str(self.python), "-m", self.module, "--host", "127.0.0.1", "--port", str(port),
                    "--predictor", "predict.py:Predictor"]  # fmt: skip
        return [str(self.python), "-m", self.module, "--host", "127.0.0.1"]

    def environ(self, port: int, concurrency: int) -> dict[str, str]:
        """Environment shared by all three, plus what each needs to find its predictor."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COG_", "COGKIT_", "PYTHON"))}
        # coglet spawns its worker with `python3` from PATH (as in a Cog image), so the venv's
        # bin directory must come first; the others use sys.executable and do not mind.
        env["PATH"] = f"{self.python.parent}{os.pathsep}{env.get('PATH', '')}"
        env["PORT"] = str(port)
        env["COG_LOG_LEVEL"] = "warning"
        env["COG_PREDICT_TYPE_STUB"] = "predict.py:Predictor"
        env["COG_MAX_CONCURRENCY"] = str(concurrency)
        env["COGKIT_PREDICTOR"] = "predict.py:Predictor"
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self.extra_env)
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


def server_kinds(only: list[str], cogkit_python: Path, cogkit_env: Sequence[str] = ()) -> list[ServerKind]:
    """The servers to compare, creating the Cog venvs on first use."""
    kinds = []
    for name in ("cogkit", "coglet", "cog-0.14"):
        if only and name not in only:
            continue
        if name == "cogkit":
            # absolute, not resolved: a venv's python is a symlink that must keep its venv
            extra = tuple((key, value) for key, _, value in (item.partition("=") for item in cogkit_env))
            kinds.append(ServerKind(name, cogkit_python.absolute(), "cogkit.server", extra))
        else:
            kinds.append(ServerKind(name, ensure_cog_venv(COG_VERSIONS[name]), "cog.server.http"))
    return kinds


def free_port() -> int:
    """A loopback port nobody listens on now (the tiny race is harmless here)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunningServer:
    """One started server process (in its own process group) and where its log goes."""

    def __init__(self, kind: ServerKind, fixture: Path, concurrency: int, log_dir: Path) -> None:
        self.kind = kind
        self.port = free_port()
        self.log_path = log_dir / f"{kind.name}-{fixture.name}-{self.port}.log"
        self._log = self.log_path.open("wb")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            kind.command(self.port, fixture), cwd=fixture, env=kind.environ(self.port, concurrency),
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip

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

    def tree(self) -> list[int]:
        """The server's pid and those of all its descendants (read from /proc)."""
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
        found, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, []))
        return found

    def rss_bytes(self) -> int:
        """Sum of VmRSS over the server and all its descendants."""
        total = 0
        for pid in self.tree():
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
        for pid in self.tree():
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


# ---------------------------------------------------------------------------- client


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

    @property
    def non_2xx(self) -> int:
        return sum(n for s, n in self.statuses.items() if not s.startswith("2"))


class KeepAliveClient:
    """A minimal HTTP/1.1 client on one socket: a few µs per request, the same for every server.

    http.client spends over 100 µs of CPU per request parsing headers into objects, which is
    a large share of what is being measured; this sends pre-built bytes and reads
    `Content-Length` framing only (all three servers answer with it).
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.request = (
            b"POST /predictions HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (port, len(REQUEST_BODY), REQUEST_BODY)
        )
        self.sock: socket.socket | None = None
        self.buffer = b""

    def _recv(self) -> bytes:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        return chunk

    def post(self) -> tuple[int, bytes]:
        """Send one prediction; return the status code and the body."""
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=REQUEST_TIMEOUT_S)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buffer = b""
        self.sock.sendall(self.request)
        buf = self.buffer
        while (end := buf.find(b"\r\n\r\n")) < 0:
            buf += self._recv()
        head = buf[:end].lower()
        at = head.find(b"\r\ncontent-length:")
        if at < 0:
            raise BenchError(f"a response without Content-Length on port {self.port}: {head[:300]!r}")
        stop = end + 4 + int(head[at + 17 :].split(b"\r\n", 1)[0])
        while len(buf) < stop:
            buf += self._recv()
        self.buffer = buf[stop:]
        if b"\r\nconnection: close" in head:
            self.close()
        return int(head[9:12]), buf[end + 4 : stop]

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class HttpLibClient:
    """The same contract over http.client: slower, so the gap between requests is wider."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
        self.headers = {"Content-Type": "application/json"}

    def post(self) -> tuple[int, bytes]:
        try:
            self.conn.request("POST", "/predictions", REQUEST_BODY, self.headers)
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


def has_expected_output(body: bytes) -> bool:
    try:
        return json.loads(body).get("output") == EXPECTED_OUTPUT
    except (ValueError, AttributeError):
        return False


def request_loop(port: int, n: int, sample: Sample, client_kind: str, check: bool = True) -> None:
    """Send `n` predictions one after another on one keep-alive connection."""
    client = CLIENTS[client_kind](port)
    clock = time.perf_counter_ns
    cpu_start = time.thread_time_ns()
    for _ in range(n):
        t0 = clock()
        try:
            status, data = client.post()
        except OSError:
            sample.connection_errors += 1
            sample.count("conn-error")
            if sample.connection_errors > MAX_CONNECTION_ERRORS:
                raise BenchError(
                    f"more than {MAX_CONNECTION_ERRORS} connection errors on port {port}"
                ) from None
            client.close()
            continue
        elapsed = clock() - t0
        sample.count(str(status))
        if 200 <= status < 300:
            sample.latencies_ns.append(elapsed)
            if check and not has_expected_output(data):
                sample.wrong_output += 1
    client.close()
    sample.client_cpu_ns += time.thread_time_ns() - cpu_start


def sequential(port: int, n: int, warmup: int, client_kind: str) -> Sample:
    """`warmup` unrecorded requests, then `n` recorded ones, all on one connection."""
    request_loop(port, warmup, Sample(), client_kind)
    sample = Sample()
    start = time.perf_counter()
    request_loop(port, n, sample, client_kind)
    sample.wall_s = time.perf_counter() - start
    return sample


def concurrent(port: int, clients: int, total: int, client_kind: str) -> Sample:
    """`clients` threads, each with its own keep-alive connection, sharing `total` requests."""
    shares = [total // clients + (1 if i < total % clients else 0) for i in range(clients)]
    samples = [Sample() for _ in shares]
    barrier = threading.Barrier(clients + 1, timeout=60)
    failures: list[BaseException] = []

    def client(i: int) -> None:
        try:
            request_loop(port, 4, Sample(), client_kind)  # warm this thread's code path first
            barrier.wait()
            request_loop(port, shares[i], samples[i], client_kind)
        except BaseException as e:  # reported by the main thread below
            failures.append(e)
            barrier.abort()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        barrier.wait()
    start = time.perf_counter()
    deadline = time.monotonic() + max(shares) * REQUEST_TIMEOUT_S
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            raise BenchError(f"a client thread on port {port} did not finish")
    if failures:
        raise BenchError(f"a client thread on port {port} failed: {failures[0]!r}") from failures[0]
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


# ---------------------------------------------------------------------------- floor


def serve_floor(port: int) -> None:
    """A minimal keep-alive HTTP responder: the client's own cost, with no framework behind it."""
    import asyncio

    body = json.dumps({"status": "succeeded", "output": EXPECTED_OUTPUT}).encode()
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


def measure_floor(n: int, warmup: int, client_kind: str) -> Sample:
    """Run the same sequential loop against the floor responder in a child process."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--floor-server", str(port)], start_new_session=True)
    try:
        wait_listening(port, proc)
        return sequential(port, n, warmup, client_kind)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


# ---------------------------------------------------------------------------- the run


@dataclass
class Result:
    """One server's numbers, as printed and as written to the JSON file."""

    server: str
    ready_s: float = float("nan")
    ready_samples_s: list[float] = field(default_factory=list)
    seq_p50_us: float = float("nan")
    seq_p99_us: float = float("nan")
    seq_statuses: dict[str, int] = field(default_factory=dict)
    seq_wrong_output: int = 0
    seq_client_cpu_us: float = float("nan")
    seq_server_cpu_us: float = float("nan")
    seq_server_cpu_per_2xx_us: float = float("nan")
    conc_rps: float = float("nan")
    conc_p50_us: float = float("nan")
    conc_p99_us: float = float("nan")
    conc_statuses: dict[str, int] = field(default_factory=dict)
    conc_server_cpu_us: float = float("nan")
    rss_mb: float = float("nan")
    error: str | None = None

    @property
    def non_2xx(self) -> int:
        """Answers that were not 2xx (409 above all) plus connection errors, in both runs."""
        return Sample(statuses=self.seq_statuses).non_2xx + Sample(statuses=self.conc_statuses).non_2xx

    @property
    def total(self) -> int:
        return sum(self.seq_statuses.values()) + sum(self.conc_statuses.values())


def measure_ready(kinds: list[ServerKind], results: dict[str, Result], starts: int, log_dir: Path) -> None:
    """Start and stop each server `starts` times, interleaved so that load drift hits all alike."""
    for i in range(starts):
        for kind in kinds[i % len(kinds) :] + kinds[: i % len(kinds)]:
            if results[kind.name].error:
                continue
            server = RunningServer(kind, FIXTURES / "trivial", 1, log_dir)
            try:
                results[kind.name].ready_samples_s.append(server.wait_ready())
            except BenchError as e:
                results[kind.name].error = str(e)
            finally:
                server.stop()
    for result in results.values():
        if result.ready_samples_s:
            result.ready_s = statistics.median(result.ready_samples_s)


def start_all(
    kinds: list[ServerKind], results: dict[str, Result], fixture: Path, concurrency: int, log_dir: Path
) -> dict[str, RunningServer]:
    """Start every server that has not failed yet on `fixture`, and wait until each is READY."""
    servers: dict[str, RunningServer] = {}
    for kind in kinds:
        if results[kind.name].error:
            continue
        server = RunningServer(kind, fixture, concurrency, log_dir)
        try:
            server.wait_ready()
            servers[kind.name] = server
        except BenchError as e:
            results[kind.name].error = str(e)
            server.stop()
    return servers


def interleaved(
    servers: dict[str, RunningServer], results: dict[str, Result], total: int, rounds: int, run: Callable
) -> dict[str, Sample]:
    """`total` requests per server in `rounds` slices, round-robin with a rotating first server.

    All servers stay up at once and take turns, so a burst of load from elsewhere on the
    machine lands on every server alike instead of on whichever ran at that moment.
    """
    samples = {name: Sample() for name in servers}
    names = list(servers)
    slices = [total // rounds + (1 if i < total % rounds else 0) for i in range(rounds)]
    for i, n in enumerate(slices):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            if results[name].error or n == 0:
                continue
            cpu_before = servers[name].cpu_seconds()
            try:
                part = run(servers[name].port, n)
            except BenchError as e:
                results[name].error = str(e)
                continue
            samples[name].merge(part)
            samples[name].wall_s += part.wall_s
            samples[name].server_cpu_s += servers[name].cpu_seconds() - cpu_before
    return samples


def measure_latency(
    kinds: list[ServerKind], results: dict[str, Result], args: argparse.Namespace, log_dir: Path
) -> None:
    """Sequential keep-alive latency on the trivial predictor, then each server tree's RSS."""
    servers = start_all(kinds, results, FIXTURES / "trivial", 1, log_dir)
    try:
        for server in servers.values():
            sequential(server.port, 0, args.warmup, args.client)
        samples = interleaved(servers, results, args.requests, args.rounds,
                              lambda port, n: sequential(port, n, 0, args.client))  # fmt: skip
        for name, sample in samples.items():
            result = results[name]
            result.seq_p50_us = percentile_us(sample.latencies_ns, 50)
            result.seq_p99_us = percentile_us(sample.latencies_ns, 99)
            result.seq_statuses = sample.statuses
            result.seq_wrong_output = sample.wrong_output
            result.seq_client_cpu_us = sample.client_cpu_ns / 1000 / max(1, sum(sample.statuses.values()))
            result.seq_server_cpu_us = sample.server_cpu_s * 1e6 / max(1, sum(sample.statuses.values()))
            result.seq_server_cpu_per_2xx_us = sample.server_cpu_s * 1e6 / max(1, len(sample.latencies_ns))
            result.rss_mb = servers[name].rss_bytes() / 2**20
    finally:
        for server in servers.values():
            server.stop()


def measure_throughput(
    kinds: list[ServerKind], results: dict[str, Result], args: argparse.Namespace, log_dir: Path
) -> None:
    """Requests per second from `--clients` threads against the async predictor with 8 slots."""
    servers = start_all(kinds, results, FIXTURES / "async8", args.concurrency, log_dir)
    try:
        samples = interleaved(servers, results, args.concurrent_requests, args.rounds,
                              lambda port, n: concurrent(port, args.clients, n, args.client))  # fmt: skip
        for name, sample in samples.items():
            result = results[name]
            ok = sum(n for s, n in sample.statuses.items() if s.startswith("2"))
            result.conc_rps = ok / sample.wall_s if sample.wall_s else float("nan")
            result.conc_p50_us = percentile_us(sample.latencies_ns, 50)
            result.conc_p99_us = percentile_us(sample.latencies_ns, 99)
            result.conc_statuses = sample.statuses
            result.conc_server_cpu_us = sample.server_cpu_s * 1e6 / max(1, sum(sample.statuses.values()))
    finally:
        for server in servers.values():
            server.stop()


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


def decompose(args: argparse.Namespace) -> list[str]:
    """Split cogkit's latency: the bare framework floor, and the worker round trip without HTTP."""
    python = str(args.cogkit_python.absolute())
    probes = FIXTURES / "probes"
    lines = ["decomposition of cogkit's sequential latency (same client, same counts):"]
    fast = subprocess.run([python, "-c", "import httptools, uvloop"], capture_output=True, timeout=60)
    stacks = [("h11", "asyncio")] + ([("httptools", "uvloop")] if fast.returncode == 0 else [])
    for protocol, loop in stacks:
        port = free_port()
        proc = subprocess.Popen([python, str(probes / "bare_fastapi.py"), str(port), protocol, loop],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        try:
            wait_listening(port, proc)
            sample = sequential(port, args.requests, args.warmup, args.client)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        lines.append(f"  bare FastAPI route, uvicorn http={protocol} loop={loop}: p50 "
                     f"{percentile_us(sample.latencies_ns, 50):.0f} µs, p99 {percentile_us(sample.latencies_ns, 99):.0f} µs")  # fmt: skip
    got = subprocess.run([python, str(probes / "worker_roundtrip.py"), str(FIXTURES / "trivial"),
                          str(args.requests), str(args.warmup)], capture_output=True, text=True, timeout=600)  # fmt: skip
    if got.returncode != 0:
        raise BenchError(f"the worker round-trip probe failed:\n{got.stderr[-2000:]}")
    report = json.loads(got.stdout.strip().splitlines()[-1])
    lines.append(f"  cogkit worker round trip (WorkerClient.predict, no HTTP): p50 "
                 f"{percentile_us(report['latencies_ns'], 50):.0f} µs, p99 {percentile_us(report['latencies_ns'], 99):.0f} µs, "
                 f"setup {report['setup_s']:.2f} s")  # fmt: skip
    return lines


def ensure_py_spy() -> Path:
    """py-spy from PATH, or installed on first use into bench/.venvs/tools."""
    found = shutil.which("py-spy")
    if found:
        return Path(found)
    tools = VENVS / "tools"
    binary = tools / "bin" / "py-spy"
    if not binary.exists():
        uv = find_uv()
        subprocess.run([*uv, "venv", "-q", "--python", sys.executable, str(tools)], check=True, timeout=300)
        subprocess.run([*uv, "pip", "install", "-q", "--python", str(tools / "bin" / "python"), "py-spy"],
                       check=True, timeout=600)  # fmt: skip
    return binary


def profile(kind: ServerKind, args: argparse.Namespace, log_dir: Path) -> str:
    """A separate sequential run under `py-spy record` (server and worker); returns a summary.

    Run after the measured runs, so that the sampler's cost never lands in the table.
    """
    py_spy = ensure_py_spy()
    server = RunningServer(kind, FIXTURES / "trivial", 1, log_dir)
    out = log_dir / f"profile-{kind.name}.txt"
    spy: subprocess.Popen | None = None
    try:
        server.wait_ready()
        sequential(server.port, 0, args.warmup, args.client)
        spy = subprocess.Popen(
            [str(py_spy), "record", "--pid", str(server.proc.pid), "--subprocesses", "--nonblocking",
             "--rate", str(PROFILE_RATE_HZ), "--format", "raw", "--output", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        time.sleep(2.0)  # let py-spy attach to every process of the tree
        sample = sequential(server.port, args.requests, 0, args.client)
        spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        spy.wait(timeout=60)
    finally:
        if spy is not None and spy.poll() is None:
            spy.kill()
            spy.wait(timeout=10)
        server.stop()
    return summarize_profile(out, sample.wall_s, len(sample.latencies_ns))


PROFILE_RATE_HZ = 1000
PROCESS_FRAME = re.compile(r'process (\d+):"([^"]*)"')
LINE_NUMBER = re.compile(r":\d+\)$")
# Leaf frames that are a thread waiting, not working: py-spy sometimes samples them as active.
WAITING = re.compile(r"^(\w+\.)?(select|wait|readinto|recv|recv_into|get|poll|accept|sleep) \(")


def summarize_profile(path: Path, wall_s: float, requests: int, top: int = 25) -> str:
    """On-CPU time per function (inclusive) and per leaf (self), in µs per request.

    py-spy writes one line per distinct stack: `frame;frame;... count`, where each process of
    the tree is a frame `process PID:"cmdline"` (the command line may itself hold `;`). Line
    numbers are dropped so that a function counts once; stacks that end in a wait are left out.
    """
    inclusive: dict[str, int] = {}
    leaf: dict[str, int] = {}
    busy = waiting = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        procs = PROCESS_FRAME.findall(stack)
        owner = procs[-1][1].split(" -m ")[-1].split(" -c ")[-1][:20] if procs else "?"
        frames = [LINE_NUMBER.sub(")", f) for f in PROCESS_FRAME.sub("", stack).split(";") if f.strip()]
        if not frames or WAITING.match(frames[-1]):
            waiting += n
            continue
        busy += n
        for frame in set(frames):
            inclusive[f"[{owner}] {frame}"] = inclusive.get(f"[{owner}] {frame}", 0) + n
        leaf[f"[{owner}] {frames[-1]}"] = leaf.get(f"[{owner}] {frames[-1]}", 0) + n
    scale = 1e6 / PROFILE_RATE_HZ / max(1, requests)
    lines = [f"profile {path.name}: {busy * scale:.0f} µs busy per request, all processes ({busy} busy and "
             f"{waiting} waiting samples at {PROFILE_RATE_HZ} Hz; {requests} requests in {wall_s:.1f}s)",
             "  inclusive:"]  # fmt: skip
    for key, n in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"  {n * scale:8.1f} µs/req  {key}")
    lines.append("  self:")
    for key, n in sorted(leaf.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"  {n * scale:8.1f} µs/req  {key}")
    return "\n".join(lines)


def ratio(value: float, base: float) -> str:
    if base != base or value != value or base == 0:  # NaN-safe
        return "-"
    return f"{value / base:.2f}x"


def rate(bad: int, total: int) -> str:
    return f"{bad} ({100 * bad / total:.1f}%)" if total else "-"


def render(results: list[Result], floor: Sample) -> str:
    """The table and the ratios to coglet, as plain text."""
    rows = [("server", "p50 µs", "p99 µs", "CPU µs/req", "rps (8 cl.)", "non-2xx seq", "non-2xx conc",
             "READY s", "RSS MiB")]  # fmt: skip
    for r in results:
        seq, conc = Sample(statuses=r.seq_statuses), Sample(statuses=r.conc_statuses)
        rows.append((r.server, f"{r.seq_p50_us:.0f}", f"{r.seq_p99_us:.0f}", f"{r.seq_server_cpu_us:.0f}",
                     f"{r.conc_rps:.0f}", rate(seq.non_2xx, sum(r.seq_statuses.values())),
                     rate(conc.non_2xx, sum(r.conc_statuses.values())), f"{r.ready_s:.2f}", f"{r.rss_mb:.0f}"))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    base = next((r for r in results if r.server == "coglet"), None)
    if base:
        lines.append("")
        lines.append("ratio to coglet (lower is better, except rps):")
        for r in results:
            lines.append(f"  {r.server:9} p50 {ratio(r.seq_p50_us, base.seq_p50_us)}  "
                         f"p99 {ratio(r.seq_p99_us, base.seq_p99_us)}  CPU {ratio(r.seq_server_cpu_us, base.seq_server_cpu_us)}  "
                         f"rps {ratio(r.conc_rps, base.conc_rps)}  READY {ratio(r.ready_s, base.ready_s)}  "
                         f"RSS {ratio(r.rss_mb, base.rss_mb)}")  # fmt: skip
    lines.append("")
    for r in results:
        lines.append(f"  {r.server:9} sequential {r.seq_statuses} (server CPU {r.seq_server_cpu_per_2xx_us:.0f} µs "
                     f"per 2xx), concurrent {r.conc_statuses}; "
                     f"concurrent p50 {r.conc_p50_us:.0f} µs, p99 {r.conc_p99_us:.0f} µs, server CPU "
                     f"{r.conc_server_cpu_us:.0f} µs/req; client CPU {r.seq_client_cpu_us:.0f} µs/req"
                     + (f"; wrong outputs {r.seq_wrong_output}" if r.seq_wrong_output else ""))  # fmt: skip
        if r.error:
            lines.append(f"  {r.server:9} ERROR: {r.error.splitlines()[0]}")
    floor_cpu = floor.client_cpu_ns / 1000 / max(1, len(floor.latencies_ns))
    lines.append(f"  client floor (same loop, minimal asyncio responder): p50 "
                 f"{percentile_us(floor.latencies_ns, 50):.0f} µs, p99 {percentile_us(floor.latencies_ns, 99):.0f} µs, "
                 f"client CPU {floor_cpu:.0f} µs/req")  # fmt: skip
    return "\n".join(lines)


def verdict(results: list[Result]) -> list[str]:
    """The issue's four targets for cogkit, each PASS or MISS with the numbers."""
    by = {r.server: r for r in results}
    ours, base = by.get("cogkit"), by.get("coglet")
    if not ours or not base or ours.error or base.error:
        return []
    checks = [
        ("p50 <= 1/2 coglet", ours.seq_p50_us <= base.seq_p50_us / 2, f"{ours.seq_p50_us:.0f} vs {base.seq_p50_us:.0f} µs"),
        ("zero non-2xx", ours.non_2xx + ours.seq_wrong_output == 0,
         f"{ours.non_2xx} non-2xx, {ours.seq_wrong_output} wrong outputs, of {ours.total}"),
        ("rps >= coglet", ours.conc_rps >= base.conc_rps, f"{ours.conc_rps:.0f} vs {base.conc_rps:.0f}"),
        ("READY <= coglet", ours.ready_s <= base.ready_s, f"{ours.ready_s:.2f} vs {base.ready_s:.2f} s"),
    ]  # fmt: skip
    return [f"  {'PASS' if ok else 'MISS'}  {name:18} {detail}" for name, ok, detail in checks]


def git_head() -> str:
    got = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
    )
    return got.stdout.strip()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", default=[], choices=["cogkit", "coglet", "cog-0.14"],
                        help="run only this server (repeatable)")  # fmt: skip
    parser.add_argument("--requests", type=int, default=5000, help="sequential requests per server")
    parser.add_argument("--warmup", type=int, default=200, help="unrecorded requests first")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads")
    parser.add_argument("--concurrency", type=int, default=8, help="COG_MAX_CONCURRENCY for the async run")
    parser.add_argument(
        "--concurrent-requests", type=int, default=4000, help="requests in the concurrent run"
    )
    parser.add_argument("--sleep-ms", type=float, default=10.0, help="the async predictor's sleep")
    parser.add_argument("--rounds", type=int, default=5, help="slices the servers take turns in")
    parser.add_argument("--starts", type=int, default=5, help="starts for the median time to READY")
    parser.add_argument("--cogkit-python", type=Path, default=ROOT / ".venv" / "bin" / "python")
    parser.add_argument("--cogkit-env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment for the cogkit server (repeatable), e.g. an experiment's PYTHONPATH")  # fmt: skip
    parser.add_argument("--client", choices=sorted(CLIENTS), default="raw",
                        help="raw: pre-built bytes on a socket (default); http.client: the stdlib client")  # fmt: skip
    parser.add_argument("--profile", action="append", default=[], choices=["cogkit", "coglet", "cog-0.14"],
                        help="after the measured runs, profile this server's latency run with py-spy")  # fmt: skip
    parser.add_argument("--decompose", action="store_true",
                        help="also time a bare FastAPI route and cogkit's worker round trip alone")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    parser.add_argument("--floor-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.warmup, args.concurrent_requests, args.starts = 300, 20, 400, 2
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.floor_server:
        serve_floor(args.floor_server)
        return 0
    os.environ["BENCH_PREDICT_SLEEP_MS"] = str(args.sleep_ms)  # read by bench/fixtures/async8
    bad = [item for item in args.cogkit_env if "=" not in item]
    if bad:
        raise SystemExit(f"--cogkit-env wants KEY=VALUE, got {bad[0]!r}")
    kinds = server_kinds(args.only, args.cogkit_python, args.cogkit_env)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H%M%SZ")
    log_dir = RESULTS / f"logs-{stamp}"
    log_dir.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    print(
        f"server bench {stamp}: {os.cpu_count()} CPUs, load {load_before[0]:.2f} {load_before[1]:.2f}",
        flush=True,
    )
    floor = measure_floor(args.requests, args.warmup, args.client)
    results = {kind.name: Result(kind.name) for kind in kinds}
    measure_ready(kinds, results, args.starts, log_dir)
    print(
        f"  sequential latency: {args.requests} requests per server in {args.rounds} rounds ...", flush=True
    )
    measure_latency(kinds, results, args, log_dir)
    print(f"  throughput: {args.concurrent_requests} requests, {args.clients} clients ...", flush=True)
    measure_throughput(kinds, results, args, log_dir)
    ordered = list(results.values())
    print()
    print(render(ordered, floor))
    checks = verdict(ordered)
    if checks:
        print("\ntargets for cogkit:")
        print("\n".join(checks))
    extras: list[str] = []
    try:
        decomposition = decompose(args) if args.decompose else []
        if decomposition:
            print("\n" + "\n".join(decomposition))
        profiles = [profile(kind, args, log_dir) for kind in kinds if kind.name in args.profile]
        for summary in profiles:
            print("\n" + summary)
    except (BenchError, subprocess.SubprocessError) as e:
        extras.append(f"decompose/profile failed: {e}")
        print(f"\n{extras[-1]}", file=sys.stderr)
        decomposition, profiles = [], []
    for r in ordered:
        if r.error:
            print(f"\n{r.server} failed:\n{r.error}", file=sys.stderr)
    load_after = os.getloadavg()
    print(f"\nload average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    out = RESULTS / f"server-{stamp}.json"
    document = {
        "date": stamp, "git": git_head(), "cpus": os.cpu_count(), "platform": platform.platform(),
        "load_before": load_before, "load_after": load_after,
        "servers": {kind.name: " ".join(kind.command(0, FIXTURES / "trivial")) for kind in kinds},
        "cog_versions": COG_VERSIONS,
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "client_floor": {"p50_us": percentile_us(floor.latencies_ns, 50), "p99_us": percentile_us(floor.latencies_ns, 99),
                         "client_cpu_us": floor.client_cpu_ns / 1000 / max(1, len(floor.latencies_ns))},
        "results": [asdict(r) | {"non_2xx": r.non_2xx, "total": r.total} for r in ordered],
        "targets": checks,
        "profiles": profiles,
        "decomposition": decomposition,
        "extras_errors": extras,
    }  # fmt: skip
    out.write_text(json.dumps(document, indent=2))
    print(f"results: {out.relative_to(ROOT)}  logs: {log_dir.relative_to(ROOT)}")
    return 1 if any(r.error for r in ordered) else 0


if __name__ == "__main__":
    sys.exit(main())
