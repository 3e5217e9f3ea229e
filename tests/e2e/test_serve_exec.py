"""`cogkit serve` (with --reload) and `cogkit exec`, in both runtimes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from cogkit.runtime.ports import free_port
from tests.e2e.conftest import PROJECTS, cogkit, copy_project
from tests.e2e.procs import cmdline, descendants, stop, wait_ready

WAIT_S = 600.0  # the docker variant builds the image first
SETTLE_S = 3.0  # past the watcher's debounce: a restart that was coming has been asked for by then
CHATTY = PROJECTS / "chatty"


def predict(url: str, **inputs: Any) -> Any:
    return httpx.post(f"{url}/predictions", json={"input": inputs}, timeout=60).json().get("output")


def poll_prediction(url: str, expect: str, *, proc: subprocess.Popen[bytes], log: Path) -> None:
    """POST predictions until one answers `expect` (the worker may be restarting)."""
    deadline = time.monotonic() + WAIT_S
    last: Any = None
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            last = predict(url, name="s")
            if last == expect:
                return
        except (httpx.HTTPError, ValueError) as exc:
            last = repr(exc)
        time.sleep(0.2)
    raise AssertionError(f"no prediction answered {expect!r}; last: {last}\n{log.read_text()[-3000:]}")


def serve(project: Path, log: Path, *args: str, ca_cert: Path | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "NO_COLOR": "1"}
    if ca_cert is not None:
        env["COGKIT_CA_CERT"] = str(ca_cert)
    with log.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "cogkit", "serve", *args],
            cwd=project,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


def server_identity(runtime: str, proc: subprocess.Popen[bytes], port: int) -> str:
    """The local server's pid, or the container's id: a worker restart must leave it unchanged."""
    if runtime == "local":
        return ",".join(str(p) for p in sorted(descendants(proc.pid)) if "-m cogkit.server" in cmdline(p))
    client = docker.from_env()
    found = [
        c.id for c in client.containers.list(filters={"label": "run.cogkit.owner"}) if _publishes(c, port)
    ]
    return ",".join(found)


def _publishes(container: Any, port: int) -> bool:
    bindings = (container.attrs.get("HostConfig") or {}).get("PortBindings") or {}
    return any(str(port) == b.get("HostPort") for values in bindings.values() for b in values or [])


@pytest.mark.parametrize("runtime", ["local", pytest.param("docker", marks=pytest.mark.docker)])
def test_reload_restarts_only_the_worker_and_only_on_edits(
    runtime: str, tmp_path: Path, host_ca_cert: Path | None, request: pytest.FixtureRequest
) -> None:
    if runtime == "docker":
        request.getfixturevalue("base_image")
    project = copy_project(CHATTY, tmp_path / "chatty")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    proc = serve(project, log, "-p", str(port), "--runtime", runtime, "--reload", ca_cert=host_ca_cert)
    try:
        wait_ready(url, proc, log, timeout=WAIT_S)
        server = server_identity(runtime, proc, port)
        assert server

        # A model that writes outputs into its folder must not restart itself by serving.
        for i in range(3):
            assert predict(url, name=f"w{i}", write_files=True) == f"hello w{i}"
        assert (project / "output.png").exists() and (project / "result.json").exists()
        assert list((project / "outputs").iterdir())
        time.sleep(SETTLE_S)
        assert log.read_text().count("restarting the worker") == 0, log.read_text()

        # One edit to the code: exactly one worker restart, and the same server process.
        source = project / "predict.py"
        source.write_text(source.read_text().replace('"hello"', '"reloaded"'))
        poll_prediction(url, "reloaded s", proc=proc, log=log)
        time.sleep(SETTLE_S)
        text = log.read_text()
        assert text.count("predict.py changed; restarting the worker") == 1, text
        assert text.count("restarting the worker") == 1, text
        assert server_identity(runtime, proc, port) == server
        assert text.count("setup: loading") == 2, text  # setup ran again, and its output is shown
    finally:
        code = stop(proc)
    assert code == 130, log.read_text()[-2000:]


def test_local_serve_is_the_server_itself(tmp_path: Path) -> None:
    """Issue 10: no supervising process idles beside the server; `cogkit serve` becomes it (exec)."""
    project = copy_project(CHATTY, tmp_path / "chatty")
    port = free_port()
    log = tmp_path / "serve.log"
    proc = serve(project, log, "-p", str(port), "--runtime", "local")
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc, log)
        assert "-m cogkit.server" in cmdline(proc.pid)
    finally:
        stop(proc)


def test_the_reload_supervisor_imports_nothing_heavy(tmp_path: Path) -> None:
    """With --reload a process must watch the files; it is a small one, without the CLI's imports."""
    project = copy_project(CHATTY, tmp_path / "chatty")
    port = free_port()
    log = tmp_path / "serve.log"
    proc = serve(project, log, "-p", str(port), "--runtime", "local", "--reload")
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc, log)
        assert "-m cogkit.runtime.reload" in cmdline(proc.pid)
        mapped = Path(f"/proc/{proc.pid}/maps").read_text()
        assert "pydantic_core" not in mapped and "uvloop" not in mapped and "_yaml" not in mapped
    finally:
        stop(proc)


IMPORTS = "import cog, cogkit, predict; print(predict.Predictor.__name__, cog.BasePredictor.__module__)"


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
    # From a folder of its own, as a script or a test runner would: the project still imports.
    imports = cogkit(
        "exec", "--runtime", "local", "sh", "-c", f"cd /tmp && python -c '{IMPORTS}'", cwd=project
    )
    assert imports.returncode == 0, imports.stderr
    assert imports.stdout.split() == ["Predictor", "cogkit.sdk.predictor"]


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
    # From a folder of its own, as a script or a test runner would: the project still imports.
    imports = cogkit(
        "exec",
        "--runtime",
        "docker",
        "sh",
        "-c",
        f"cd /tmp && python -c '{IMPORTS}'",
        cwd=project,
        ca_cert=host_ca_cert,
    )
    assert imports.returncode == 0, imports.stderr
    assert imports.stdout.split() == ["Predictor", "cogkit.sdk.predictor"]
