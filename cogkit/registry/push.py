"""`push_image`: a local image to a registry, layers in parallel, the manifest strictly last.

The order is what makes a push safe to interrupt: every blob is in the registry (uploaded, mounted
or already there) before the manifest is PUT, so a tag never points at a missing blob. Layers start
uploading while the engine is still exporting the rest of the image.
"""

from __future__ import annotations

import time
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import docker

from cogkit.errors import RegistryError, UsageError
from cogkit.registry.blobs import BlobPusher, Outcome
from cogkit.registry.cache import BlobCache, CachedBlob
from cogkit.registry.credentials import Credentials
from cogkit.registry.manifest import ManifestFormat, build_manifest, digest_of
from cogkit.registry.progress import PushProgress
from cogkit.registry.reference import Reference
from cogkit.registry.source import LocalImage, engine, inspect_local, read_image
from cogkit.registry.transport import Transport

DEFAULT_JOBS = 4
MAX_MOUNT_SOURCES = 4


@dataclass(frozen=True)
class PushResult:
    """What was pushed: `reference` is `registry/repo:tag@sha256:…`, ready to pull anywhere."""

    reference: str
    digest: str
    uploaded: int
    mounted: int
    skipped: int
    bytes_uploaded: int
    seconds: float
    retries: int = 0  # requests repeated, uploads resumed or restarted after a fault


def push_image(
    target: str,
    *,
    source: str | None = None,
    insecure: bool = False,
    ca_cert: Path | None = None,
    manifest_format: ManifestFormat = ManifestFormat.DOCKER,
    jobs: int = DEFAULT_JOBS,
    show_progress: bool = True,
    credentials: Credentials | None = None,
    cache: BlobCache | None = None,
    client: docker.DockerClient | None = None,
) -> PushResult:
    """Push the engine's image `source` (default: `target`) to the registry reference `target`."""
    started = time.monotonic()
    ref = Reference.parse(target)
    if ref.digest:
        raise UsageError(
            f"cannot push to a digest reference ({target})", hint="push to a tag, e.g. REPO:latest"
        )
    cache = cache or BlobCache()
    client = client or engine()
    local_name = source or target
    diff_ids = list(inspect_local(client, local_name).get("RootFS", {}).get("Layers") or [])
    mount_sources = _mount_sources(diff_ids, cache, ref)
    scopes = [f"repository:{ref.repository}:pull,push"]
    scopes += sorted({f"repository:{repo}:pull" for repos in mount_sources.values() for repo in repos})
    transport = Transport(
        ref.registry, ref.endpoint, scopes=scopes, credentials=credentials, insecure=insecure, ca_cert=ca_cert
    )
    with transport:
        transport.ping()  # before any bar is drawn, so a wrong address or password is one clean line
        pusher = BlobPusher(transport, ref.repository)
        with PushProgress(enabled=show_progress) as progress:
            pusher.progress = progress.update
            image = _push_layers(pusher, local_name, cache, client, mount_sources, jobs, progress)
        pusher.push_bytes(digest_of(image.config), image.config)
        manifest, media_type = build_manifest(image.config, image.layers, manifest_format)
        digest = _put_manifest(transport, ref, manifest, media_type)
    for blob in image.layers:
        cache.remember(blob.digest, ref.name)
    return PushResult(
        reference=str(ref.with_digest(digest)),
        digest=digest,
        uploaded=progress.counts["uploaded"],
        mounted=progress.counts["mounted"],
        skipped=progress.counts["skipped"],
        bytes_uploaded=pusher.bytes_sent,
        seconds=time.monotonic() - started,
        retries=transport.retries + pusher.resumes + pusher.restarts,
    )


def _push_layers(
    pusher: BlobPusher,
    local_name: str,
    cache: BlobCache,
    client: docker.DockerClient,
    mount_sources: dict[str, list[str]],
    jobs: int,
    progress: PushProgress,
) -> LocalImage:
    """Every layer into the registry, each starting as soon as the engine has handed it over."""
    futures: list[Future[Outcome]] = []

    def send(blob: CachedBlob) -> Outcome:
        outcome = pusher.push_file(
            blob.digest, blob.size, blob.path, mount_from=mount_sources.get(blob.digest, [])
        )
        progress.finish(blob.digest, outcome.value)
        return outcome

    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="cogkit-push") as pool:

        def on_layer(blob: CachedBlob) -> None:
            progress.add(blob.digest, blob.size)
            futures.append(pool.submit(send, blob))

        try:
            image = read_image(local_name, cache=cache, on_layer=on_layer, client=client)
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            for future in [*done, *futures]:
                future.result()
        except BaseException:
            pusher.stop.set()  # running uploads stop at their next chunk; queued ones never start
            for future in futures:
                future.cancel()
            raise
    return image


def _mount_sources(diff_ids: list[str], cache: BlobCache, ref: Reference) -> dict[str, list[str]]:
    """Other repositories of the same registry that we pushed a layer to before."""
    sources: dict[str, list[str]] = {}
    prefix = f"{ref.registry}/"
    blobs = [cache.get(d, normalised=n) for d in diff_ids for n in (False, True)]  # either form may go
    for blob in blobs:
        if blob is None:
            continue
        repos = [
            s[len(prefix) :] for s in cache.sources(blob.digest) if s.startswith(prefix) and s != ref.name
        ]
        if repos:
            sources[blob.digest] = repos[:MAX_MOUNT_SOURCES]
    return sources


def _put_manifest(transport: Transport, ref: Reference, manifest: bytes, media_type: str) -> str:
    expected = digest_of(manifest)
    response = transport.request(
        "PUT",
        f"/v2/{ref.repository}/manifests/{ref.tag}",
        ok=(201, 200),
        what="PUT manifest",
        content=manifest,
        headers={"Content-Type": media_type},
    )
    answered = response.headers.get("docker-content-digest", expected)
    if answered != expected:
        raise RegistryError(f"{ref.registry} stored the manifest as {answered}, but it digests to {expected}")
    return expected
