"""The project rule for Docker tests: under CI=true a missing engine fails; locally it skips and says why."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
DOCKER_TEST = "tests/image/test_engine.py::test_buildkit_is_preferred_when_a_client_can_drive_it"


def run_without_engine(ci: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["DOCKER_HOST"] = "unix:///nonexistent/cogkit-no-engine.sock"
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", DOCKER_TEST],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_missing_engine_fails_under_ci() -> None:
    result = run_without_engine(ci=True)
    assert result.returncode == 1, result.stdout
    assert "CI=true: Docker tests may not skip" in result.stdout
    assert "1 error" in result.stdout or "1 failed" in result.stdout


def test_missing_engine_skips_locally_with_how_to_start_one() -> None:
    result = run_without_engine(ci=False)
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout
    assert "no Docker engine answers" in result.stdout and ".ci/engine" in result.stdout
