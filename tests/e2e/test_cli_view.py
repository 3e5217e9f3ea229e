"""Issue 9's "what a user runs into", seen from outside: real `cogkit` processes on a chatty model.

The model's prints reach the CLI because the server echoes them on its stderr (the worker side of
that contract); these tests show that `cogkit predict` and `cogkit serve` put them on screen.
"""

from __future__ import annotations

import json
import os
import pty
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cogkit.runtime.ports import free_port
from tests.e2e.conftest import PROJECTS, Build, cogkit, copy_project
from tests.e2e.procs import descendants, stop, wait_gone, wait_ready

CHATTY = PROJECTS / "chatty"
MARKUP = "[bold]weights[/bold] [/x] :smile:"  # as predict.py prints it


@pytest.fixture
def chatty(tmp_path: Path) -> Path:
    return copy_project(CHATTY, tmp_path / "chatty")


def assert_model_output_shown(stderr: str) -> None:
    assert f"setup: loading {MARKUP}" in stderr, stderr
    assert "setup: a line on stderr" in stderr, stderr
    assert "predict: working for you" in stderr, stderr
    assert "Uvicorn running" not in stderr and "Started server process" not in stderr, stderr


def test_predict_shows_what_the_model_prints_locally(chatty: Path) -> None:
    result = cogkit("predict", "--runtime", "local", "-i", "name=you", cwd=chatty)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello you\n"
    assert_model_output_shown(result.stderr)


@pytest.mark.docker
def test_predict_shows_what_the_model_prints_in_docker(build: Build, tmp_path: Path) -> None:
    built = build(CHATTY)
    result = cogkit("predict", built.tag, "-i", "name=you", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello you\n"
    assert_model_output_shown(result.stderr)


def run_in_a_terminal(args: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> str:
    """Run `cogkit` with a pseudo-terminal as its stderr, as a user's shell would; return what it drew."""
    primary, secondary = pty.openpty()
    full_env = {**os.environ, "TERM": "xterm", "COLUMNS": "120", **env}
    full_env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cogkit", *args],
        cwd=cwd,
        env=full_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=secondary,
    )
    os.close(secondary)
    drawn = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(primary, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                drawn += chunk
            elif proc.poll() is not None:
                break
        assert proc.wait(timeout=max(1.0, deadline - time.monotonic())) == 0, drawn.decode(errors="replace")
    finally:
        os.close(primary)
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    return drawn.decode(errors="replace")


def test_a_slow_setup_shows_a_status_line_with_its_elapsed_time(chatty: Path) -> None:
    cogkit("predict", "--runtime", "local", cwd=chatty)  # the venv and schema cache, made beforehand
    drawn = run_in_a_terminal(
        ["predict", "--runtime", "local", "-e", "SETUP_SECONDS=3", "-i", "name=you"],
        cwd=chatty,
        env={},
        timeout=120,
    )
    assert "running setup… 1s" in drawn and "running setup… 2s" in drawn, drawn


def test_setup_timeout_stops_a_setup_that_never_ends(chatty: Path) -> None:
    started = time.monotonic()
    result = cogkit(
        "predict", "--runtime", "local", "-e", "SETUP_SECONDS=600", "--setup-timeout", "3", cwd=chatty
    )
    assert result.returncode == 1, result.stderr
    assert "setup did not finish within 3s" in result.stderr and "--setup-timeout" in result.stderr
    assert time.monotonic() - started < 120  # not the 600 s the model would have taken


def test_json_from_stdin_in_cogs_form(chatty: Path) -> None:
    result = cogkit("predict", "--runtime", "local", "--json", "@-", cwd=chatty, stdin='{"name": "piped"}')
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)
    assert response["status"] == "succeeded" and response["output"] == "hello piped"


@pytest.mark.parametrize("runtime", ["local", pytest.param("docker", marks=pytest.mark.docker)])
def test_a_busy_port_is_one_line_before_setup(runtime: str, chatty: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cogkit("serve", "--runtime", runtime, "-p", str(port), cwd=chatty, timeout=120)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0] == f"error: port {port} is already in use on 127.0.0.1", result.stderr
    assert lines[1].strip().startswith("hint: pick another with -p")
    assert not (chatty / ".cogkit").exists()  # nothing was prepared: no venv, no build


def test_serve_shows_what_the_model_prints(chatty: Path, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cogkit", "serve", "--runtime", "local", "-p", str(port)],
            cwd=chatty,
            env={**os.environ, "NO_COLOR": "1"},
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ready(url, proc, log)
            response = httpx.post(f"{url}/predictions", json={"input": {"name": "you"}}, timeout=60).json()
            assert response["output"] == "hello you"
            deadline = time.monotonic() + 30
            while "predict: working for you" not in log.read_text() and time.monotonic() < deadline:
                time.sleep(0.2)
            text = log.read_text()
            assert f"setup: loading {MARKUP}" in text and "predict: working for you" in text, text
            tree = descendants(proc.pid)
        finally:
            stop(proc)
    assert wait_gone(tree) == []
