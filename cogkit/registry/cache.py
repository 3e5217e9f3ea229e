"""A local cache of compressed layer blobs, keyed by the layer's uncompressed digest (its diff_id).

Compressing is the slow part of a push, and a layer's diff_id never changes, so each layer is
compressed once per machine: a re-push after a code edit compresses only the new layer. Entries are
written to a temporary name and renamed, so a crash never leaves a half blob that looks whole.

A layer pushed in its reproducible form (cogkit.registry.normalise) is cached beside the exact
one, under the same engine diff_id: `get(diff_id, normalised=True)`.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from isal import igzip, isal_zlib

from cogkit.registry.normalise import normalise_layer

GZIP_LEVEL = 1  # ISA-L level 1: ~300 MB/s per core, within a few % of gzip -6's size on real layers
GZIP_WBITS = 31  # zlib's "gzip container" setting


@dataclass(frozen=True)
class CachedBlob:
    """One compressed layer: what the manifest names (digest, size) and where its bytes are.

    `diff_id` is the digest of the blob's own uncompressed bytes (what the image config lists);
    `origin` is the engine layer it was made from: the same, unless the layer was normalised.
    """

    diff_id: str
    digest: str
    size: int
    diff_size: int
    path: Path
    origin: str = ""

    @property
    def engine_diff_id(self) -> str:
        return self.origin or self.diff_id


def default_cache_dir() -> Path:
    if os.environ.get("COGKIT_CACHE_DIR"):
        return Path(os.environ["COGKIT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cogkit"


class BlobCache:
    """`blobs/sha256/HEX` hold compressed bytes; `index/DIFFHEX.json` maps a diff_id to its blob."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_cache_dir()
        self.blobs = self.root / "blobs" / "sha256"
        self.index = self.root / "index"

    def _entry(self, diff_id: str, normalised: bool) -> Path:
        return self.index / f"{_hex(diff_id)}{'.normalised' if normalised else ''}.json"

    def get(self, diff_id: str, *, normalised: bool = False) -> CachedBlob | None:
        """The blob made from the engine layer `diff_id`, exact or normalised, if cached."""
        try:
            data = json.loads(self._entry(diff_id, normalised).read_text())
            blob = self.blobs / _hex(data["digest"])
            if blob.stat().st_size != data["size"]:
                return None
        except (OSError, ValueError, KeyError):
            return None
        own = data.get("diff_id", diff_id)
        return CachedBlob(own, data["digest"], data["size"], data["diff_size"], blob, diff_id)

    def diff_sizes(self, diff_ids: list[str]) -> dict[int, list[str]]:
        """Uncompressed size → cached diff_ids of that size, to spot a cached layer before hashing it."""
        sizes: dict[int, list[str]] = {}
        for diff_id in diff_ids:
            found = self.get(diff_id)
            if found:
                sizes.setdefault(found.diff_size, []).append(diff_id)
        return sizes

    def remember(self, digest: str, repository: str) -> None:
        """Note that `registry/repo` holds the blob, to mount it from there next time."""
        seen = self.root / "seen"
        seen.mkdir(parents=True, exist_ok=True)
        known = self.sources(digest)
        if repository not in known:
            _atomic_write(seen / _hex(digest), "\n".join([repository, *known][:8]).encode())

    def sources(self, digest: str) -> list[str]:
        try:
            return (self.root / "seen" / _hex(digest)).read_text().split()
        except OSError:
            return []

    def compress(
        self, stream: IO[bytes], size: int | None, *, normalised: bool = False, chunk: int = 4 << 20
    ) -> CachedBlob:
        """Gzip the layer tar in `size` bytes (None: all) of `stream` into the cache, hashing both sides
        on the way; `normalised` stores its reproducible form instead (the tar is rewritten in flight)."""
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.index.mkdir(parents=True, exist_ok=True)
        source = _HashingReader(stream, size)
        fd, tmp = tempfile.mkstemp(dir=self.blobs, prefix=".partial-")
        try:
            with os.fdopen(fd, "wb") as out:
                packer = _Packer(out)
                if normalised:
                    normalise_layer(source, packer)
                    source.drain()  # the raw diff_id covers the tar's trailing padding too
                else:
                    while data := source.read(chunk):
                        packer.write(data)
                packer.finish()
            if size is not None and source.count != size:
                raise OSError(f"the layer stream ended {size - source.count} bytes early")
            os.replace(tmp, self.blobs / packer.packed.hexdigest())
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        origin = f"sha256:{source.hasher.hexdigest()}"
        own = f"sha256:{packer.raw.hexdigest()}"
        digest = f"sha256:{packer.packed.hexdigest()}"
        record = {"digest": digest, "size": packer.written, "diff_size": packer.count, "diff_id": own}
        _atomic_write(self._entry(origin, normalised), json.dumps(record).encode())
        return CachedBlob(
            own, digest, packer.written, packer.count, self.blobs / packer.packed.hexdigest(), origin
        )

    def normalise(self, blob: CachedBlob) -> CachedBlob:
        """The reproducible form of a cached exact blob, made from its compressed bytes."""
        with igzip.open(blob.path, "rb") as raw:
            made = self.compress(raw, None, normalised=True)  # type: ignore[arg-type]
        if made.engine_diff_id != blob.diff_id:
            raise OSError(f"the cached blob {blob.path} does not hold the layer {blob.diff_id}")
        return made


class _HashingReader:
    """Reads at most `limit` bytes of `stream`, hashing and counting what passes."""

    def __init__(self, stream: IO[bytes], limit: int | None) -> None:
        self.stream, self.limit = stream, limit
        self.hasher = hashlib.sha256()
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        if self.limit is not None:
            left = self.limit - self.count
            size = left if size < 0 else min(size, left)
        data = self.stream.read(size) if size else b""
        self.hasher.update(data)
        self.count += len(data)
        return data

    def drain(self) -> None:
        while self.read(4 << 20):
            pass


class _Packer:
    """A write-only file that gzips into `out`, hashing the bytes before and after compression."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.raw, self.packed = hashlib.sha256(), hashlib.sha256()
        self._zip = isal_zlib.compressobj(GZIP_LEVEL, isal_zlib.DEFLATED, GZIP_WBITS)
        self.count = self.written = 0

    def write(self, data: bytes) -> int:
        self.raw.update(data)
        self.count += len(data)
        self._emit(self._zip.compress(data))
        return len(data)

    def finish(self) -> None:
        self._emit(self._zip.flush())

    def _emit(self, piece: bytes) -> None:
        self.packed.update(piece)
        self.out.write(piece)
        self.written += len(piece)


def hash_stream(stream: IO[bytes], size: int, *, chunk: int = 4 << 20) -> str:
    """The sha256 of `size` bytes read (and dropped) from `stream`."""
    digest = hashlib.sha256()
    remaining = size
    while remaining:
        data = stream.read(min(chunk, remaining))
        if not data:
            raise OSError(f"the layer stream ended {remaining} bytes early")
        remaining -= len(data)
        digest.update(data)
    return f"sha256:{digest.hexdigest()}"


def _hex(digest: str) -> str:
    return digest.split(":", 1)[1]


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".partial-")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)
