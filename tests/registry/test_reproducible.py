"""Layers that stay the same when nothing changed, with real `cogkit build`s and a real registry.

Both ways: the engine's own layers differ between two `--no-cache` builds (BuildKit 0.8 stamps the
build time on everything it writes), and the layers `cogkit push` sends do not; a one-line edit
sends exactly one new layer.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from cogkit.image.build import build_project
from cogkit.registry import BlobCache, push_image
from tests.registry.conftest import Endpoint

pytestmark = [pytest.mark.docker, pytest.mark.registry, pytest.mark.timeout(900)]
HELLO = Path(__file__).resolve().parents[2] / "examples" / "hello-world"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "hello"
    shutil.copytree(HELLO, folder)
    return folder


@pytest.fixture
def tags(docker_client: docker.DockerClient) -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    for tag in made:
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(tag, force=True)


def test_no_cache_builds_push_the_same_layers_and_an_edit_pushes_one(
    project: Path,
    tags: list[str],
    plain_registry: Endpoint,
    base_image: str,
    host_ca_cert: Path | None,
    docker_client: docker.DockerClient,
    tmp_path: Path,
) -> None:
    run = uuid.uuid4().hex[:8]
    cache = BlobCache(tmp_path / "blob-cache")
    repository = f"cogkitpush-test/repro-{run}"

    def build(label: str, *, no_cache: bool) -> str:
        tag = f"cogkit-test-repro-{run}:{label}"
        tags.append(tag)
        return build_project(project / "cog.yaml", tag=tag, no_cache=no_cache, ca_cert=host_ca_cert).image_id

    def push(label: str):
        return push_image(
            plain_registry.ref(repository, label),
            source=f"cogkit-test-repro-{run}:{label}",
            cache=cache,
            client=docker_client,
            show_progress=False,
        )

    def layers(label: str) -> list[str]:
        return docker_client.images.get(f"cogkit-test-repro-{run}:{label}").attrs["RootFS"]["Layers"]

    build("a", no_cache=True)
    build("b", no_cache=True)
    assert layers("a")[0] == layers("b")[0]  # the base image's layer, untouched
    assert layers("a")[1:] != layers("b")[1:], "the engine's layers did not differ: nothing to prove"

    first, second = push("a"), push("b")
    assert first.uploaded == len(layers("a"))
    assert (second.uploaded, second.skipped) == (0, len(layers("b")))  # every layer was already there

    # A rebuild with no change gives the same image.
    assert build("c", no_cache=False) == build("d", no_cache=False)

    # A one-line edit, built from scratch: only the code layer is new.
    predict = project / "predict.py"
    predict.write_text(predict.read_text().replace('"hello " + text', '"hello again " + text'))
    build("e", no_cache=True)
    edited = push("e")
    assert (edited.uploaded, edited.skipped) == (1, len(layers("e")) - 1)


def test_python_bytecode_in_the_image_does_not_depend_on_timestamps(
    project: Path,
    tags: list[str],
    base_image: str,
    host_ca_cert: Path | None,
    docker_client: docker.DockerClient,
) -> None:
    """Hash-checked .pyc files stay valid when push rewrites the files' times."""
    tag = f"cogkit-test-repro-pyc-{uuid.uuid4().hex[:8]}"
    tags.append(tag)
    build_project(project / "cog.yaml", tag=tag, ca_cert=host_ca_cert)
    script = (
        "import collections, glob, json, struct; "
        "files = glob.glob('/opt/cogkit/venv/lib/python3*/site-packages/**/*.pyc', recursive=True); "
        "print(json.dumps(collections.Counter(struct.unpack('<I', open(f, 'rb').read(8)[4:8])[0] for f in files)))"
    )
    out = docker_client.containers.run(tag, ["/opt/cogkit/venv/bin/python", "-c", script], remove=True)
    flags = json.loads(out.decode())  # {flags word: count}; 3 = hash-based and checked (PEP 552)
    assert set(flags) == {"3"} and flags["3"] > 100, flags
