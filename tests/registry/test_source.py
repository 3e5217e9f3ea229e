"""Reading images from the engine: the overlay2 fast path and the `docker save` export agree, and the
blob cache makes a second read of unchanged layers free."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import docker
import pytest

from cogkit.registry import BlobCache, push_image
from cogkit.registry.layerstore import LayerStore, chain_ids
from cogkit.registry.source import read_image
from tests.registry.conftest import AppImages, Endpoint, predict, unavailable
from tests.registry.test_roundtrip import pull_and_predict

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]


def read(
    name: str, cache: BlobCache, client: docker.DockerClient, *, export: bool, monkeypatch: pytest.MonkeyPatch
):
    with monkeypatch.context() as patch:
        if export:
            patch.setenv("COGKIT_NO_LAYER_STORE", "1")
        seen: list[str] = []
        image = read_image(name, cache=cache, client=client, on_layer=lambda blob: seen.append(blob.diff_id))
    assert sorted(seen) == sorted({blob.diff_id for blob in image.layers})
    return image


def test_export_and_store_agree(
    app_images: AppImages, docker_client: docker.DockerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exported = read(
        app_images.v1, BlobCache(tmp_path / "a"), docker_client, export=True, monkeypatch=monkeypatch
    )
    stored = read(
        app_images.v1, BlobCache(tmp_path / "b"), docker_client, export=False, monkeypatch=monkeypatch
    )
    expected = docker_client.images.get(app_images.v1).attrs
    for image in (exported, stored):
        assert image.image_id == expected["Id"] == f"sha256:{hashlib.sha256(image.config).hexdigest()}"
        assert [blob.diff_id for blob in image.layers] == expected["RootFS"]["Layers"]
        for blob in image.layers:  # each cached blob really is the gzip of its layer
            assert (
                f"sha256:{hashlib.sha256(gzip.decompress(blob.path.read_bytes())).hexdigest()}"
                == blob.diff_id
            )
            assert f"sha256:{hashlib.sha256(blob.path.read_bytes()).hexdigest()}" == blob.digest


def test_cached_layers_are_not_compressed_again(
    app_images: AppImages, docker_client: docker.DockerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = BlobCache(tmp_path / "cache")
    first = read(app_images.v1, cache, docker_client, export=True, monkeypatch=monkeypatch)
    stamps = {blob.digest: blob.path.stat().st_mtime_ns for blob in first.layers}
    for export in (True, False):
        again = read(app_images.v2, cache, docker_client, export=export, monkeypatch=monkeypatch)
        assert [b.digest for b in again.layers[:-1]] == [b.digest for b in first.layers[:-1]]
        assert all(stamps[b.digest] == b.path.stat().st_mtime_ns for b in again.layers[:-1])


def test_chain_ids_match_the_engine(app_images: AppImages, docker_client: docker.DockerClient) -> None:
    store = LayerStore.open(docker_client)
    if store is None:
        # CI runs as root beside a local overlay2 engine: there an unreadable store is a bug.
        unavailable("the engine's overlay2 store is not readable by this user (the export path is used)")
    diff_ids = docker_client.images.get(app_images.v1).attrs["RootFS"]["Layers"]
    for diff_id, chain_id in zip(diff_ids, chain_ids(diff_ids), strict=True):
        assert (store.layerdb / chain_id.split(":")[1] / "diff").read_text() == diff_id


@pytest.mark.registry
def test_push_through_the_export_path(
    plain_registry: Endpoint,
    app_images: AppImages,
    docker_client: docker.DockerClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COGKIT_NO_LAYER_STORE", "1")
    result = push_image(
        plain_registry.ref("cogkit/export"),
        source=app_images.v2,
        cache=BlobCache(tmp_path / "cache"),
        client=docker_client,
        show_progress=False,
    )
    assert result.uploaded == 4
    assert pull_and_predict(docker_client, plain_registry, result.reference) == predict(
        docker_client, app_images.v2
    )
