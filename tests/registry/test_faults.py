"""Faults produced for real: broken connections, a registry restart, expiring tokens, bad credentials."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import docker
import httpx
import pytest

from cogkit.errors import RegistryError
from cogkit.registry import BlobCache, Credentials, ManifestFormat, login, push_image
from cogkit.registry.auth import basic_header
from cogkit.registry.credentials import config_path, get_credentials
from tests.registry.conftest import PASSWORD, USER, AppImages, Endpoint

pytestmark = [pytest.mark.docker, pytest.mark.registry, pytest.mark.timeout(300)]
WAIT_S = 60.0


def fresh_repo(name: str) -> str:
    return f"cogkit/{name}-{uuid.uuid4().hex[:8]}"


def push(
    endpoint: Endpoint, target: str, source: str, cache: BlobCache, client: docker.DockerClient, **kw: object
):
    return push_image(
        target,
        source=source,
        credentials=endpoint.credentials,
        ca_cert=endpoint.ca_cert,
        cache=cache,
        client=client,
        show_progress=False,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def fresh_cache(tmp_path: Path) -> BlobCache:
    """No memory of earlier pushes: nothing to mount, every layer is compressed and uploaded."""
    return BlobCache(tmp_path / "cache")


def assert_complete(endpoint: Endpoint, repository: str, tag: str) -> None:
    """Every blob the stored manifest names is really in the registry (asked directly, not via the proxy)."""
    if endpoint.issuer:
        headers = {"Authorization": f"Bearer {endpoint.issuer.sign([f'repository:{repository}:pull'], USER)}"}
    elif endpoint.credentials:
        headers = {"Authorization": basic_header(Credentials(USER, PASSWORD))}
    else:
        headers = {}
    for digest in endpoint.registry.manifest_blobs(repository, tag, headers=headers):
        url = f"{endpoint.registry.url}/v2/{repository}/blobs/{digest}"
        assert httpx.head(url, headers=headers, verify=False).status_code == 200, digest


def test_repush_after_code_edit_sends_only_the_new_layer(
    plain_registry: Endpoint, app_images: AppImages, blob_cache: BlobCache, docker_client: docker.DockerClient
) -> None:
    repository = fresh_repo("repush")
    first = push(
        plain_registry, f"{plain_registry.host}/{repository}:v1", app_images.v1, blob_cache, docker_client
    )
    assert first.uploaded == 4
    plain_registry.proxy.reset()
    second = push(
        plain_registry, f"{plain_registry.host}/{repository}:v2", app_images.v2, blob_cache, docker_client
    )
    sent = plain_registry.proxy.sent
    code_layer = blob_cache.get(docker_client.images.get(app_images.v2).attrs["RootFS"]["Layers"][-1])
    assert code_layer is not None
    assert (second.uploaded, second.skipped) == (1, 3)
    assert code_layer.size <= second.bytes_uploaded < 64 * 1024  # the code layer and the config
    assert sent < 128 * 1024, f"{sent} bytes reached the registry"  # plus headers and manifest
    assert_complete(plain_registry, repository, "v2")


def test_cross_repository_mount(
    plain_registry: Endpoint, app_images: AppImages, blob_cache: BlobCache, docker_client: docker.DockerClient
) -> None:
    source = fresh_repo("mount-source")
    push(plain_registry, f"{plain_registry.host}/{source}:v1", app_images.v1, blob_cache, docker_client)
    plain_registry.proxy.reset()
    target = fresh_repo("mount-target")
    result = push(
        plain_registry, f"{plain_registry.host}/{target}:v1", app_images.v1, blob_cache, docker_client
    )
    assert result.mounted == 4 and result.uploaded == 0
    assert plain_registry.proxy.sent < 64 * 1024
    assert_complete(plain_registry, target, "v1")


def test_connection_cut_mid_blob_is_retried(
    plain_registry: Endpoint,
    app_images: AppImages,
    fresh_cache: BlobCache,
    docker_client: docker.DockerClient,
) -> None:
    repository = fresh_repo("cut")
    plain_registry.proxy.cut_after(2 << 20)  # inside the first weights layer
    cuts = plain_registry.proxy.cuts
    result = push(
        plain_registry, f"{plain_registry.host}/{repository}:v1", app_images.v1, fresh_cache, docker_client
    )
    assert plain_registry.proxy.cuts == cuts + 1
    assert result.uploaded == 4 and result.retries >= 1
    assert_complete(plain_registry, repository, "v1")


def test_registry_restart_mid_push(
    plain_registry: Endpoint,
    app_images: AppImages,
    fresh_cache: BlobCache,
    docker_client: docker.DockerClient,
) -> None:
    repository = fresh_repo("restart")
    proxy = plain_registry.proxy
    proxy.reset()
    proxy.rate = 2e6  # ~4 s for the image, so the restart lands in the middle of a blob
    restarted = threading.Event()

    def restart_when_busy() -> None:
        deadline = time.monotonic() + WAIT_S
        while proxy.sent < (1 << 20) and time.monotonic() < deadline:
            time.sleep(0.02)
        plain_registry.registry.restart()
        restarted.set()

    thread = threading.Thread(target=restart_when_busy)
    thread.start()
    try:
        result = push(
            plain_registry,
            f"{plain_registry.host}/{repository}:v1",
            app_images.v1,
            fresh_cache,
            docker_client,
        )
    finally:
        proxy.rate = None
        thread.join(timeout=WAIT_S)
    assert restarted.is_set()
    assert result.uploaded == 4 and result.retries >= 1
    assert_complete(plain_registry, repository, "v1")


def test_token_expiring_mid_push_is_renewed(
    token_registry: Endpoint,
    app_images: AppImages,
    fresh_cache: BlobCache,
    docker_client: docker.DockerClient,
) -> None:
    issuer = token_registry.issuer
    assert issuer is not None
    repository = fresh_repo("expiry")
    issuer.lifetime_s, issuer.advertised_s = 1.0, 3600.0  # tokens die long before the client expects
    token_registry.proxy.rate = 3e6
    before = issuer.issued
    try:
        result = push(
            token_registry,
            f"{token_registry.host}/{repository}:v1",
            app_images.v1,
            fresh_cache,
            docker_client,
        )
    finally:
        issuer.lifetime_s, issuer.advertised_s = 300.0, None
        token_registry.proxy.rate = None
    assert result.uploaded == 4
    assert issuer.issued - before >= 2, "the expired token was never renewed"
    assert_complete(token_registry, repository, "v1")


def test_oci_manifest(
    plain_registry: Endpoint, app_images: AppImages, blob_cache: BlobCache, docker_client: docker.DockerClient
) -> None:
    repository = fresh_repo("oci")
    push(
        plain_registry,
        f"{plain_registry.host}/{repository}:v1",
        app_images.v1,
        blob_cache,
        docker_client,
        manifest_format=ManifestFormat.OCI,
    )
    response = httpx.get(
        f"{plain_registry.registry.url}/v2/{repository}/manifests/v1",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert response.headers["content-type"] == "application/vnd.oci.image.manifest.v1+json"
    assert response.json()["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"


def test_tls_without_the_ca_is_a_clear_error(
    tls_registry: Endpoint, app_images: AppImages, blob_cache: BlobCache, docker_client: docker.DockerClient
) -> None:
    with pytest.raises(RegistryError, match="TLS failure") as info:
        push_image(
            f"{tls_registry.host}/cogkit/tls:v1",
            source=app_images.v1,
            credentials=tls_registry.credentials,
            cache=blob_cache,
            client=docker_client,
            show_progress=False,
        )
    assert "--ca-cert" in str(info.value)


@pytest.mark.parametrize("kind", ["tls_registry", "token_registry"])
def test_wrong_password_stores_nothing(
    kind: str, request: pytest.FixtureRequest, docker_config: object
) -> None:
    endpoint: Endpoint = request.getfixturevalue(kind)
    with pytest.raises(RegistryError, match="unauthorized") as info:
        login(endpoint.host, username=USER, password="wrong-password", ca_cert=endpoint.ca_cert)
    assert "wrong-password" not in str(info.value)
    assert not config_path().exists()


def test_login_then_push_with_stored_credentials(
    tls_registry: Endpoint,
    docker_config: object,
    app_images: AppImages,
    blob_cache: BlobCache,
    docker_client: docker.DockerClient,
) -> None:
    saved = login(tls_registry.host, username=USER, password=PASSWORD, ca_cert=tls_registry.ca_cert)
    assert saved == config_path() and oct(saved.stat().st_mode & 0o777) == "0o600"
    stored = get_credentials(tls_registry.host)
    assert stored is not None and (stored.username, stored.password) == (USER, PASSWORD)
    repository = fresh_repo("stored")
    result = push_image(
        f"{tls_registry.host}/{repository}:v1",
        source=app_images.v1,
        ca_cert=tls_registry.ca_cert,
        cache=blob_cache,
        client=docker_client,
        show_progress=False,
    )
    assert result.digest.startswith("sha256:")
    assert_complete(tls_registry, repository, "v1")


def test_a_failed_push_leaves_no_tag(
    token_registry: Endpoint,
    app_images: AppImages,
    fresh_cache: BlobCache,
    docker_client: docker.DockerClient,
) -> None:
    """Credentials revoked mid-push: the push stops with a clear error, and the tag never appears."""
    issuer = token_registry.issuer
    assert issuer is not None
    repository = fresh_repo("revoked")
    issuer.lifetime_s, issuer.advertised_s = 1.0, 3600.0
    token_registry.proxy.reset()
    token_registry.proxy.rate = 2e6
    revoked = threading.Event()

    def revoke_when_busy() -> None:
        deadline = time.monotonic() + WAIT_S
        while token_registry.proxy.sent < (1 << 20) and time.monotonic() < deadline:
            time.sleep(0.02)
        issuer.password = "changed-by-the-admin"
        revoked.set()

    thread = threading.Thread(target=revoke_when_busy)
    thread.start()
    try:
        with pytest.raises(RegistryError, match="unauthorized"):
            push(
                token_registry,
                f"{token_registry.host}/{repository}:v1",
                app_images.v1,
                fresh_cache,
                docker_client,
            )
    finally:
        thread.join(timeout=WAIT_S)
        issuer.password = PASSWORD
        issuer.lifetime_s, issuer.advertised_s = 300.0, None
        token_registry.proxy.rate = None
    assert revoked.is_set()
    token = issuer.sign([f"repository:{repository}:pull"], USER)
    response = httpx.get(
        f"{token_registry.registry.url}/v2/{repository}/manifests/v1",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 404


def test_insecure_skips_verification(
    tls_registry: Endpoint, app_images: AppImages, blob_cache: BlobCache, docker_client: docker.DockerClient
) -> None:
    result = push_image(
        f"{tls_registry.host}/{fresh_repo('insecure')}:v1",
        source=app_images.v1,
        credentials=tls_registry.credentials,
        insecure=True,
        cache=blob_cache,
        client=docker_client,
        show_progress=False,
    )
    assert result.digest.startswith("sha256:")


def test_plain_http_only_for_loopback_or_insecure() -> None:
    from cogkit.registry.transport import Transport

    assert Transport("127.0.0.1:5000", "127.0.0.1:5000", scopes=[], use_config=False).plain_allowed
    assert not Transport("r.example", "r.example", scopes=[], use_config=False).plain_allowed
    assert Transport("r.example", "r.example", scopes=[], use_config=False, insecure=True).plain_allowed
