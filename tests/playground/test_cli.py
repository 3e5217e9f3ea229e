"""The commands around the playground: `cogkit serve` prints its URL; `cogkit playground` opens a
browser only when run from a terminal (a `$BROWSER` script stands in for the browser and records the URL).
"""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import REPO
from tests.playground.conftest import EXAMPLES, free_port

WAIT_S = 180.0


def read_until(fd: int, pattern: re.Pattern[str], timeout: float) -> str:
    """Read a pty or pipe until `pattern` shows up (bounded); returns everything read."""
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not pattern.search(seen):
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the pty closed: the process is gone
                break
            if not chunk:
                break
            seen += chunk.decode(errors="replace")
    return seen


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_serve_prints_a_working_playground_url(tmp_path: Path) -> None:
    project = tmp_path / "hello-world"
    shutil.copytree(
        EXAMPLES / "hello-world", project, ignore=shutil.ignore_patterns(".cogkit", "__pycache__")
    )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cogkit", "serve", "--runtime", "local", "--port", str(port)],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
    )
    try:
        assert process.stderr is not None
        seen = read_until(process.stderr.fileno(), re.compile(r"playground: (\S+)"), WAIT_S)
        found = re.search(r"playground: (\S+)", seen)
        assert found, seen
        assert found.group(1) == f"http://127.0.0.1:{port}/playground"
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health-check", timeout=5).json()["status"] == "READY":
                    break
            except (httpx.TransportError, ValueError):
                pass
            time.sleep(0.2)
        page = httpx.get(found.group(1))
        assert page.status_code == 200 and "<title>Playground" in page.text
    finally:
        stop(process)


def _browser_script(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A `$BROWSER` that records the URL it is asked to open (Python's webbrowser honours $BROWSER)."""
    record = tmp_path / "opened.txt"
    script = tmp_path / "fake-browser"
    script.write_text(f'#!/bin/sh\necho "$1" >> {record}\n')
    script.chmod(0o755)
    return record, {**os.environ, "BROWSER": str(script), "NO_COLOR": "1", "COLUMNS": "200"}


def test_playground_opens_a_browser_from_a_terminal(model: Any, tmp_path: Path) -> None:
    record, env = _browser_script(tmp_path)
    port = free_port()
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "cogkit", "playground", model("hello").url, "--port", str(port)],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        env=env,
    )
    os.close(terminal)
    try:
        seen = read_until(controller, re.compile(r"Ctrl-C stops"), WAIT_S)
        assert f"at http://127.0.0.1:{port}/playground" in seen
        deadline = time.monotonic() + 30
        while not record.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert record.read_text().split() == [f"http://127.0.0.1:{port}/playground"]
    finally:
        stop(process)
        os.close(controller)


def test_playground_opens_no_browser_when_piped(model: Any, tmp_path: Path) -> None:
    record, env = _browser_script(tmp_path)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cogkit", "playground", model("hello").url, "--port", str(port)],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        assert process.stdout is not None
        seen = read_until(process.stdout.fileno(), re.compile(r"Ctrl-C stops"), WAIT_S)
        assert f"at http://127.0.0.1:{port}/playground" in seen
        assert httpx.get(f"http://127.0.0.1:{port}/playground").status_code == 200  # it is up and settled
    finally:
        stop(process)
    assert not record.exists()
