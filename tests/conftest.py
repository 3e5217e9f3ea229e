"""Project-wide fixtures: a real Docker engine, the base image stand-in, the host's CA bundle.

Tests that need Docker are marked `@pytest.mark.docker` (or ask for `docker_client`). Under CI=true
a missing engine is a failure, never a skip: CI must prove the Docker paths work. Locally, those
tests skip with a message saying how to start an engine.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

REPO = Path(__file__).resolve().parent.parent
BASE_IMAGE = "python:3.11-slim"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
BASE_IMAGE_BUILD_TIMEOUT_S = 900
START_ENGINE = (
    "start one with `sudo .ci/engine` (or `sudo dockerd &`), or run the whole CI with `sudo .ci/run`"
)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """Fail under CI, skip locally: the one rule for missing test infrastructure."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: Docker tests may not skip)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except docker.errors.DockerException as exc:
        unavailable(f"no Docker engine answers ({exc.__class__.__name__}); {START_ENGINE}")
    yield client
    client.close()


@pytest.fixture(autouse=True)
def _docker_marker(request: pytest.FixtureRequest) -> None:
    """Give every `@pytest.mark.docker` test the engine check, so none can silently run without one."""
    if request.node.get_closest_marker("docker"):
        request.getfixturevalue("docker_client")


@pytest.fixture(scope="session")
def base_image(docker_client: docker.DockerClient) -> str:
    """The `python:3.11-slim` stand-in that rendered Dockerfiles start FROM (built once per machine)."""
    try:
        docker_client.images.get(BASE_IMAGE)
        return BASE_IMAGE
    except docker.errors.ImageNotFound:
        pass
    script = REPO / ".ci" / "base-image"
    try:
        out = subprocess.run(
            [str(script), BASE_IMAGE],
            capture_output=True,
            text=True,
            timeout=BASE_IMAGE_BUILD_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        unavailable(f"cannot build the {BASE_IMAGE} stand-in: {exc}; run `sudo .ci/base-image`")
    if out.returncode != 0:
        unavailable(
            f"cannot build the {BASE_IMAGE} stand-in; run `sudo .ci/base-image`:\n{out.stdout[-2000:]}"
        )
    return BASE_IMAGE


@pytest.fixture(scope="session")
def host_ca_cert() -> Path | None:
    """The host's CA bundle: builds must trust it to reach PyPI through this network's proxy."""
    return HOST_CA_BUNDLE if HOST_CA_BUNDLE.is_file() else None
