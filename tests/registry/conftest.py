"""Session fixtures: three real registries (plain, htpasswd+TLS, token), each behind a counting proxy,
a tiny base image and two app images that differ only in their code layer."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest
import trustme

from cogkit.registry import BlobCache, Credentials
from tests.registry.servers import REGISTRY_BIN, Proxy, Registry, TokenIssuer

PREFIX = "cogkitpush-test"
USER, PASSWORD = "alice", "s3cret-pa55"
BUILD_TIMEOUT_S = 300
LAYER_BYTES = 3 << 20  # each "weights" layer: large enough for several chunks, small enough for CI


def unavailable(reason: str) -> None:
    """Fail under CI, skip locally (the project-wide rule for missing test infrastructure)."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (CI=true: registry tests may not skip)", pytrace=False)
    pytest.skip(reason)


@dataclass
class Endpoint:
    """A registry as the client sees it: through the proxy, with credentials and CA where needed."""

    registry: Registry
    proxy: Proxy
    credentials: Credentials | None = None
    ca_cert: Path | None = None
    issuer: TokenIssuer | None = None

    @property
    def host(self) -> str:
        return self.proxy.host

    def ref(self, repository: str, tag: str = "v1") -> str:
        return f"{self.host}/{repository}:{tag}"


@dataclass(frozen=True)
class AppImages:
    v1: str
    v2: str  # v1 plus a one-line code edit in the last layer


@pytest.fixture(scope="session")
def registry_bin() -> str:
    if not Path(REGISTRY_BIN).exists():
        unavailable(f"{REGISTRY_BIN} is missing; install it with `apt-get install docker-registry`")
    return REGISTRY_BIN


def _endpoint(registry: Registry, **kwargs: object) -> Iterator[Endpoint]:
    registry.start()
    proxy = Proxy(registry.port)
    try:
        yield Endpoint(registry=registry, proxy=proxy, **kwargs)  # type: ignore[arg-type]
    finally:
        proxy.stop()
        registry.stop()


@pytest.fixture(scope="session")
def plain_registry(registry_bin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    yield from _endpoint(Registry(tmp_path_factory.mktemp("plain")))


@pytest.fixture(scope="session")
def tls_ca() -> trustme.CA:
    return trustme.CA()


def tls_htpasswd_registry(root: Path, ca: trustme.CA, **kwargs: object) -> tuple[Registry, Path]:
    """A Distribution registry with TLS (a cert from `ca`) and htpasswd Basic auth for USER; and its CA file."""
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.cert_chain_pems[0].write_to_path(str(root / "server.crt"))
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(str(root / "server.crt"), append=True)
    cert.private_key_pem.write_to_path(str(root / "server.key"))
    ca.cert_pem.write_to_path(str(root / "ca.crt"))
    htpasswd = subprocess.run(
        ["htpasswd", "-Bbn", USER, PASSWORD], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    (root / "htpasswd").write_text(htpasswd)
    registry = Registry(
        root,
        auth={"htpasswd": {"realm": "cogkit-test", "path": str(root / "htpasswd")}},
        tls=(root / "server.crt", root / "server.key"),
        **kwargs,  # type: ignore[arg-type]
    )
    return registry, root / "ca.crt"


@pytest.fixture(scope="session")
def tls_registry(
    registry_bin: str, tmp_path_factory: pytest.TempPathFactory, tls_ca: trustme.CA
) -> Iterator[Endpoint]:
    registry, ca_file = tls_htpasswd_registry(tmp_path_factory.mktemp("tls"), tls_ca)
    yield from _endpoint(registry, credentials=Credentials(USER, PASSWORD), ca_cert=ca_file)


@pytest.fixture(scope="session")
def token_registry(registry_bin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    root = tmp_path_factory.mktemp("token")
    issuer = TokenIssuer(root, username=USER, password=PASSWORD).start()
    try:
        yield from _endpoint(
            Registry(root, auth=issuer.registry_auth()),
            credentials=Credentials(USER, PASSWORD),
            issuer=issuer,
        )
    finally:
        issuer.stop()


@pytest.fixture(scope="session")
def blob_cache(tmp_path_factory: pytest.TempPathFactory) -> BlobCache:
    return BlobCache(tmp_path_factory.mktemp("blob-cache"))


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private DOCKER_CONFIG: tests never read or write the real ~/.docker/config.json."""
    directory = tmp_path / "docker-config"
    directory.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    return directory


def _tiny_rootfs() -> bytes:
    """`sh` and `cat` with their loader and libc from this host: enough to run a shell 'predictor'."""
    files = {"bin/sh": "/bin/dash", "bin/cat": "/usr/bin/cat"}
    for lib in ("/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"):
        files[lib.lstrip("/")] = lib
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for inside, outside in files.items():
            archive.add(os.path.realpath(outside), arcname=inside)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def tiny_base(docker_client: docker.DockerClient) -> str:
    name = f"{PREFIX}-base:1"
    try:
        docker_client.images.get(name)
    except docker.errors.ImageNotFound:
        docker_client.api.import_image_from_data(_tiny_rootfs(), repository=f"{PREFIX}-base", tag="1")
    return name


def docker_build(context: Path, tag: str) -> None:
    done = subprocess.run(
        ["/usr/bin/docker", "build", "-q", "-t", tag, str(context)],
        env=os.environ | {"DOCKER_BUILDKIT": "1"},
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.fixture(scope="session")
def app_images(
    docker_client: docker.DockerClient, tiny_base: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppImages]:
    """Two weight layers of random bytes and a code layer; v2 edits one line of code."""
    context = tmp_path_factory.mktemp("app")
    for name in ("w1.bin", "w2.bin"):
        (context / name).write_bytes(os.urandom(LAYER_BYTES))
    (context / "Dockerfile").write_text(
        f"FROM {tiny_base}\nCOPY w1.bin /weights/\nCOPY w2.bin /weights/\nCOPY predict.sh /src/\n"
    )
    suffix = os.urandom(4).hex()
    images = AppImages(v1=f"{PREFIX}-app:v1-{suffix}", v2=f"{PREFIX}-app:v2-{suffix}")
    (context / "predict.sh").write_text('echo "hello $1 from v1"\n')
    docker_build(context, images.v1)
    (context / "predict.sh").write_text('echo "hello $1 from v2"\n')
    docker_build(context, images.v2)
    yield images
    for tag in (images.v1, images.v2):
        docker_client.images.remove(tag, force=True)
    shutil.rmtree(context, ignore_errors=True)


def predict(client: docker.DockerClient, image: str, arg: str = "world") -> str:
    """Run the image's shell 'predictor' and return what it printed."""
    output = client.containers.run(image, ["/bin/sh", "/src/predict.sh", arg], remove=True)
    return output.decode().strip()
