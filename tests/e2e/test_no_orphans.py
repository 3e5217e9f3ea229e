"""Issue 8: no process outlives the `cogkit` that started it, however that one dies.

Supervisors and test harnesses kill hard: SIGKILL at once, or SIGTERM and SIGKILL 5 s later. The
CLI cannot clean up then, so the server must notice by itself: a local server reads EOF on the
stdin pipe the CLI held, a container's server on its attached stdin (and the engine removes it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest

from cogkit.runtime.ports import free_port
from tests.e2e.conftest import PROJECTS, Build, copy_project
from tests.e2e.procs import GONE_WITHIN_S, cmdline, descendants, wait_gone, wait_ready

CHATTY = PROJECTS / "chatty"


def start(args: list[str], *, cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "cogkit", *args],
            cwd=cwd,
            env={**os.environ, "NO_COLOR": "1"},
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


def kill_hard(proc: subprocess.Popen[bytes], how: str) -> None:
    if how == "sigterm-then-sigkill":
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            pass
    proc.kill()
    proc.wait(timeout=30)


def wait_for_line(log: Path, text: str, proc: subprocess.Popen[bytes], timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
        time.sleep(0.2)


HOW = ["sigkill", "sigterm-then-sigkill"]


@pytest.mark.parametrize("reload", [False, True], ids=["serve", "serve-reload"])
def test_killing_local_serve_takes_server_and_worker(tmp_path: Path, reload: bool) -> None:
    project = copy_project(CHATTY, tmp_path / "chatty")
    port = free_port()
    log = tmp_path / "cli.log"
    proc = start(
        ["serve", "--runtime", "local", "-p", str(port), *(["--reload"] if reload else [])],
        cwd=project,
        log=log,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc, log)
        tree = descendants(proc.pid)
        assert tree, "the server's worker (and, with --reload, the server) should run below cogkit serve"
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert wait_gone(tree) == [], [cmdline(pid) for pid in tree]


@pytest.mark.parametrize("how", HOW)
def test_killing_local_predict_mid_prediction_takes_server_and_worker(tmp_path: Path, how: str) -> None:
    project = copy_project(CHATTY, tmp_path / "chatty")
    log = tmp_path / "cli.log"
    proc = start(
        ["predict", "--runtime", "local", "-i", "name=long", "-i", "seconds=600"], cwd=project, log=log
    )
    try:
        wait_for_line(log, "predict: working for long", proc)
        tree = descendants(proc.pid)
        assert len(tree) >= 2, "a server and its worker should run below cogkit predict"
    finally:
        kill_hard(proc, how)
    assert wait_gone(tree) == [], [cmdline(pid) for pid in tree]


def containers_of(client: docker.DockerClient, image: str) -> list[str]:
    return [
        c.id
        for c in client.containers.list(all=True, filters={"ancestor": image, "label": "run.cogkit.owner"})
    ]


@pytest.mark.docker
@pytest.mark.parametrize("how", HOW)
def test_killing_docker_predict_removes_the_container(
    build: Build, docker_client: docker.DockerClient, tmp_path: Path, how: str
) -> None:
    image = build(CHATTY).tag
    before = set(containers_of(docker_client, image))
    log = tmp_path / "cli.log"
    proc = start(["predict", image, "-i", "name=long", "-i", "seconds=600"], cwd=tmp_path, log=log)
    try:
        wait_for_line(log, "predict: working for long", proc)
        ours = set(containers_of(docker_client, image)) - before
        assert len(ours) == 1, log.read_text()
    finally:
        kill_hard(proc, how)
    deadline = time.monotonic() + GONE_WITHIN_S
    while ours & set(containers_of(docker_client, image)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not ours & set(containers_of(docker_client, image))
