"""Blob upload for one repository: HEAD to skip, cross-repository mount, chunked PATCH with resume.

A chunk that fails (dropped connection, 5xx) is followed by `GET` on the upload URL, and the
upload resumes from the `Range` the registry reports. A registry that no longer knows the upload
(CNCF Distribution forgets one whose last chunk broke, or whose HMAC secret changed on a restart)
gets a fresh upload of the same blob. Chunks grow while they are fast and shrink after a failure.
The bytes are hashed on the way out, and the registry checks the same digest on the final PUT.
Failed chunks are retried with jittered exponential backoff (and `Retry-After`) by `stamina`.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

import httpx
import stamina

from cogkit.errors import RegistryError
from cogkit.registry import replies
from cogkit.registry.transport import MAX_BACKOFF_S, MAX_RETRY_AFTER_S, Transport

MIN_CHUNK = 5 << 20  # S3-backed registries (ECR) reject smaller parts except the last
FIRST_CHUNK = 16 << 20
MAX_CHUNK = 256 << 20
FAST_CHUNK_S = 2.0  # a chunk done faster than this doubles the next one
MAX_FAILURES = 6  # per chunk, counting both resumes and restarts
FIRST_BACKOFF_S = 0.2
OCTETS = {"Content-Type": "application/octet-stream"}


class Outcome(str, Enum):
    SKIPPED = "skipped"
    MOUNTED = "mounted"
    UPLOADED = "uploaded"


class BlobPusher:
    """Puts blobs into `repository`; `progress(digest, bytes_done)` reports absolute offsets."""

    def __init__(
        self,
        transport: Transport,
        repository: str,
        *,
        progress: Callable[[str, int], None] | None = None,
        first_chunk: int = FIRST_CHUNK,
    ) -> None:
        self.transport = transport
        self.repository = repository
        self.progress = progress or (lambda digest, done: None)
        self.first_chunk = first_chunk
        self.bytes_sent = 0
        self._count_lock = threading.Lock()
        self.restarts = 0
        self.resumes = 0
        self.stop = threading.Event()  # set by the caller to abandon uploads between chunks

    def _count(self, sent: int) -> None:
        with self._count_lock:
            self.bytes_sent += sent

    def exists(self, digest: str, size: int) -> bool:
        """A redirect means the registry holds the blob (it sends reads to its storage); it is not
        followed, so no request reaches the storage host (a HEAD on a signed GET URL would fail anyway)."""
        response = self.transport.request(
            "HEAD",
            f"/v2/{self.repository}/blobs/{digest}",
            ok=(200, 404, 302, 303, 307, 308),
            what=f"HEAD blob {digest[:19]}",
        )
        if response.status_code == 404:
            return False
        length = response.headers.get("content-length")
        return response.is_redirect or length is None or int(length) == size

    def push_file(self, digest: str, size: int, path: Path, *, mount_from: list[str] = ()) -> Outcome:
        """Make sure the registry holds the blob, by whichever way sends the fewest bytes."""
        if self.exists(digest, size):
            self.progress(digest, size)
            return Outcome.SKIPPED
        location = None
        for source in mount_from:
            location = self._mount(digest, source)
            if location is None:
                self.progress(digest, size)
                return Outcome.MOUNTED
        self._upload(digest, size, path, location)
        return Outcome.UPLOADED

    def push_bytes(self, digest: str, data: bytes) -> Outcome:
        """Small blobs (the config): one POST and one PUT."""
        if self.exists(digest, len(data)):
            return Outcome.SKIPPED
        for _ in range(MAX_FAILURES):
            location = self._start()
            response = self.transport.request(
                "PUT",
                _with_digest(location, digest),
                ok=(201, 400, 404),
                what="PUT config",
                content=data,
                headers=OCTETS,
            )
            if response.status_code == 201:
                self._count(len(data))
                return Outcome.UPLOADED
            self._raise_unless_upload_lost(response, "PUT config")
        raise RegistryError(f"{self.transport.registry} kept losing the upload of {digest}")

    def _start(self) -> str:
        response = self.transport.request(
            "POST", f"/v2/{self.repository}/blobs/uploads/", ok=(202,), what="start a blob upload"
        )
        return _location(response)

    def _mount(self, digest: str, source: str) -> str | None:
        """None when mounted; else the upload URL the registry opened instead."""
        response = self.transport.request(
            "POST",
            f"/v2/{self.repository}/blobs/uploads/?mount={quote(digest)}&from={quote(source)}",
            ok=(201, 202),
            what=f"mount {digest[:19]} from {source}",
        )
        return None if response.status_code == 201 else _location(response)

    def _upload(self, digest: str, size: int, path: Path, location: str | None) -> None:
        location = location or self._start()
        offset, chunk = 0, self.first_chunk
        hasher = hashlib.sha256()
        with path.open("rb") as blob:
            while offset < size:
                try:
                    for attempt in stamina.retry_context(
                        on=_chunk_backoff,
                        attempts=MAX_FAILURES + 1,
                        timeout=None,
                        wait_initial=FIRST_BACKOFF_S,
                        wait_max=MAX_BACKOFF_S,
                    ):
                        with attempt:
                            if attempt.num > 1:
                                chunk = max(min(MIN_CHUNK, self.first_chunk), chunk // 2)
                                location, offset = self._resume(location)
                                hasher = _rehash(blob, offset)
                                self.progress(digest, offset)
                            location, offset, fast = self._send_chunk(
                                digest, blob, location, offset, size, chunk, hasher
                            )
                            if fast:
                                chunk = min(chunk * 2, MAX_CHUNK)
                except _ChunkFailed as exc:
                    raise RegistryError(
                        f"uploading {digest[:19]} to {self.transport.registry} failed {MAX_FAILURES + 1} times "
                        f"in a row ({exc})",
                        hint="check the network or the registry's health, then push again (finished layers are kept)",
                    ) from None
        if f"sha256:{hasher.hexdigest()}" != digest:
            raise RegistryError(
                f"the cached blob {path} does not match its digest {digest}",
                hint="delete the cogkit cache (~/.cache/cogkit) and push again",
            )
        response = self.transport.request(
            "PUT", _with_digest(location, digest), ok=(201,), what=f"PUT blob {digest[:19]}", headers=OCTETS
        )
        answered = response.headers.get("docker-content-digest")
        if answered and answered != digest:
            raise RegistryError(f"{self.transport.registry} stored {digest} as {answered}")

    def _send_chunk(
        self,
        digest: str,
        blob: BinaryIO,
        location: str,
        offset: int,
        size: int,
        chunk: int,
        hasher: hashlib._Hash,
    ) -> tuple[str, int, bool]:
        """PATCH one chunk; the new location and offset, and whether it went fast enough to grow."""
        if self.stop.is_set():
            raise RegistryError("push cancelled")
        if offset >= size:
            return location, offset, False
        blob.seek(offset)
        data = blob.read(min(chunk, size - offset))
        started = time.monotonic()
        try:
            response = self.transport.http.patch(
                self.transport.url(location),
                content=data,
                headers=OCTETS | {"Content-Range": f"{offset}-{offset + len(data) - 1}"},
            )
        except httpx.TransportError as exc:
            raise _ChunkFailed(str(exc) or type(exc).__name__) from exc
        if response.status_code != 202:
            if _retryable(response):
                raise _ChunkFailed(f"{response.status_code} {response.reason_phrase}", response)
            raise self.transport.error(response, f"PATCH blob {digest[:19]}")
        hasher.update(data)
        offset += len(data)
        self._count(len(data))
        self.progress(digest, offset)
        return _location(response), offset, time.monotonic() - started < FAST_CHUNK_S

    def _resume(self, location: str) -> tuple[str, int]:
        """Ask where the upload stands; start a new one if the registry has lost it."""
        try:
            response = self.transport.request("GET", location, ok=(204, 400, 404), what="GET upload status")
        except RegistryError:
            response = None
        if response is not None and response.status_code == 204:
            self.resumes += 1
            last = int(response.headers.get("range", "0-0").rpartition("-")[2] or 0)
            offset = last + 1 if last > 0 else 0  # "0-0" is what Distribution says for an empty upload
            return _location(response, default=location), offset
        self.restarts += 1
        return self._start(), 0

    def _raise_unless_upload_lost(self, response: httpx.Response, what: str) -> None:
        if not _upload_lost(response):
            raise self.transport.error(response, what)


class _ChunkFailed(Exception):
    """A chunk that may succeed if sent again (after asking the registry where the upload stands)."""

    def __init__(self, reason: str, response: httpx.Response | None = None) -> None:
        super().__init__(reason)
        self.response = response


def _chunk_backoff(exc: Exception) -> bool | float:
    if not isinstance(exc, _ChunkFailed):
        return False
    asked = replies.retry_after(exc.response) if exc.response is not None else None
    return True if asked is None else min(asked, MAX_RETRY_AFTER_S)


def _upload_lost(response: httpx.Response) -> bool:
    return response.status_code in (400, 404) and "BLOB_UPLOAD" in response.text


def _retryable(response: httpx.Response) -> bool:
    return response.status_code in (408, 416, 429, 500, 502, 503, 504) or _upload_lost(response)


def _rehash(blob: object, offset: int) -> hashlib._Hash:
    hasher = hashlib.sha256()
    blob.seek(0)  # type: ignore[attr-defined]
    remaining = offset
    while remaining:
        data = blob.read(min(remaining, 8 << 20))  # type: ignore[attr-defined]
        hasher.update(data)
        remaining -= len(data)
    return hasher


def _location(response: httpx.Response, default: str | None = None) -> str:
    location = response.headers.get("location") or default
    if not location:
        raise RegistryError(f"the registry answered {response.status_code} without an upload Location")
    return location


def _with_digest(location: str, digest: str) -> str:
    return f"{location}{'&' if '?' in location else '?'}digest={quote(digest)}"
