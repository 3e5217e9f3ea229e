"""Shared builds for the end-to-end tests: each project is built once per session (CI has 2 cores)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from cogkit.image.build import BuiltImage, build_project

E2E = Path(__file__).resolve().parent
PROJECTS = E2E / "projects"
REPO = E2E.parent.parent
EXAMPLES = REPO / "examples"
CLI_TIMEOUT_S = 900

Build = Callable[..., BuiltImage]


def example(name: str) -> Path:
    """A project from examples/ or tests/e2e/projects/ (examples first)."""
    for root in (EXAMPLES, PROJECTS):
        if (root / name / "cog.yaml").is_file():
            return root / name
    raise FileNotFoundError(f"no project {name} under examples/ or tests/e2e/projects/")


@pytest.fixture(scope="session")
def build(docker_client: docker.DockerClient, base_image: str, host_ca_cert: Path | None) -> Iterator[Build]:
    """Build a project (cog.yaml or another config file in it) once per session and return the result."""
    cache: dict[tuple[Path, str, str | None], BuiltImage] = {}

    def get(project: Path, config: str = "cog.yaml", *, tag: str | None = None) -> BuiltImage:
        key = (project, config, tag)
        if key not in cache:
            cache[key] = build_project(project / config, tag=tag, ca_cert=host_ca_cert)
        return cache[key]

    yield get


def cogkit(
    *args: str,
    cwd: Path,
    ca_cert: Path | None = None,
    timeout: float = CLI_TIMEOUT_S,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real `cogkit` command (a subprocess, as a user would)."""
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
    if ca_cert is not None:
        full_env["COGKIT_CA_CERT"] = str(ca_cert)
    return subprocess.run(
        [sys.executable, "-m", "cogkit", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )


def copy_project(source: Path, dest: Path) -> Path:
    """A private copy of a project, without anything cogkit cached inside it."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns(".cogkit", "__pycache__", "output.*"))
    return dest
