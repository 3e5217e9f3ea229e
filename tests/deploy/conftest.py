"""Image facts as a real cogkit build's labels give them; a real registry and labelled images for the rest."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest
import yaml

from cogkit.deploy import DeploySettings, ImageFacts, Manifests, render_manifests
from cogkit.image import labels
from cogkit.registry.reference import Reference
from tests.conftest import unavailable
from tests.e2e.conftest import build  # noqa: F401  (the e2e suite's build-once fixture, shared)
from tests.registry.servers import REGISTRY_BIN, Registry

DIGEST = "sha256:" + "ab" * 32
PINNED = f"ghcr.io/acme/sdxl-turbo:v3@{DIGEST}"
BUILD_TIMEOUT_S = 300


def image_labels(
    *, gpu: bool = False, min_driver: str | None = None, concurrency: int | None = None, train: bool = False
) -> dict[str, str]:
    config: dict[str, Any] = {
        "build": {"gpu": gpu, "python_version": "3.11"},
        "predict": "predict.py:Predictor",
    }
    if train:
        config = {"build": config["build"], "train": "train.py:train"}
    if concurrency is not None:
        config["concurrency"] = {"max": concurrency}
    found = {labels.CONFIG: json.dumps(config), labels.PLAN: json.dumps({"gpu": gpu})}
    if min_driver:
        found[labels.MIN_DRIVER] = min_driver
    return found


def facts(reference: str = PINNED, **kwargs: Any) -> ImageFacts:
    return ImageFacts.from_labels(Reference.parse(reference), image_labels(**kwargs))


def rendered(image: ImageFacts, **settings: Any) -> Manifests:
    return render_manifests(image, DeploySettings(**settings))


def applied(manifests: Manifests) -> list[dict[str, Any]]:
    """The objects exactly as `kubectl apply -f -` would read them from the printed stream."""
    return [doc for doc in yaml.safe_load_all(manifests.to_yaml()) if doc]


def by_kind(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found = {o["kind"]: o for o in objects}
    assert len(found) == len(objects), "one object per kind"
    return found


# -- a real registry and labelled images, for the tests that resolve and pull ---------------------


@pytest.fixture(autouse=True)
def _private_docker_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Registry lookups read credentials from DOCKER_CONFIG: never the real ~/.docker/config.json."""
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path_factory.mktemp("docker-config")))


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """`docker-registry serve` on a free loopback port (the engine trusts loopback without TLS)."""
    if not Path(REGISTRY_BIN).exists():
        unavailable(f"{REGISTRY_BIN} is missing; install it with `apt-get install docker-registry`")
    server = Registry(tmp_path_factory.mktemp("deploy-registry")).start()
    yield server
    server.stop()


def build_labelled(client: docker.DockerClient, context: Path, found: dict[str, str]) -> str:
    """A one-file image FROM scratch carrying `found` as labels; tagged uniquely, removed by the caller."""
    tag = f"cogkit-deploy-test:{uuid.uuid4().hex[:12]}"
    (context / "Dockerfile").write_text("FROM scratch\nCOPY marker /marker\n")
    (context / "marker").write_text(tag)
    flags = [arg for key, value in found.items() for arg in ("--label", f"{key}={value}")]
    done = subprocess.run(
        ["/usr/bin/docker", "build", "-q", "-t", tag, *flags, str(context)],
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    client.images.get(tag)
    return tag


@pytest.fixture
def labelled_image(
    docker_client: docker.DockerClient, tmp_path: Path
) -> Iterator[Callable[[dict[str, str]], str]]:
    made: list[str] = []

    def make(found: dict[str, str]) -> str:
        context = tmp_path / f"image-{len(made)}"
        context.mkdir()
        made.append(build_labelled(docker_client, context, found))
        return made[-1]

    yield make
    for tag in made:
        with contextlib.suppress(docker.errors.APIError):
            docker_client.images.remove(tag, force=True)
