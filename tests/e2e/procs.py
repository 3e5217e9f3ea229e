"""Process trees from /proc, for tests that kill the CLI and check what it leaves behind."""

from __future__ import annotations

import contextlib
import subprocess
import time
from pathlib import Path

import httpx

GONE_WITHIN_S = 30.0  # server grace period plus a few seconds: issue 8's "no process outlives"


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of a live process, or None."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        raw = Path(f"/proc/{pid}/stat").read_text()
        fields = raw[raw.rindex(")") + 2 :].split()
        return fields[0], int(fields[1]), int(fields[19])
    return None


def descendants(pid: int) -> dict[int, int]:
    """Every process below `pid`, with its start time (so a reused pid is not mistaken for it)."""
    children: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))):
            children.setdefault(stat[1], []).append(int(entry.name))
            starts[int(entry.name)] = stat[2]
    found: dict[int, int] = {}
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        if child in starts:
            found[child] = starts[child]
            todo += children.get(child, [])
    return found


def still_running(processes: dict[int, int]) -> list[int]:
    """Those of `processes` still running (a zombie has ended: it only waits to be reaped)."""
    running = []
    for pid, start in processes.items():
        stat = _stat(pid)
        if stat and stat[2] == start and stat[0] != "Z":
            running.append(pid)
    return running


def wait_gone(processes: dict[int, int], timeout: float = GONE_WITHIN_S) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := still_running(processes)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    return ""


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 300.0) -> None:
    """Poll /health-check until READY while `proc` (the CLI) runs; fail with its output otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        with contextlib.suppress(httpx.HTTPError, ValueError):
            if httpx.get(f"{url}/health-check", timeout=5).json().get("status") == "READY":
                return
        time.sleep(0.2)
    raise AssertionError(f"not READY in {timeout}s:\n{log.read_text(errors='replace')[-3000:]}")


def stop(proc: subprocess.Popen[bytes], timeout: float = 60.0) -> int:
    """Ctrl-C, as a user would; SIGKILL if that does not end it (bounded)."""
    import signal

    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
