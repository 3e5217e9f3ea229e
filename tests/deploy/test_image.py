"""Pinning by digest and reading labels: a real registry, the real engine, and lying registries."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import docker
import httpx
import pytest
import yaml

from cogkit.deploy import resolve_image
from cogkit.errors import CogkitError, UsageError
from cogkit.image import labels
from cogkit.mode import Mode
from cogkit.registry import BlobCache, push_image, push_with_engine
from tests.deploy.conftest import image_labels
from tests.registry.servers import Registry

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

MakeImage = Callable[[dict[str, str]], str]
GPU_LABELS = image_labels(gpu=True, min_driver="535.104.05", concurrency=2)


def push(local: str, target: str, tmp_path: Path) -> str:
    result = push_image(target, source=local, cache=BlobCache(tmp_path / "blobs"), show_progress=False)
    return result.reference


def test_a_tag_is_pinned_by_asking_the_registry(
    registry: Registry, labelled_image: MakeImage, tmp_path: Path
) -> None:
    target = f"{registry.host}/deploy/gpu-model:v1"
    pushed = push(labelled_image(GPU_LABELS), target, tmp_path)
    found = resolve_image(target)
    assert found.reference == pushed  # host/deploy/gpu-model:v1@sha256:…, what `cogkit push` printed
    assert (found.gpu, found.min_driver, found.concurrency, found.mode) == (
        True,
        "535.104.05",
        2,
        Mode.PREDICT,
    )
    assert any(f"asked {registry.host}" in note for note in found.notes)

    again = resolve_image(pushed)  # already pinned: accepted as it is, labels still from the registry
    assert again.reference == pushed and again.min_driver == "535.104.05" and not again.notes


def test_the_tag_is_followed_when_it_moves(
    registry: Registry, labelled_image: MakeImage, tmp_path: Path
) -> None:
    target = f"{registry.host}/deploy/moving:latest"
    first = push(labelled_image(image_labels(concurrency=1)), target, tmp_path)
    second = push(labelled_image(image_labels(concurrency=5)), target, tmp_path)
    assert first != second
    found = resolve_image(target)
    assert found.reference == second and found.concurrency == 5


def test_a_tag_missing_from_the_registry_says_push_first(registry: Registry) -> None:
    with pytest.raises(UsageError, match="is not in its registry") as caught:
        resolve_image(f"{registry.host}/deploy/never-pushed:v1")
    assert "cogkit push" in str(caught.value)


def test_images_not_built_by_cogkit_are_refused(
    registry: Registry, labelled_image: MakeImage, tmp_path: Path
) -> None:
    plain = f"{registry.host}/deploy/plain:v1"
    push(labelled_image({"maintainer": "someone"}), plain, tmp_path)
    with pytest.raises(UsageError, match="not built by cogkit or Cog"):
        resolve_image(plain)
    cog_built = f"{registry.host}/deploy/cog-built:v1"
    push(
        labelled_image({labels.CONFIG: json.dumps({"predict": "predict.py:Predictor"})}), cog_built, tmp_path
    )
    with pytest.raises(UsageError, match="built by Cog, whose server has no /readyz") as caught:
        resolve_image(cog_built)
    assert "cogkit build" in str(caught.value)
    bad_concurrency = f"{registry.host}/deploy/bad-concurrency:v1"
    found = image_labels() | {
        labels.CONFIG: json.dumps({"predict": "p.py:P", "concurrency": {"max": "lots"}})
    }
    push(labelled_image(found), bad_concurrency, tmp_path)
    with pytest.raises(UsageError, match=r"concurrency\.max 'lots'"):
        resolve_image(bad_concurrency)


def test_the_engines_digest_stands_in_when_the_registry_is_down(
    labelled_image: MakeImage, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    (tmp_path / "doomed").mkdir()
    server = Registry(tmp_path / "doomed").start()
    target = f"{server.host}/deploy/engine-pushed:v1"
    local = labelled_image(GPU_LABELS)
    docker_client.images.get(local).tag(target)
    try:
        digest = push_with_engine(target).digest  # the engine records RepoDigests on its own pushes
    finally:
        server.stop()
    try:
        found = resolve_image(target)
        assert found.reference == f"{target}@{digest}"
        assert found.min_driver == "535.104.05"
        assert any("could not be asked" in note for note in found.notes)
        with pytest.raises(UsageError, match="cannot read"):  # another repository: nothing recorded
            resolve_image(f"{server.host}/deploy/other:v1")
    finally:
        docker_client.images.remove(target)


# -- registries that lie (answers the real registry cannot be made to give) ------------------------


def _serving(manifest: bytes, *, advertised: str | None = None) -> httpx.MockTransport:
    digest = advertised or f"sha256:{hashlib.sha256(manifest).hexdigest()}"

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/":
            return httpx.Response(200, json={})
        if request.method == "HEAD":
            return httpx.Response(200, headers={"Docker-Content-Digest": digest})
        return httpx.Response(200, content=manifest)

    return httpx.MockTransport(answer)


def _lying(manifest: bytes, **kwargs: str) -> CogkitError:
    """What resolving against a lying registry raises: never a fallback to some other digest."""
    with pytest.raises(CogkitError) as caught:
        resolve_image("registry.invalid:5000/acme/model:v1", http_transport=_serving(manifest, **kwargs))
    return caught.value


def test_content_that_does_not_match_its_digest_is_refused() -> None:
    error = _lying(b'{"schemaVersion": 2}', advertised="sha256:" + "0" * 64)
    assert "does not match" in str(error)


def test_an_oversized_manifest_is_refused_not_read() -> None:
    error = _lying(b" " * (5 << 20))
    assert "more than 4194304 bytes" in str(error)


def test_an_index_without_linux_amd64_is_refused() -> None:
    index = json.dumps(
        {
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {"digest": "sha256:" + "1" * 64, "platform": {"os": "linux", "architecture": "arm64"}}
            ],
        }
    ).encode()
    assert "no linux/amd64 image" in str(_lying(index))


# -- the command, as a user runs it -------------------------------------------------------------


def test_cogkit_deploy_end_to_end(registry: Registry, labelled_image: MakeImage, tmp_path: Path) -> None:
    target = f"{registry.host}/deploy/cli-model:v2"
    pushed = push(labelled_image(GPU_LABELS), target, tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "cogkit", "deploy", target, "-n", "ml", "--replicas", "2", "--memory", "8Gi"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin", "DOCKER_CONFIG": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    objects = list(yaml.safe_load_all(done.stdout))
    assert [o["kind"] for o in objects] == ["Deployment", "Service", "PodDisruptionBudget"]
    container = objects[0]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == pushed
    assert container["resources"]["limits"] == {"memory": "8Gi", "nvidia.com/gpu": 1}
    assert f"pinned {target} to" in done.stderr

    refused = subprocess.run(
        [sys.executable, "-m", "cogkit", "deploy", target, "--queue", "redis://u:pw@redis:6379/0?stream=s"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin", "DOCKER_CONFIG": str(tmp_path)},
    )
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.startswith("error: --queue redis://u:***@redis:6379/0?stream=s holds a password")
    assert "Traceback" not in refused.stderr and ":pw@" not in refused.stderr


def test_an_endless_error_answer_is_cut_short() -> None:
    manifest = b'{"schemaVersion": 2}'
    digest = f"sha256:{hashlib.sha256(manifest).hexdigest()}"

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/":
            return httpx.Response(200, json={})
        if request.method == "HEAD":
            return httpx.Response(200, headers={"Docker-Content-Digest": digest})
        return httpx.Response(502, content=b"x" * (50 << 20))

    with pytest.raises(CogkitError) as caught:
        resolve_image("registry.invalid:5000/acme/model:v1", http_transport=httpx.MockTransport(answer))
    assert "502" in str(caught.value) and len(str(caught.value)) < 2000
