"""Read a local image from the Docker engine as registry blobs, compressing only what is new.

The engine's export (`GET /images/NAME/get`, the `docker save` format) carries each layer as an
uncompressed tar. A layer whose diff_id is already in the BlobCache is only hashed, to prove which
one it is; a new layer is gzipped into the cache while it streams. Each layer is handed to
`on_layer` as soon as it is ready, so uploads overlap the rest of the export.
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

import docker
import docker.errors

from cogkit.errors import EngineError
from cogkit.registry.cache import BlobCache, CachedBlob, hash_stream
from cogkit.registry.layerstore import LayerStore, chain_ids

# Written by cogkit.image.labels at build time (the registry does not import the image package).
DOCKERFILE_STEPS_LABEL = "run.cogkit.dockerfile-steps"

EXPORT_CHUNK = 4 << 20
COMPRESS_JOBS = min(4, os.cpu_count() or 1)


@dataclass(frozen=True)
class LocalImage:
    """What a push needs from the engine: the exact config bytes and one compressed blob per layer."""

    image_id: str
    config: bytes
    layers: tuple[CachedBlob, ...]


class _ChunkReader:
    """A file-like `read(n)` over the engine's chunk iterator, for tarfile's streaming mode."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = memoryview(b"")

    def read(self, size: int = -1) -> bytes:
        parts: list[bytes] = []
        wanted = size if size >= 0 else 1 << 62
        while wanted > 0:
            if not self._buffer:
                nxt = next(self._chunks, None)
                if nxt is None:
                    break
                self._buffer = memoryview(nxt)
            piece = self._buffer[:wanted]
            self._buffer = self._buffer[len(piece) :]
            parts.append(bytes(piece))
            wanted -= len(piece)
        return b"".join(parts)


def engine() -> docker.DockerClient:
    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except docker.errors.DockerException as exc:
        raise EngineError(
            f"cannot talk to the Docker engine: {exc}",
            hint="start Docker (or set DOCKER_HOST), then retry",
        ) from exc
    return client


def inspect_local(client: docker.DockerClient, name: str) -> dict:
    """The engine's record of a local image, or a clear error saying how to get one."""
    try:
        return client.api.inspect_image(name)
    except docker.errors.ImageNotFound as exc:
        raise EngineError(
            f"the image {name} is not in the local Docker engine",
            hint=f"build it first: cogkit build -t {name}",
        ) from exc
    except docker.errors.APIError as exc:
        raise EngineError(f"the Docker engine cannot inspect {name}: {exc.explanation or exc}") from exc


def read_image(
    name: str,
    *,
    cache: BlobCache,
    on_layer: Callable[[CachedBlob], None] | None = None,
    client: docker.DockerClient | None = None,
) -> LocalImage:
    """Export `name` from the engine into `cache` and return its config and layer blobs, in order."""
    client = client or engine()
    attrs = inspect_local(client, name)
    diff_ids: list[str] = list(attrs.get("RootFS", {}).get("Layers") or [])
    delivered: set[str] = set()

    def deliver(blob: CachedBlob) -> None:
        if blob.engine_diff_id not in delivered:  # a fallback may meet a layer the fast path handed on
            delivered.add(blob.engine_diff_id)
            if on_layer:
                on_layer(blob)

    store = LayerStore.open(client)
    if store is not None:
        image = _from_store(store, attrs, diff_ids, cache, deliver)
        if image is not None:
            return image
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    # Which of our layers to normalise is known only once the export's config has arrived.
    early = None if DOCKERFILE_STEPS_LABEL in labels else deliver
    found, config = _export(client, name, cache, set(diff_ids), early, trust_sizes=True)
    missing = [d for d in diff_ids if d not in found]
    if missing:  # a cached size matched a different layer: rare, so just export again and compress all
        more, config = _export(client, name, cache, set(missing), early, trust_sizes=False)
        found |= more
    missing = [d for d in diff_ids if d not in found]
    if missing or config is None:
        raise EngineError(f"the engine's export of {name} lacks layer {missing[0] if missing else 'config'}")
    image_id = f"sha256:{hashlib.sha256(config).hexdigest()}"
    if image_id != attrs["Id"]:
        raise EngineError(f"the exported config of {name} does not match its image id {attrs['Id']}")
    first = first_own_layer(json.loads(config))
    layers = []
    for index, diff_id in enumerate(diff_ids):
        blob = found[diff_id]
        if first is not None and index >= first:
            blob = cache.get(diff_id, normalised=True) or cache.normalise(blob)
        deliver(blob)
        layers.append(blob)
    return _with_layers(image_id, config, layers)


