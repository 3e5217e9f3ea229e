"""Reference parsing follows the Docker CLI's normalisation; bad ones name the fix."""

from __future__ import annotations

import pytest

from cogkit.errors import UsageError
from cogkit.registry import Reference
from cogkit.registry.auth import parse_challenge
from cogkit.registry.login import normalize_registry
from cogkit.registry.reference import is_loopback_host


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("ubuntu", "docker.io", "library/ubuntu", "latest", None),
        ("me/model:v1", "docker.io", "me/model", "v1", None),
        ("ghcr.io/me/model", "ghcr.io", "me/model", "latest", None),
        ("127.0.0.1:5000/model:dev", "127.0.0.1:5000", "model", "dev", None),
        ("localhost/a/b/c:1.0", "localhost", "a/b/c", "1.0", None),
        ("index.docker.io/me/x", "docker.io", "me/x", "latest", None),
        (f"r.io/m@sha256:{'a' * 64}", "r.io", "m", None, f"sha256:{'a' * 64}"),
    ],
)
def test_parse(text: str, registry: str, repository: str, tag: str | None, digest: str | None) -> None:
    ref = Reference.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)


def test_docker_hub_endpoint_and_str() -> None:
    ref = Reference.parse("me/model:v1")
    assert ref.endpoint == "registry-1.docker.io"
    assert str(ref.with_digest(f"sha256:{'b' * 64}")) == f"docker.io/me/model:v1@sha256:{'b' * 64}"


@pytest.mark.parametrize(
    ("text", "why"),
    [("Me/Model", "lowercase"), ("r.io/m:bad tag", "tag"), ("r.io/m@sha256:123", "digest")],
)
def test_bad_references_say_why(text: str, why: str) -> None:
    with pytest.raises(UsageError, match=why) as info:
        Reference.parse(text)
    assert info.value.hint and "REGISTRY/REPOSITORY" in info.value.hint


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1:5000", True),
        ("127.8.9.1", True),
        ("localhost:1", True),
        ("[::1]:5000", True),
        ("ghcr.io", False),
    ],
)
def test_loopback(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_normalize_registry() -> None:
    assert normalize_registry(None) == "docker.io"
    assert normalize_registry("https://index.docker.io/v1/") == "docker.io"
    assert normalize_registry("https://GHCR.io/") == "ghcr.io"


def test_parse_challenge() -> None:
    challenge = parse_challenge(
        'Bearer realm="https://auth.io/token",service="reg",scope="repository:a/b:pull,push"'
    )
    assert challenge is not None and challenge.scheme == "bearer"
    assert challenge.params == {
        "realm": "https://auth.io/token",
        "service": "reg",
        "scope": "repository:a/b:pull,push",
    }
    assert parse_challenge('Basic realm="x"').scheme == "basic"  # type: ignore[union-attr]
    assert parse_challenge(None) is None
