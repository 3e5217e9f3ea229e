"""Push to three real registries (plain, htpasswd over TLS, token auth), pull back with the engine, run."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from cogkit.registry import BlobCache, push_image, push_with_engine
from tests.registry.conftest import PASSWORD, USER, AppImages, Endpoint, predict

pytestmark = [pytest.mark.docker, pytest.mark.registry, pytest.mark.timeout(300)]

ENGINE_CERTS = Path("/etc/docker/certs.d")


@contextlib.contextmanager
def engine_trusts(host: str, ca_cert: Path | None) -> Iterator[None]:
    """The engine reads per-registry CAs from certs.d; add ours for the pull and take it away after."""
    if ca_cert is None:
        yield
        return
    directory = ENGINE_CERTS / host
    directory.mkdir(parents=True, exist_ok=False)
    try:
        shutil.copy(ca_cert, directory / "ca.crt")
        yield
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def pull_and_predict(client: docker.DockerClient, endpoint: Endpoint, reference: str) -> str:
    auth = {"username": USER, "password": PASSWORD} if endpoint.credentials else None
    name, _, digest = reference.partition("@")
    repository = name.rsplit(":", 1)[0]
    with engine_trusts(endpoint.host, endpoint.ca_cert):
        image = client.images.pull(f"{repository}@{digest}", auth_config=auth)
    try:
        return predict(client, image.id)
    finally:
        client.images.remove(f"{repository}@{digest}", force=True)


@pytest.mark.parametrize("kind", ["plain_registry", "tls_registry", "token_registry"])
def test_push_pull_run(
    kind: str,
    request: pytest.FixtureRequest,
    app_images: AppImages,
    blob_cache: BlobCache,
    docker_client: docker.DockerClient,
) -> None:
    endpoint: Endpoint = request.getfixturevalue(kind)
    target = endpoint.ref("cogkit/roundtrip")
    result = push_image(
        target,
        source=app_images.v1,
        credentials=endpoint.credentials,
        ca_cert=endpoint.ca_cert,
        cache=blob_cache,
        client=docker_client,
        show_progress=False,
    )
    assert result.reference.startswith(f"{target}@sha256:")
    assert result.uploaded + result.mounted + result.skipped == 4  # base, two weights, code
    assert pull_and_predict(docker_client, endpoint, result.reference) == predict(
        docker_client, app_images.v1
    )


def test_via_docker_parity(
    plain_registry: Endpoint, app_images: AppImages, blob_cache: BlobCache, docker_client: docker.DockerClient
) -> None:
    """The engine's own push and ours store the same image: same config, same layer count."""
    native = push_image(
        plain_registry.ref("cogkit/parity", "native"),
        source=app_images.v1,
        cache=blob_cache,
        client=docker_client,
        show_progress=False,
    )
    target = plain_registry.ref("cogkit/parity", "engine")
    docker_client.images.get(app_images.v1).tag(target)
    try:
        engine = push_with_engine(target, client=docker_client)
    finally:
        docker_client.images.remove(target)
    assert engine.reference.startswith(f"{target}@sha256:")
    native_blobs = plain_registry.registry.manifest_blobs("cogkit/parity", native.digest, headers={})
    engine_blobs = plain_registry.registry.manifest_blobs("cogkit/parity", engine.digest, headers={})
    assert native_blobs[0] == engine_blobs[0] == docker_client.images.get(app_images.v1).id
    assert len(native_blobs) == len(engine_blobs)
