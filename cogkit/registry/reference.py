"""Image references (`host[:port]/repo[:tag][@digest]`), normalised the way the Docker CLI does."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from cogkit.errors import UsageError

DOCKER_HUB = "docker.io"
DOCKER_HUB_ENDPOINT = "registry-1.docker.io"
DOCKER_HUB_CONFIG_KEY = "https://index.docker.io/v1/"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")


@dataclass(frozen=True)
class Reference:
    """A parsed image reference; `registry` is the name users type (`docker.io`, `ghcr.io`, `host:5000`)."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> Reference:
        original = text
        digest = None
        if "@" in text:
            text, digest = text.split("@", 1)
            if not _DIGEST.match(digest):
                raise _bad(original, f"the digest {digest!r} is not sha256:<64 hex digits>")
        first, sep, rest = text.partition("/")
        if sep and ("." in first or ":" in first or first == "localhost"):
            registry, remainder = first, rest
        else:
            registry, remainder = DOCKER_HUB, text
        if registry in ("index.docker.io", "registry-1.docker.io"):
            registry = DOCKER_HUB
        tag = None
        name, colon, maybe_tag = remainder.rpartition(":")
        if colon and "/" not in maybe_tag:
            remainder, tag = name, maybe_tag
            if not _TAG.match(tag):
                raise _bad(original, f"the tag {tag!r} is not valid (letters, digits, '_', '.', '-')")
        if registry == DOCKER_HUB and "/" not in remainder:
            remainder = f"library/{remainder}"
        if not _REPOSITORY.match(remainder):
            raise _bad(
                original,
                f"the repository name {remainder!r} must be lowercase letters, digits and separators",
            )
        if tag is None and digest is None:
            tag = "latest"
        return cls(registry=registry, repository=remainder, tag=tag, digest=digest)

    @property
    def endpoint(self) -> str:
        """The host (and port) the registry API is served from."""
        return DOCKER_HUB_ENDPOINT if self.registry == DOCKER_HUB else self.registry

    @property
    def is_loopback(self) -> bool:
        return is_loopback_host(self.registry)

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.registry, self.repository, self.tag, digest)

    @property
    def name(self) -> str:
        """`registry/repository`, without tag or digest."""
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def is_loopback_host(registry: str) -> bool:
    """True for `localhost`, 127.0.0.0/8 and ::1, with or without a port."""
    host = registry
    if host.startswith("["):
        host = host[1 : host.index("]")]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bad(text: str, why: str) -> UsageError:
    return UsageError(
        f"invalid image reference {text!r}: {why}",
        hint="use REGISTRY/REPOSITORY[:TAG], e.g. ghcr.io/me/model:v1 or 127.0.0.1:5000/model",
    )
