"""Fast path: a layer's exact tar straight from a local engine's overlay2 store, without `docker save`.

`docker save` writes every layer of the image to a temporary folder before it streams a byte, so
exporting a 600 MB image costs seconds even when only its 5 KB code layer is new. When the engine
is local, uses overlay2 and its store is readable (cogkit runs as root or in the docker group with
access), the layer's tar is rebuilt from the engine's own `tar-split` record (headers and padding,
byte for byte) plus the files in the layer's diff folder, which is how the engine itself re-creates
layer tars. The result is checked against the diff_id; any mismatch or error falls back to the
export, so this path can only be faster, never wrong.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import docker

READ_CHUNK = 4 << 20


def chain_ids(diff_ids: list[str]) -> list[str]:
    """The layer store's keys: each layer's id folds in all the layers below it."""
    chains: list[str] = []
    for diff_id in diff_ids:
        if not chains:
            chains.append(diff_id)
        else:
            chains.append(f"sha256:{hashlib.sha256(f'{chains[-1]} {diff_id}'.encode()).hexdigest()}")
    return chains


class LayerStore:
    """Read-only access to `DockerRootDir/image/overlay2` and `DockerRootDir/overlay2`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.layerdb = root / "image" / "overlay2" / "layerdb" / "sha256"
        self.imagedb = root / "image" / "overlay2" / "imagedb" / "content" / "sha256"

    @classmethod
    def open(cls, client: docker.DockerClient) -> LayerStore | None:
        """The store of a local overlay2 engine when this process may read it; else None."""
        if os.environ.get("COGKIT_NO_LAYER_STORE"):
            return None
        if not str(client.api.base_url).startswith("http+docker://localhost"):
            return None  # a remote engine (tcp://, ssh://): its disk is not ours
        try:
            info = client.info()
        except docker.errors.DockerException:
            return None
        if info.get("Driver") != "overlay2" or not info.get("DockerRootDir"):
            return None
        store = cls(Path(info["DockerRootDir"]))
        return store if os.access(store.layerdb, os.R_OK | os.X_OK) else None

    def config(self, image_id: str) -> bytes:
        return (self.imagedb / image_id.split(":", 1)[1]).read_bytes()

    def layer_tar(self, chain_id: str) -> Iterator[bytes]:
        """The layer's uncompressed tar, in pieces, rebuilt from tar-split and the diff folder."""
        entry = self.layerdb / chain_id.split(":", 1)[1]
        cache_id = (entry / "cache-id").read_text().strip()
        diff = self.root / "overlay2" / cache_id / "diff"
        with gzip.open(entry / "tar-split.json.gz", "rt") as records:
            for line in records:
                record = json.loads(line)
                if record["type"] == 2:  # a segment: raw header or padding bytes
                    if record.get("payload"):
                        yield base64.b64decode(record["payload"])
                elif record["type"] == 1 and record.get("size"):  # a file entry: its content
                    yield from _file_content(diff, record)


def _file_content(diff: Path, record: dict) -> Iterator[bytes]:
    raw = base64.b64decode(record["name_raw"]) if record.get("name_raw") else record["name"].encode()
    path = os.path.join(bytes(diff), raw.lstrip(b"/"))
    remaining = int(record["size"])
    with open(path, "rb") as handle:
        while remaining:
            data = handle.read(min(READ_CHUNK, remaining))
            if not data:
                raise OSError(f"{path!r} is shorter than its tar-split record")
            remaining -= len(data)
            yield data
