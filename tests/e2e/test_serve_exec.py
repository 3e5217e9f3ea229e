"""`cogkit serve` (with --reload) and `cogkit exec`, in both runtimes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from cogkit.runtime.ports import free_port
from tests.e2e.conftest import PROJECTS, cogkit, copy_project

WAIT_S = 300.0


def poll_prediction(url: str, expect: str, *, proc: subprocess.Popen[bytes], log: Path) -> dict[str, Any]:
    """POST predictions until one answers `expect` (the server may be starting or restarting)."""
    deadline = time.monotonic() + WAIT_S
    last: Any = None
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            response = httpx.post(f"{url}/predictions", json={"input": {"name": "s"}}, timeout=30)
            last = response.json()
            if last.get("output") == expect:
                return last
        except (httpx.HTTPError, ValueError) as exc:
            last = repr(exc)
        time.sleep(0.2)
    raise AssertionError(
        f"no prediction answered {expect!r} in {WAIT_S}s; last: {last}\n{log.read_text()[-3000:]}"
    )


def stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


@pytest.mark.parametrize("runtime", ["local", pytest.param("docker", marks=pytest.mark.docker)])
def test_serve_reloads_on_code_edit(
    runtime: str, tmp_path: Path, host_ca_cert: Path | None, request: pytest.FixtureRequest
) -> None:
    if runtime == "docker":
        request.getfixturevalue("base_image")
    project = copy_project(PROJECTS / "cogstyle", tmp_path / "cogstyle")
    port = free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "NO_COLOR": "1"}
    if host_ca_cert is not None:
        env["COGKIT_CA_CERT"] = str(host_ca_cert)
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cogkit", "serve", "-p", str(port), "--runtime", runtime, "--reload"],
            cwd=project,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            poll_prediction(url, "hello s (six 1.17.0)", proc=proc, log=log)
            source = (project / "predict.py").read_text()
            (project / "predict.py").write_text(source.replace('"hello"', '"reloaded"'))
            poll_prediction(url, "reloaded s (six 1.17.0)", proc=proc, log=log)
            assert "changed; restarting" in log.read_text()
        finally:
            code = stop(proc)
    assert code == 130, log.read_text()[-2000:]


def test_exec_runs_in_the_project_environment_locally(tmp_path: Path) -> None:
    project = copy_project(PROJECTS / "cogstyle", tmp_path / "cogstyle")
    result = cogkit(
        "exec", "--runtime", "local", "-e", "GREETING=hi",
        "python", "-c", "import os, six, sys; print(sys.prefix, six.__version__, os.environ['GREETING'])",
        cwd=project,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    prefix, version, greeting = result.stdout.split()
    assert Path(prefix) == project / ".cogkit" / "venv"
    assert (version, greeting) == ("1.17.0", "hi")
    assert cogkit("exec", "--runtime", "local", "sh", "-c", "exit 5", cwd=project).returncode == 5


@pytest.mark.docker
def test_exec_in_docker_mounts_the_project(
    tmp_path: Path, host_ca_cert: Path | None, base_image: str
) -> None:
    project = copy_project(PROJECTS / "cogstyle", tmp_path / "cogstyle")
    (project / "fresh.txt").write_text("mounted, not baked")
    result = cogkit(
        "exec", "--runtime", "docker", "-e", "GREETING=hi",
        "sh", "-c", "cat /src/fresh.txt; echo \" $GREETING\"; python -c 'import six; print(six.__version__)'",
        cwd=project, ca_cert=host_ca_cert,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["mounted, not baked hi", "1.17.0"]
