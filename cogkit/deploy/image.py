"""The image to deploy: pinned by digest, and what its labels say about how it must run.

A tag can move; a cluster that pulls `model:v1` tomorrow may run something else than what was
tested today, and two replicas may even run different images. So manifests name the image by
digest. An unpinned tag is resolved by asking its registry (the authority on what the cluster will
pull), falling back to the digest the Docker engine recorded when it last pushed or pulled it.

The registry is outside our control: every answer is size-bounded, and every manifest and config
is checked against the digest it was fetched by before a byte of it is believed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from cogkit.errors import RegistryError, UsageError
from cogkit.image import labels
from cogkit.mode import Mode
from cogkit.registry.reference import Reference
from cogkit.registry.transport import Transport

MAX_MANIFEST_BYTES = 4 << 20  # the distribution spec's own advice for manifests
MAX_CONFIG_BYTES = 16 << 20  # a config carries the OpenAPI schema label; real ones are far smaller
MAX_ERROR_BYTES = 64 << 10  # of an error answer's body, for its message
MAX_CONCURRENCY = 10_000
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
_SINGLE = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
)
_INDEX = (
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
)
_PUSH_HINT = "push it first: `cogkit push {ref}` prints REF@sha256:…, which you can pass here as it is"


class UntrustedAnswer(RegistryError):
    """The registry answered, but with content that cannot be what it claims: never fall back."""


@dataclass(frozen=True)
class ImageFacts:
    """What the manifests need from the image, read from its labels (never guessed)."""

    reference: str  # registry/repository[:tag]@sha256:…
    repository: str
    gpu: bool = False
    min_driver: str | None = None  # "530.30.02": the oldest driver the image's CUDA runs on
    concurrency: int | None = None  # concurrency.max as cog.yaml wrote it; None when it is silent
    mode: Mode = Mode.PREDICT
    notes: tuple[str, ...] = field(default=(), compare=False)  # how the digest was found

    @classmethod
    def from_labels(
        cls, reference: Reference, found: Mapping[str, str], *, notes: tuple[str, ...] = ()
    ) -> ImageFacts:
        shown = str(reference)
        config = labels.read_json_label(dict(found), labels.CONFIG)
        if config is None:
            raise UsageError(
                f"{shown} has no readable {labels.CONFIG} label: it was not built by cogkit or Cog",
                hint="build it with `cogkit build -t NAME` and push it with `cogkit push NAME`",
            )
        if labels.PLAN not in found:
            raise UsageError(
                f"{shown} was built by Cog, whose server has no /readyz and /livez for the probes",
                hint="rebuild it with `cogkit build` (cog.yaml works unchanged) and push it again",
            )
        concurrency = (config.get("concurrency") or {}).get("max")
        if concurrency is not None and not (
            isinstance(concurrency, int)
            and not isinstance(concurrency, bool)
            and 0 < concurrency <= MAX_CONCURRENCY
        ):
            raise UsageError(
                f"{shown}: the label's concurrency.max {concurrency!r} is not a whole number from 1 to {MAX_CONCURRENCY}",
                hint="fix concurrency.max in cog.yaml and rebuild, or pass --concurrency N",
            )
        build = config.get("build") or {}
        return cls(
            reference=shown,
            repository=reference.repository,
            gpu=bool(build.get("gpu")) if isinstance(build, dict) else False,
            min_driver=found.get(labels.MIN_DRIVER) or None,
            concurrency=concurrency,
            mode=Mode.PREDICT if config.get("predict") or not config.get("train") else Mode.TRAIN,
            notes=notes,
        )


def resolve_image(
    image: str,
    *,
    insecure: bool = False,
    ca_cert: Path | None = None,
    http_transport: httpx.BaseTransport | None = None,
) -> ImageFacts:
    """Pin `image` to a digest and read its labels: from the registry, else from the local engine.

    `http_transport` replaces the network, for tests of registry answers that cannot be caused for real.
    """
    ref = Reference.parse(image)
    try:
        with _RegistryReader(
            ref, insecure=insecure, ca_cert=ca_cert, http_transport=http_transport
        ) as reader:
            digest = ref.digest or reader.digest_of(ref.tag or "latest")
            if digest is None:
                raise UsageError(
                    f"{ref} is not in its registry {ref.registry}", hint=_PUSH_HINT.format(ref=ref)
                )
            pinned = ref.with_digest(digest)
            note = () if ref.digest else (f"pinned {ref} to {digest} (asked {ref.registry})",)
            return ImageFacts.from_labels(pinned, reader.labels(digest), notes=note)
    except UntrustedAnswer:
        raise
    except RegistryError as exc:
        registry_failure = exc
    local = _from_engine(ref)  # the registry could not be asked: what did the engine see last?
    if local is None:
        raise UsageError(
            f"cannot read {ref} from its registry ({registry_failure.message}), "
            "and the local Docker engine has no copy pushed to or pulled from it",
            hint=registry_failure.hint or _PUSH_HINT.format(ref=ref),
        ) from registry_failure
    digest, found = local
    note = f"{ref.registry} could not be asked ({registry_failure.message}); using the digest {digest} "
    note += "the Docker engine recorded when it last pushed or pulled this image"
    return ImageFacts.from_labels(ref.with_digest(digest), found, notes=(note,))


def _from_engine(ref: Reference) -> tuple[str, dict[str, str]] | None:
    """The digest under which the engine last pushed or pulled `ref`'s repository, and the labels."""
    import docker.errors

    from cogkit.errors import EngineError
    from cogkit.image.engine import client

    try:
        attrs = client().api.inspect_image(ref.name + (f"@{ref.digest}" if ref.digest else f":{ref.tag}"))
    except (EngineError, docker.errors.DockerException):
        return None
    for entry in attrs.get("RepoDigests") or []:
        try:
            recorded = Reference.parse(entry)
        except UsageError:
            continue
        if recorded.name == ref.name and recorded.digest and (ref.digest in (None, recorded.digest)):
            return recorded.digest, dict((attrs.get("Config") or {}).get("Labels") or {})
    return None


