"""Resuming from the registry's `Range`: CNCF Distribution forgets a broken upload (so the real-registry
tests see restarts), so a registry that keeps partial uploads, as the OCI spec allows, is served here."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import httpx
import pytest

from cogkit.errors import RegistryError
from cogkit.registry.blobs import BlobPusher, Outcome
from cogkit.registry.transport import Transport

Start = Callable[[str, list[tuple[str, str]]], object]


class ResumableRegistry:
    """Keeps what it received of a broken PATCH and reports it with GET, like GHCR or Harbor."""

    def __init__(self, fail_patches: set[int]) -> None:
        self.fail_patches = fail_patches
        self.upload = bytearray()
        self.blobs: dict[str, bytes] = {}
        self.patches: list[tuple[int, int]] = []

    def __call__(self, environ: dict, start: Start) -> Iterable[bytes]:
        verb, path, query = environ["REQUEST_METHOD"], environ["PATH_INFO"], environ.get("QUERY_STRING", "")
        received = self.upload
        done = [("Location", "/v2/r/blobs/uploads/u1"), ("Range", f"0-{max(len(received) - 1, 0)}")]
        if verb == "HEAD":
            start("200 OK" if path.rsplit("/", 1)[1] in self.blobs else "404 Not Found", [])
        elif verb == "POST":
            self.upload = bytearray()
            start("202 Accepted", [("Location", "/v2/r/blobs/uploads/u1"), ("Range", "0-0")])
        elif verb == "PATCH":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            first = int(re.match(r"(\d+)-", environ["HTTP_CONTENT_RANGE"]).group(1))  # type: ignore[union-attr]
            self.patches.append((first, len(body)))
            if first != len(received):
                start("416 Range Not Satisfiable", done)
            elif len(self.patches) in self.fail_patches:
                received += body[: len(body) // 2]  # the connection broke half way through
                start("502 Bad Gateway", [])
            else:
                received += body
                start(
                    "202 Accepted",
                    [("Location", "/v2/r/blobs/uploads/u1"), ("Range", f"0-{len(received) - 1}")],
                )
        elif verb == "GET":
            start("204 No Content", done)
        elif verb == "PUT":
            digest = query.split("digest=")[1].replace("%3A", ":")
            if f"sha256:{hashlib.sha256(received).hexdigest()}" != digest:
                start("400 Bad Request", [("Content-Type", "application/json")])
                return [b'{"errors": [{"code": "DIGEST_INVALID", "message": "digest did not match"}]}']
            self.blobs[digest] = bytes(received)
            start("201 Created", [("Docker-Content-Digest", digest)])
        return [b""]


def pusher_for(app: ResumableRegistry, first_chunk: int) -> BlobPusher:
    transport = Transport(
        "r.test", "r.test", scopes=[], use_config=False, http_transport=httpx.WSGITransport(app=app)
    )
    return BlobPusher(transport, "r", first_chunk=first_chunk)


@pytest.fixture
def blob(tmp_path: Path) -> tuple[Path, str, bytes]:
    data = os.urandom(3 << 20)
    path = tmp_path / "blob"
    path.write_bytes(data)
    return path, f"sha256:{hashlib.sha256(data).hexdigest()}", data


def test_resumes_from_the_reported_offset(blob: tuple[Path, str, bytes]) -> None:
    path, digest, data = blob
    registry = ResumableRegistry(fail_patches={3})
    pusher = pusher_for(registry, first_chunk=256 << 10)
    assert pusher.push_file(digest, len(data), path) is Outcome.UPLOADED
    assert registry.blobs[digest] == data
    assert (pusher.resumes, pusher.restarts) == (1, 0)
    sizes = [size for _, size in registry.patches]
    assert sizes[:3] == [256 << 10, 512 << 10, 1 << 20]  # fast chunks grow
    assert registry.patches[3][0] == (256 << 10) + (512 << 10) + (512 << 10)  # resumed at the half-way mark
    assert sizes[3] == 512 << 10  # and the chunk after a failure is halved


def test_a_corrupt_cached_blob_is_never_committed(blob: tuple[Path, str, bytes]) -> None:
    path, digest, data = blob
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    registry = ResumableRegistry(fail_patches=set())
    with pytest.raises(RegistryError, match="does not match its digest"):
        pusher_for(registry, first_chunk=1 << 20).push_file(digest, len(data), path)
    assert registry.blobs == {}
