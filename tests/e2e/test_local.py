"""The local runtime: the same server and worker without Docker, in a cached uv venv."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cogkit.plan import resolve
from cogkit.runtime.backend import Event, Progress
from cogkit.runtime.venv import ensure_venv
from cogkit.spec import load_spec
from tests.e2e.conftest import PROJECTS, cogkit, copy_project


def test_cog_style_project_with_requirements(tmp_path: Path) -> None:
    project = copy_project(PROJECTS / "cogstyle", tmp_path / "cogstyle")
    result = cogkit("predict", "--runtime", "local", "-i", "name=local", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello local (six 1.17.0)\n"
    assert (project / ".cogkit" / "venv" / "bin" / "python").exists()


def test_venv_is_reused_until_requirements_change(tmp_path: Path) -> None:
    project = copy_project(PROJECTS / "cogstyle", tmp_path / "cogstyle")
    events: list[Event] = []
    plan = resolve(load_spec(project / "cog.yaml"))
    first = ensure_venv(plan, project, report=events.append)
    again = ensure_venv(plan, project, report=events.append)
    assert not first.reused and again.reused
    assert again.python == first.python

    (project / "requirements.txt").write_text("six==1.16.0\n")
    changed = resolve(load_spec(project / "cog.yaml"))
    rebuilt = ensure_venv(changed, project, report=events.append)
    assert not rebuilt.reused
    # Each install reported uv's progress and its end, as the CLI shows them.
    installs = [
        e for e in events if isinstance(e, Progress) and e.step.startswith("installing 1 requirement")
    ]
    assert [e.done for e in installs if e.done] == [True, True]
    result = cogkit("predict", "--runtime", "local", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "six 1.16.0" in result.stdout


def test_every_input_and_output_kind_locally(tmp_path: Path) -> None:
    project = copy_project(PROJECTS / "kinds", tmp_path / "kinds")
    (project / "note.txt").write_text("local file")
    result = cogkit(
        "predict", "--runtime", "local", "-i", "text=t", "-i", "count=2", "-i", "flag=false",
        "-i", "tags=x", "-i", "doc=@note.txt", cwd=project,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert (out["text"], out["count"], out["flag"], out["tags"], out["doc"]) == (
        "t",
        2,
        False,
        ["x"],
        "local file",
    )

    files = cogkit("predict", "--runtime", "local", "-f", "cog-files.yaml", "-i", "n=2", cwd=project)
    assert files.returncode == 0, files.stderr
    assert (project / "output.1.txt").read_text() == "part 1"

    stream = cogkit("predict", "--runtime", "local", "-f", "cog-stream.yaml", "-i", "n=2", cwd=project)
    assert stream.stdout.split() == ["chunk-0", "chunk-1"]

    failed = cogkit("predict", "--runtime", "local", "-f", "cog-fail.yaml", cwd=project)
    assert failed.returncode == 1 and "cannot handle x" in failed.stderr


def test_missing_system_packages_are_named(tmp_path: Path) -> None:
    project = copy_project(PROJECTS / "sysdeps", tmp_path / "sysdeps")
    (project / "cog.yaml").write_text(
        (project / "cog.yaml").read_text().replace('"jq"', '"jq"\n    - "cogkit-no-such-deb"')
    )
    result = cogkit("predict", "--runtime", "local", "-i", "query=.a", cwd=project)
    assert "system_packages missing on this host: " in result.stderr
    assert "cogkit-no-such-deb" in result.stderr


def test_setup_failure_shows_its_logs(tmp_path: Path) -> None:
    project = copy_project(PROJECTS / "cogstyle", tmp_path / "cogstyle")
    source = (project / "predict.py").read_text()
    (project / "predict.py").write_text(
        source.replace(
            'self.greeting = "hello"', 'print("loading weights..."); raise OSError("weights missing")'
        )
    )
    result = cogkit("predict", "--runtime", "local", cwd=project)
    assert result.returncode == 1, result.stderr
    # The useful line on the error line itself; the model's own output shown (live, or quoted).
    lines = result.stderr.splitlines()
    error = next(line for line in lines if line.startswith("error:"))
    assert error.startswith("error: setup failed") and "OSError: weights missing" in error, result.stderr
    assert "loading weights..." in [line.strip() for line in lines], result.stderr


def processes_mentioning(text: str) -> list[int]:
    """Pids whose command line mentions `text` (here: a private project path)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if text in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(int(entry.name))
    return found


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupt_stops_the_local_server(tmp_path: Path, signum: int) -> None:
    project = copy_project(PROJECTS / "kinds", tmp_path / "kinds-stop")
    args = [
        sys.executable,
        "-m",
        "cogkit",
        "predict",
        "--runtime",
        "local",
        "-f",
        "cog-stream.yaml",
        "-i",
        "n=100000",
    ]
    proc = subprocess.Popen(args, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "chunk-0"
        server = [pid for pid in processes_mentioning(str(project)) if pid != proc.pid]
        assert server, "the server should be running while the prediction streams"
        proc.send_signal(signum)
        assert proc.wait(timeout=60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    deadline = time.monotonic() + 30
    while processes_mentioning(str(project)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_mentioning(str(project)) == []


def test_auto_runtime_falls_back_to_local_and_says_so(tmp_path: Path) -> None:
    project = copy_project(PROJECTS / "cogstyle", tmp_path / "cogstyle")
    no_engine = {"DOCKER_HOST": "unix:///nonexistent/cogkit-no-engine.sock"}
    result = cogkit("predict", "-i", "name=auto", cwd=project, env=no_engine)
    assert result.returncode == 0, result.stderr
    assert "runtime: local (no Docker engine answers" in result.stderr
    assert result.stdout.startswith("hello auto")

    forced = cogkit("predict", "--runtime", "docker", cwd=project, env=no_engine)
    assert forced.returncode == 1
    assert "no Docker engine answers" in forced.stderr and "--runtime local" in forced.stderr
