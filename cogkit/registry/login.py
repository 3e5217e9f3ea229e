"""`login`: check a username and password against a registry, then store them like `docker login`."""

from __future__ import annotations

from pathlib import Path

from cogkit.errors import UsageError
from cogkit.registry.credentials import Credentials, store_credentials
from cogkit.registry.reference import DOCKER_HUB, DOCKER_HUB_ENDPOINT
from cogkit.registry.transport import Transport


def normalize_registry(registry: str | None) -> str:
    """`None`, `https://index.docker.io/v1/` and `docker.io` are all Docker Hub; URLs lose scheme and path."""
    if not registry:
        return DOCKER_HUB
    host = registry.removeprefix("https://").removeprefix("http://").split("/", 1)[0].lower()
    if not host:
        raise UsageError(f"invalid registry {registry!r}", hint="pass a host, e.g. ghcr.io or 127.0.0.1:5000")
    return DOCKER_HUB if host in ("index.docker.io", "registry-1.docker.io") else host


def login(
    registry: str | None,
    *,
    username: str,
    password: str,
    insecure: bool = False,
    ca_cert: Path | None = None,
) -> Path:
    """Verify the credentials with the registry (nothing is stored if it refuses); return the config path."""
    host = normalize_registry(registry)
    if not username:
        raise UsageError("a username is required", hint="pass -u USER")
    if not password:
        raise UsageError(
            "a password is required", hint="pipe it in with --password-stdin, or type it at the prompt"
        )
    credentials = Credentials(username=username, password=password)
    endpoint = DOCKER_HUB_ENDPOINT if host == DOCKER_HUB else host
    with Transport(
        host,
        endpoint,
        scopes=[],
        credentials=credentials,
        use_config=False,
        insecure=insecure,
        ca_cert=ca_cert,
    ) as transport:
        transport.ping()
    return store_credentials(host, credentials)
