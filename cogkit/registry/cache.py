"""A local cache of compressed layer blobs, keyed by the layer's uncompressed digest (its diff_id).

Compressing is the slow part of a push, and a layer's diff_id never changes, so each layer is
compressed once per machine: a re-push after a code edit compresses only the new layer. Entries are
written to a temporary name and renamed, so a crash never leaves a half blob that looks whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from isal import isal_zlib

GZIP_LEVEL = 1  # ISA-L level 1: ~300 MB/s per core, within a few % of gzip -6's size on real layers
GZIP_WBITS = 31  # zlib's "gzip container" setting


@dataclass(frozen=True)
class CachedBlob:
    """One compressed layer: what the manifest names (digest, size) and where its bytes are."""

    diff_id: str
    digest: str
    size: int
    diff_size: int
    path: Path


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

    def get(self, diff_id: str) -> CachedBlob | None:
        entry = self.index / f"{_hex(diff_id)}.json"
        try:
            data = json.loads(entry.read_text())
            blob = self.blobs / _hex(data["digest"])
            if blob.stat().st_size != data["size"]:
                return None
        except (OSError, ValueError, KeyError):
            return None
        return CachedBlob(diff_id, data["digest"], data["size"], data["diff_size"], blob)

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

    def compress(self, stream: IO[bytes], size: int | None, *, chunk: int = 4 << 20) -> CachedBlob:
        """Gzip `size` bytes (None: all) from `stream` into the cache, hashing both sides on the way."""
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.index.mkdir(parents=True, exist_ok=True)
        raw, packed = hashlib.sha256(), hashlib.sha256()
        packer = isal_zlib.compressobj(GZIP_LEVEL, isal_zlib.DEFLATED, GZIP_WBITS)
        fd, tmp = tempfile.mkstemp(dir=self.blobs, prefix=".partial-")
        read = written = 0
        try:
            with os.fdopen(fd, "wb") as out:
                while size is None or read < size:
                    data = stream.read(chunk if size is None else min(chunk, size - read))
                    if not data:
                        if size is None:
                            break
                        raise OSError(f"the layer stream ended {size - read} bytes early")
                    read += len(data)
                    raw.update(data)
                    piece = packer.compress(data)
                    packed.update(piece)
                    out.write(piece)
                    written += len(piece)
                piece = packer.flush()
                packed.update(piece)
                out.write(piece)
                written += len(piece)
            digest = f"sha256:{packed.hexdigest()}"
            os.replace(tmp, self.blobs / packed.hexdigest())
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        diff_id = f"sha256:{raw.hexdigest()}"
        record = {"digest": digest, "size": written, "diff_size": read}
        _atomic_write(self.index / f"{raw.hexdigest()}.json", json.dumps(record).encode())
        return CachedBlob(diff_id, digest, written, read, self.blobs / packed.hexdigest())


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
