"""Image manifests: Docker v2 schema 2 (what every registry and engine accepts) or OCI v1."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import Enum

from cogkit.registry.cache import CachedBlob


class ManifestFormat(str, Enum):
    DOCKER = "docker"
    OCI = "oci"


@dataclass(frozen=True)
class MediaTypes:
    manifest: str
    config: str
    layer: str


MEDIA_TYPES = {
    ManifestFormat.DOCKER: MediaTypes(
        manifest="application/vnd.docker.distribution.manifest.v2+json",
        config="application/vnd.docker.container.image.v1+json",
        layer="application/vnd.docker.image.rootfs.diff.tar.gzip",
    ),
    ManifestFormat.OCI: MediaTypes(
        manifest="application/vnd.oci.image.manifest.v1+json",
        config="application/vnd.oci.image.config.v1+json",
        layer="application/vnd.oci.image.layer.v1.tar+gzip",
    ),
}


def digest_of(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def build_manifest(config: bytes, layers: tuple[CachedBlob, ...], fmt: ManifestFormat) -> tuple[bytes, str]:
    """The manifest bytes and their media type; the bytes are what the registry digests."""
    types = MEDIA_TYPES[fmt]
    document = {
        "schemaVersion": 2,
        "mediaType": types.manifest,
        "config": {"mediaType": types.config, "size": len(config), "digest": digest_of(config)},
        "layers": [
            {"mediaType": types.layer, "size": layer.size, "digest": layer.digest} for layer in layers
        ],
    }
    return json.dumps(document, indent=3).encode(), types.manifest
