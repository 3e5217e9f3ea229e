"""`push --via docker`: let the engine push, for parity checks against the native client."""

from __future__ import annotations

import time

import docker
import docker.errors

from cogkit.errors import RegistryError
from cogkit.registry.push import PushResult
from cogkit.registry.reference import Reference
from cogkit.registry.source import engine


def push_with_engine(target: str, *, client: docker.DockerClient | None = None) -> PushResult:
    """`docker push target`, with the engine's own credentials lookup and its own errors mapped."""
    started = time.monotonic()
    ref = Reference.parse(target)
    client = client or engine()
    repository = target.rsplit("@", 1)[0]
    tag = ref.tag or "latest"
    if repository.rpartition(":")[2] == tag and "/" not in repository.rpartition(":")[2]:
        repository = repository.rpartition(":")[0]
    digest = ""
    try:
        for event in client.api.push(repository, tag=tag, stream=True, decode=True):
            if "error" in event:
                raise RegistryError(f"docker push {target} failed: {event['error']}")
            digest = (event.get("aux") or {}).get("Digest", digest)
    except docker.errors.APIError as exc:
        raise RegistryError(f"docker push {target} failed: {exc.explanation or exc}") from exc
    if not digest:
        raise RegistryError(f"docker push {target} finished without reporting a digest")
    return PushResult(
        reference=str(ref.with_digest(digest)),
        digest=digest,
        uploaded=0,
        mounted=0,
        skipped=0,
        bytes_uploaded=0,
        seconds=time.monotonic() - started,
    )