def first_own_layer(config: dict) -> int | None:
    """Index of the first layer cogkit's Dockerfile made (base layers come before it), or None when
    the image does not say, or its history and layers disagree (then nothing is normalised)."""
    labels = (config.get("config") or {}).get("Labels") or {}
    history = config.get("history") or []
    try:
        own = int(labels.get(DOCKERFILE_STEPS_LABEL, ""))
    except ValueError:
        return None
    layers = len((config.get("rootfs") or {}).get("diff_ids") or [])
    if not 0 <= own <= len(history) or sum(not h.get("empty_layer") for h in history) != layers:
        return None
    return sum(not h.get("empty_layer") for h in history[: len(history) - own])


def _with_layers(image_id: str, config: bytes, layers: list[CachedBlob]) -> LocalImage:
    """The image as pushed: the config names each blob's own diff_id (new ones for normalised layers)."""
    if all(blob.diff_id == blob.engine_diff_id for blob in layers):
        return LocalImage(image_id=image_id, config=config, layers=tuple(layers))
    document = json.loads(config)
    document["rootfs"]["diff_ids"] = [blob.diff_id for blob in layers]
    rewritten = json.dumps(document, separators=(",", ":")).encode()
    return LocalImage(
        image_id=f"sha256:{hashlib.sha256(rewritten).hexdigest()}", config=rewritten, layers=tuple(layers)
    )


def _from_store(
    store: LayerStore,
    attrs: dict,
    diff_ids: list[str],
    cache: BlobCache,
    deliver: Callable[[CachedBlob], None],
) -> LocalImage | None:
    """Cached layers cost nothing; new ones are rebuilt from the store, several at once (hashing and
    ISA-L release the GIL). None: something did not match, so the caller uses the export instead."""

    def prepare(diff_id: str, chain_id: str, normalised: bool) -> CachedBlob:
        cached = cache.get(diff_id, normalised=normalised)
        return cached or cache.compress(_ChunkReader(store.layer_tar(chain_id)), None, normalised=normalised)

    try:
        config = store.config(attrs["Id"])
        if f"sha256:{hashlib.sha256(config).hexdigest()}" != attrs["Id"]:
            return None
        first = first_own_layer(json.loads(config))
        by_diff: dict[str, CachedBlob] = {}
        with ThreadPoolExecutor(max_workers=COMPRESS_JOBS, thread_name_prefix="cogkit-layer") as pool:
            jobs = {
                pool.submit(prepare, diff_id, chain_id, first is not None and index >= first): diff_id
                for index, (diff_id, chain_id) in enumerate(zip(diff_ids, chain_ids(diff_ids), strict=True))
            }
            for job in as_completed(jobs):
                blob = job.result()
                if blob.engine_diff_id != jobs[job]:
                    for other in jobs:
                        other.cancel()
                    return None
                by_diff[blob.engine_diff_id] = blob
                deliver(blob)
    except (OSError, ValueError, KeyError, tarfile.TarError):
        return None
    return _with_layers(attrs["Id"], config, [by_diff[d] for d in diff_ids])


def _export(
    client: docker.DockerClient,
    name: str,
    cache: BlobCache,
    wanted: set[str],
    on_layer: Callable[[CachedBlob], None] | None,
    *,
    trust_sizes: bool,
) -> tuple[dict[str, CachedBlob], bytes | None]:
    cached_by_size = cache.diff_sizes(sorted(wanted)) if trust_sizes else {}
    found: dict[str, CachedBlob] = {}
    json_files: dict[str, bytes] = {}
    try:
        chunks = client.api.get_image(name, chunk_size=EXPORT_CHUNK)
        with tarfile.open(fileobj=_ChunkReader(iter(chunks)), mode="r|") as archive:  # type: ignore[call-overload]
            for member in archive:
                handle = archive.extractfile(member)
                if handle is None:
                    continue
                if member.name.endswith("/layer.tar"):
                    blob = _take_layer(handle, member.size, cache, cached_by_size)
                    if blob is not None and blob.diff_id in wanted and blob.diff_id not in found:
                        found[blob.diff_id] = blob
                        if on_layer:
                            on_layer(blob)
                elif member.name.endswith(".json") and "/" not in member.name:
                    json_files[member.name] = handle.read()
    except (docker.errors.APIError, tarfile.TarError, OSError) as exc:
        raise EngineError(f"reading {name} from the Docker engine failed: {exc}") from exc
    manifest = json.loads(json_files.get("manifest.json", b"[]"))
    config_name = manifest[0]["Config"] if manifest else None
    return found, json_files.get(config_name) if config_name else None


def _take_layer(
    handle: object, size: int, cache: BlobCache, cached_by_size: dict[int, list[str]]
) -> CachedBlob | None:
    """Hash a layer that looks cached; compress one that does not. None: looked cached but was not."""
    if size in cached_by_size:
        diff_id = hash_stream(handle, size)  # type: ignore[arg-type]
        return cache.get(diff_id) if diff_id in cached_by_size[size] else None
    return cache.compress(handle, size)  # type: ignore[arg-type]