class _RegistryReader:
    """Read-only access to one repository: tag → digest, digest → config labels."""

    def __init__(
        self,
        ref: Reference,
        *,
        insecure: bool,
        ca_cert: Path | None,
        http_transport: httpx.BaseTransport | None,
    ) -> None:
        self.ref = ref
        self.transport = Transport(
            ref.registry,
            ref.endpoint,
            scopes=[f"repository:{ref.repository}:pull"],
            insecure=insecure,
            ca_cert=ca_cert,
            http_transport=http_transport,
        )

    def __enter__(self) -> _RegistryReader:
        self.transport.ping()
        return self

    def __exit__(self, *exc: object) -> None:
        self.transport.close()

    def digest_of(self, tag: str) -> str | None:
        """The digest the tag points at now, or None when the registry has no such tag."""
        path = f"/v2/{self.ref.repository}/manifests/{tag}"
        accept = ", ".join((*_SINGLE, *_INDEX))
        head = self.transport.request(
            "HEAD", path, ok=(200, 404), what="HEAD manifest", headers={"Accept": accept}
        )
        if head.status_code == 404:
            return None
        digest = head.headers.get("docker-content-digest", "")
        if _DIGEST.match(digest):
            return digest
        body = self._get(path, MAX_MANIFEST_BYTES, accept)  # no digest header: hash what the tag serves
        return f"sha256:{hashlib.sha256(body).hexdigest()}"

    def labels(self, digest: str) -> dict[str, str]:
        manifest = self._document(f"/v2/{self.ref.repository}/manifests/{digest}", digest, MAX_MANIFEST_BYTES)
        if manifest.get("mediaType") in _INDEX or "manifests" in manifest:
            digest = _pick_linux_amd64(manifest, self.ref)
            manifest = self._document(
                f"/v2/{self.ref.repository}/manifests/{digest}", digest, MAX_MANIFEST_BYTES
            )
        config_digest = str((manifest.get("config") or {}).get("digest", ""))
        if not _DIGEST.match(config_digest):
            raise UntrustedAnswer(
                f"{self.ref.registry} served a manifest for {self.ref} without a config digest"
            )
        config = self._document(
            f"/v2/{self.ref.repository}/blobs/{config_digest}", config_digest, MAX_CONFIG_BYTES
        )
        found = (config.get("config") or {}).get("Labels") or {}
        if not isinstance(found, dict):
            return {}
        return {str(k): v for k, v in found.items() if isinstance(v, str)}

    def _document(self, path: str, digest: str, limit: int) -> dict[str, Any]:
        body = self._get(path, limit, ", ".join((*_SINGLE, *_INDEX)))
        if f"sha256:{hashlib.sha256(body).hexdigest()}" != digest:
            raise UntrustedAnswer(
                f"{self.ref.registry} served {path} with content that does not match {digest}"
            )
        try:
            document = json.loads(body)
        except ValueError as exc:
            raise UntrustedAnswer(f"{self.ref.registry} served {path} as something other than JSON") from exc
        if not isinstance(document, dict):
            raise UntrustedAnswer(f"{self.ref.registry} served {path} as JSON that is not an object")
        return document

    def _get(self, path: str, limit: int, accept: str) -> bytes:
        """GET at most `limit` bytes; a longer answer is refused, not truncated."""
        url = self.transport.url(path)
        try:
            with self.transport.http.stream(
                "GET", url, headers={"Accept": accept}, follow_redirects=True
            ) as response:
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    chunks.append(chunk)
                    if response.status_code != 200:
                        if size > MAX_ERROR_BYTES:
                            break  # enough of an error body to say what went wrong
                    elif size > limit:
                        raise UntrustedAnswer(
                            f"{self.ref.registry} sent more than {limit} bytes for {path}; refused"
                        )
                if response.status_code != 200:
                    error_body = b"".join(chunks)[:MAX_ERROR_BYTES]
                    answer = httpx.Response(
                        response.status_code,
                        headers=response.headers,
                        content=error_body,
                        request=response.request,
                    )
                    raise self.transport.error(answer, f"GET {path}")
        except httpx.HTTPError as exc:
            raise RegistryError(f"cannot read {path} from {self.ref.registry}: {exc}") from exc
        return b"".join(chunks)


def _pick_linux_amd64(index: dict[str, Any], ref: Reference) -> str:
    """The labels of a multi-platform image are read from its linux/amd64 image (where GPUs are)."""
    entries = [e for e in index.get("manifests") or [] if isinstance(e, dict)]
    for entry in entries:
        platform = entry.get("platform") or {}
        if platform.get("os") == "linux" and platform.get("architecture") == "amd64":
            digest = str(entry.get("digest", ""))
            if _DIGEST.match(digest):
                return digest
    raise UsageError(f"{ref} has no linux/amd64 image", hint="build and push the image for linux/amd64")
