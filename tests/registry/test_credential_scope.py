"""Credentials stay with their registry (Docker's rule), against real registries and a real foreign host.

The foreign host listens on 127.0.0.2, records every `Authorization` header it receives, and answers
401 with a Bearer realm of its own. Real Distribution registries point at it the ways real ones point
elsewhere: absolute upload Locations on another host (`http.host`), and blob reads redirected to a
storage host (the `redirect` middleware).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
import trustme

from cogkit.errors import RegistryError
from cogkit.registry import BlobCache, Credentials, push_image
from cogkit.registry.transport import Transport
from tests.registry.conftest import PASSWORD, USER, AppImages, tls_htpasswd_registry
from tests.registry.servers import ForeignHost, Registry, TokenIssuer

pytestmark = [pytest.mark.docker, pytest.mark.registry, pytest.mark.timeout(300)]
CREDENTIALS = Credentials(USER, PASSWORD)


@pytest.fixture
def foreign() -> Iterator[ForeignHost]:
    try:
        host = ForeignHost().start()
    except OSError as exc:
        pytest.fail(f"cannot listen on {ForeignHost.ADDRESS}, the second loopback host: {exc}")
    yield host
    host.stop()


@pytest.fixture
def issuer(tmp_path: Path) -> Iterator[TokenIssuer]:
    token_issuer = TokenIssuer(tmp_path, username=USER, password=PASSWORD).start()
    yield token_issuer
    token_issuer.stop()


@contextlib.contextmanager
def running(registry: Registry) -> Iterator[Registry]:
    registry.start()
    try:
        yield registry
    finally:
        registry.stop()


def push(registry: Registry, image: str, cache: BlobCache, client: docker.DockerClient, **kw: object):
    return push_image(
        f"{registry.host}/cogkit/scope-{uuid.uuid4().hex[:8]}:v1",
        source=image,
        credentials=CREDENTIALS,
        cache=cache,
        client=client,
        show_progress=False,
        **kw,  # type: ignore[arg-type]
    )


def assert_nothing_leaked(foreign: ForeignHost) -> None:
    assert foreign.credentials_seen == [], "the foreign host received credentials"
    assert foreign.token_requests == [], "the foreign host's realm was asked for a token"


def test_basic_credentials_never_follow_a_plain_http_upload_location(
    registry_bin: str,
    tls_ca: trustme.CA,
    foreign: ForeignHost,
    app_images: AppImages,
    docker_client: docker.DockerClient,
    tmp_path: Path,
) -> None:
    """An HTTPS registry with Basic auth hands out upload Locations on http://127.0.0.2."""
    registry, ca_file = tls_htpasswd_registry(tmp_path, tls_ca, public_url=foreign.url)
    with pytest.raises(RegistryError) as caught, running(registry):
        push(registry, app_images.v1, BlobCache(tmp_path / "cache"), docker_client, ca_cert=ca_file)
    assert any(r.method == "PATCH" for r in foreign.received), "the upload never reached the foreign host"
    assert_nothing_leaked(foreign)
    first_line = str(caught.value).splitlines()[0]
    assert ForeignHost.ADDRESS in first_line and "401" in first_line


def test_a_bearer_token_never_follows_a_foreign_upload_location(
    registry_bin: str,
    issuer: TokenIssuer,
    foreign: ForeignHost,
    app_images: AppImages,
    docker_client: docker.DockerClient,
    tmp_path: Path,
) -> None:
    registry = Registry(tmp_path, auth=issuer.registry_auth(), public_url=foreign.url)
    with pytest.raises(RegistryError, match=ForeignHost.ADDRESS), running(registry):
        push(registry, app_images.v1, BlobCache(tmp_path / "cache"), docker_client)
    assert foreign.received, "the upload never reached the foreign host"
    assert_nothing_leaked(foreign)
    assert issuer.issued >= 1  # the registry's own realm was used, and only it


def test_a_redirected_blob_read_gets_no_credentials_and_no_foreign_challenge_is_adopted(
    registry_bin: str,
    issuer: TokenIssuer,
    foreign: ForeignHost,
    app_images: AppImages,
    docker_client: docker.DockerClient,
    tmp_path: Path,
) -> None:
    registry = Registry(tmp_path, auth=issuer.registry_auth(), redirect_to=foreign.url)
    cache = BlobCache(tmp_path / "cache")
    with running(registry):
        first = push(registry, app_images.v1, cache, docker_client)
        repository = first.reference.split("/", 1)[1].split(":", 1)[0]
        # A second push asks HEAD for every blob: the registry redirects each to its storage host.
        # The redirect proves the blob is there; it is not followed, so the storage host sees nothing.
        again = push_image(
            first.reference.split("@")[0],
            source=app_images.v1,
            credentials=CREDENTIALS,
            cache=cache,
            client=docker_client,
            show_progress=False,
        )
        assert again.uploaded == 0 and again.digest == first.digest
        assert foreign.received == []

        blob = registry.manifest_blobs(
            repository,
            "v1",
            headers={"Authorization": f"Bearer {issuer.sign([f'repository:{repository}:pull'], USER)}"},
        )[-1]
        scopes = [f"repository:{repository}:pull"]
        with Transport(registry.host, registry.host, scopes=scopes, credentials=CREDENTIALS) as transport:
            transport.ping()
            fetches = transport.auth.token_fetches
            with pytest.raises(RegistryError, match=ForeignHost.ADDRESS):
                transport.request("GET", f"/v2/{repository}/blobs/{blob}", ok=(200,), what="GET blob")
            assert [r.method for r in foreign.received] == ["GET"]
            assert_nothing_leaked(foreign)
            assert transport.auth.token_fetches == fetches  # the foreign 401 changed nothing
            # The registry's own token still works for the registry.
            answer = transport.request(
                "HEAD", f"/v2/{repository}/manifests/v1", ok=(200,), what="HEAD manifest"
            )
            assert answer.request.headers["Authorization"] != f"Bearer {ForeignHost.FOREIGN_TOKEN}"


def test_basic_credentials_never_go_to_a_plain_http_realm_on_another_host(
    registry_bin: str,
    issuer: TokenIssuer,
    foreign: ForeignHost,
    tmp_path: Path,
) -> None:
    """A registry whose Bearer realm is http://127.0.0.2/token: the password is not sent there."""
    auth = issuer.registry_auth()
    auth["token"]["realm"] = f"{foreign.url}/token"
    registry = Registry(tmp_path, auth=auth)
    with running(registry):
        transport = Transport(registry.host, registry.host, scopes=[], credentials=CREDENTIALS)
        with transport, pytest.raises(RegistryError, match=r"plain HTTP to 127\.0\.0\.2; refusing"):
            transport.ping()
    assert foreign.received == []
