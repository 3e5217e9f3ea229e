"""Where one server's time goes: a bare-framework and worker-only decomposition of cogkit's
latency (`--decompose`), and a py-spy profile of one workload (`--profile`)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from argparse import Namespace
from pathlib import Path

from .clients import Call, percentile_us, predict, sequential, stream_tokens
from .launch import FIXTURES, VENVS, BenchError, RunningServer, ServerKind, find_uv, free_port, wait_listening
from .workloads import TRIVIAL

PROFILE_RATE_HZ = 1000
PROCESS_FRAME = re.compile(r'process (\d+):"([^"]*)"')
LINE_NUMBER = re.compile(r":\d+\)$")
# Leaf frames that are a thread waiting, not working: py-spy sometimes samples them as active.
WAITING = re.compile(r"^(\w+\.)?(select|wait|readinto|recv|recv_into|get|poll|accept|sleep) \(")


def decompose(args: Namespace) -> list[str]:
    """Split cogkit's latency: the bare framework floor, and the worker round trip without HTTP."""
    python = str(args.cogkit_python.absolute())
    probes = FIXTURES / "probes"
    lines = ["decomposition of cogkit's sequential latency (same client, same counts):"]
    fast = subprocess.run([python, "-c", "import httptools, uvloop"], capture_output=True, timeout=60)
    stacks = [("h11", "asyncio")] + ([("httptools", "uvloop")] if fast.returncode == 0 else [])
    for app, (protocol, loop) in [("asgi", stacks[-1]), *(("starlette", stack) for stack in stacks)]:
        port = free_port()
        proc = subprocess.Popen([python, str(probes / "bare_asgi.py"), str(port), app, protocol, loop],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        try:
            wait_listening(port, proc)
            sample = sequential(port, TRIVIAL, args.requests, args.warmup, client_kind=args.client)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        lines.append(f"  bare {app} route, uvicorn http={protocol} loop={loop}: p50 "
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


def _profiled_run(workload: str, args: Namespace) -> tuple[str, int, Call | None]:
    """(fixture, requests, call) of a profiled run; call None means a token stream."""
    if workload == "files":
        import base64
        import random

        data = random.Random(10).randbytes(args.file_mib << 20)
        uri = "data:application/octet-stream;base64," + base64.b64encode(data).decode()
        return "files", max(10, args.file_requests * 3), predict({"file": uri})
    if workload == "streams":
        return "tokens", 20, None
    return "trivial", args.requests, TRIVIAL


def profile(kind: ServerKind, args: Namespace, log_dir: Path) -> str:
    """A separate run of `--profile-workload` under `py-spy record` (server and worker); returns a
    summary. Run after the measured runs, so that the sampler's cost never lands in the table."""
    py_spy = ensure_py_spy()
    fixture, requests, call = _profiled_run(args.profile_workload, args)
    server = RunningServer(kind, FIXTURES / fixture, 1, log_dir)
    out = log_dir / f"profile-{kind.name}-{args.profile_workload}.txt"
    spy: subprocess.Popen | None = None
    stream = predict({"tokens": 2000}, ("Accept", "text/event-stream"))
    try:
        server.wait_ready()
        spy = subprocess.Popen(
            [str(py_spy), "record", "--pid", str(server.proc.pid), "--subprocesses", "--nonblocking",
             "--rate", str(PROFILE_RATE_HZ), "--format", "raw", "--output", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        time.sleep(2.0)  # let py-spy attach to every process of the tree
        start = time.perf_counter()
        if call is None:
            for _ in range(requests):
                stream_tokens(server.port, stream, quickack=True)
        else:
            sequential(server.port, call, requests)
        wall = time.perf_counter() - start
        spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        spy.wait(timeout=60)
    finally:
        if spy is not None and spy.poll() is None:
            spy.kill()
            spy.wait(timeout=10)
        server.stop()
    return summarize_profile(out, wall, requests)


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
