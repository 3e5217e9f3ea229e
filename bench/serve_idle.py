"""Idle memory of `cogkit serve --runtime local`: RSS of each process in its tree, and the sum.

    python bench/serve_idle.py                       # this checkout, with and without --reload
    python bench/serve_idle.py --python OTHER/bin/python   # another cogkit (e.g. main) for comparison

The project is examples/hello-world (copied; its venv is made on the first run). Each setting runs
three times; READY, then 3 s idle, then /proc/<pid>/status VmRSS of every process below the
`cogkit serve` process (which, on the local runtime, may itself have become the server by exec).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from cogkit.runtime.ports import free_port

REPO = Path(__file__).resolve().parent.parent
RUNS = 3
IDLE_S = 3.0


def tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                raw = (entry / "stat").read_text()
            except OSError:
                continue
            children.setdefault(int(raw[raw.rindex(")") + 2 :].split()[1]), []).append(int(entry.name))
    found, todo = [pid], list(children.get(pid, []))
    while todo:
        found.append(todo.pop())
        todo += children.get(found[-1], [])
    return found


def role(pid: int) -> str:
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    for module, name in (
        (b"cogkit.worker", "worker"),
        (b"cogkit.server", "server"),
        (b"cogkit.runtime.reload", "supervisor"),
    ):
        if module in argv:
            return name
    return "cli"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(python: str, project: Path, extra: list[str]) -> dict[str, float]:
    port = free_port()
    proc = subprocess.Popen(
        [python, "-m", "cogkit", "serve", "--runtime", "local", "-p", str(port), *extra],
        cwd=project,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if (
                    httpx.get(f"http://127.0.0.1:{port}/health-check", timeout=2).json().get("status")
                    == "READY"
                ):
                    break
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.2)
        else:
            raise SystemExit("the server did not get READY")
        time.sleep(IDLE_S)
        return {role(pid): round(rss_mib(pid), 1) for pid in tree(proc.pid)}
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--python", default=sys.executable, help="the interpreter whose cogkit to measure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch) / "hello-world"
        shutil.copytree(REPO / "examples" / "hello-world", project, ignore=shutil.ignore_patterns(".cogkit"))
        for extra in ([], ["--reload"]):
            runs = [measure(args.python, project, extra) for _ in range(RUNS)]
            label = " ".join(["serve", *extra])
            for run in runs:
                print(f"{label:16} {run}  sum {sum(run.values()):.1f} MiB")


if __name__ == "__main__":
    main()
