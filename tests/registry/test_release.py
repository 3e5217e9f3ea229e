"""The new user's path: `cogkit push` builds examples/hello-world, pushes it natively, and the image
pulled back by digest serves the same prediction."""

from __future__ import annotations

import shutil
from pathlib import Path

import docker
import pytest
from click.testing import CliRunner

from cogkit.cli.main import cli
from cogkit.runtime.client import run, wait_ready
from cogkit.runtime.docker import run_container
from tests.registry.conftest import Endpoint

pytestmark = [pytest.mark.docker, pytest.mark.registry, pytest.mark.timeout(600)]
HELLO = Path(__file__).resolve().parents[2] / "examples" / "hello-world"
READY_S = 120.0


def prediction(image: str, text: str) -> str:
    with run_container(image) as server:
        wait_ready(server.url, alive=server.alive, timeout_s=READY_S)
        response = run(server.url, {"input": {"text": text}}, timeout_s=READY_S)
    assert response["status"] == "succeeded", response
    return response["output"]


def test_push_builds_and_the_pulled_image_predicts(
    plain_registry: Endpoint,
    base_image: str,
    host_ca_cert: Path | None,
    docker_client: docker.DockerClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = tmp_path / "hello"
    shutil.copytree(HELLO, project)
    monkeypatch.chdir(project)
    monkeypatch.setenv("COGKIT_CACHE_DIR", str(tmp_path / "cache"))
    target = plain_registry.ref("cogkitpush-test/hello")
    args = ["push", target, "-q"] + (["--ca-cert", str(host_ca_cert)] if host_ca_cert else [])
    try:
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        reference = result.stdout.strip().splitlines()[-1]
        assert reference.startswith(f"{target}@sha256:")
        expected = prediction(target, "registry")
    finally:
        docker_client.images.remove(target, force=True)
    pulled = f"{target.rsplit(':', 1)[0]}@{reference.split('@')[1]}"
    docker_client.images.pull(pulled)
    try:
        assert prediction(pulled, "registry") == expected == "hello registry"
    finally:
        docker_client.images.remove(pulled, force=True)
