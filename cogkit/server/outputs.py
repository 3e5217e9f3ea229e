"""File outputs: each `pathlib.Path` in an output becomes a data URI, or an uploaded file's URL.

The paths come from the worker's out-of-band file list, never from JSON a client sent, but
they are still read as if hostile, because reading the wrong thing would wedge or leak the
server: only regular files are read (a FIFO, a device such as /dev/zero, anything under /proc
or /sys, or a symlink to one of those is refused), the open never blocks (O_NONBLOCK, so a
FIFO without a writer cannot hang it), and a file inlined as a data URI is read off the event
loop and at most `max_file_bytes` of it. Uploads stream from the same checked descriptor.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import mimetypes
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pybase64

from cogkit.server.downloads import safe_name
from cogkit.server.encoding import JsonText
from cogkit.server.http_errors import OutputInvalid, UploadFailed
from cogkit.server.redact import redact_text, redact_url

if TYPE_CHECKING:
    from cogkit.server.outbound import LazyClient

_CHUNK = 3 << 18  # 768 KiB: whole 3-byte groups, 1 MiB of base64
_PSEUDO_ROOTS = ("/proc", "/sys")


@functools.cache
def _pseudo() -> frozenset[int]:
    """Device numbers of the kernel's pseudo file systems, whose "regular files" are not files."""
    devices = set()
    for root in _PSEUDO_ROOTS:
        with contextlib.suppress(OSError):
            devices.add(os.stat(root).st_dev)
    return frozenset(devices)


def open_regular(path: Path) -> tuple[int, int]:
    """Open `path` for reading if it is a regular file: (descriptor, size). Raises OutputInvalid."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as e:
        raise OutputInvalid(f"output file {path.name!r} cannot be read: {e.strerror}") from e
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_dev in _pseudo():
        os.close(fd)
        raise OutputInvalid(f"output {path.name!r} is not a regular file; only regular files are returned")
    return fd, info.st_size


def data_uri(path: Path, limit: int) -> JsonText:
    """The file as a data URI, encoded a chunk at a time (blocking: use a thread); OutputInvalid
    if it holds more than `limit` bytes. Only the URI itself is ever whole in memory."""
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    fd, size = open_regular(path)
    parts = [f"data:{mime};base64,".encode()]
    total = 0
    try:
        if size > limit:
            raise OutputInvalid(_too_big(path, limit))
        with os.fdopen(fd, "rb", buffering=0, closefd=False) as raw:
            chunk = bytearray(_CHUNK)
            while filled := raw.readinto(chunk) or 0:
                while filled < _CHUNK and (more := raw.readinto(memoryview(chunk)[filled:])):
                    filled += more  # a short read: base64 needs whole 3-byte groups until the end
                total += filled
                if total > limit:  # the file grew after fstat
                    raise OutputInvalid(_too_big(path, limit))
                parts.append(pybase64.b64encode(memoryview(chunk)[:filled]))
    finally:
        os.close(fd)
    return JsonText(b"".join(parts))


def _too_big(path: Path, limit: int) -> str:
    return (
        f"output file {path.name!r} is larger than {limit} bytes (COGKIT_MAX_OUTPUT_FILE_BYTES); "
        "start the server with --upload-url to return large files by URL"
    )


class OutputEncoder:
    """Turns every Path in an output into a data URI, or uploads it when an upload URL is set."""

    def __init__(self, *, client: LazyClient | None, upload_url: str | None, max_file_bytes: int) -> None:
        self.client = client
        self.upload_url = upload_url
        self.max_file_bytes = max_file_bytes

    async def encode(self, value: Any) -> Any:
        if isinstance(value, Path):
            if self.upload_url and self.client is not None:
                return await self._upload(value)
            return await asyncio.to_thread(data_uri, value, self.max_file_bytes)
        if isinstance(value, list | tuple):
            if not any(isinstance(v, Path | list | tuple | dict) for v in value):
                return value
            return list(await asyncio.gather(*(self.encode(v) for v in value)))
        if isinstance(value, dict):
            if not any(isinstance(v, Path | list | tuple | dict) for v in value.values()):
                return value
            encoded = await asyncio.gather(*(self.encode(v) for v in value.values()))
            return dict(zip(value.keys(), encoded, strict=True))
        return value

    async def _upload(self, path: Path) -> str:
        assert self.client is not None and self.upload_url is not None
        url = self.upload_url.rstrip("/") + "/" + quote(safe_name(path.name, "output"))
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        fd, size = await asyncio.to_thread(open_regular, path)
        import httpx

        async def chunks() -> Any:
            while chunk := await asyncio.to_thread(os.read, fd, _CHUNK):
                yield chunk

        try:
            headers = {"Content-Type": mime, "Content-Length": str(size)}
            response = await self.client.put(url, content=chunks(), headers=headers)
            response.raise_for_status()
        except (httpx.HTTPError, OSError) as e:
            reason = redact_text(str(e)) or type(e).__name__
            raise UploadFailed(
                f"uploading output file {path.name} to {redact_url(url)} failed: {reason}"
            ) from e
        finally:
            os.close(fd)
        location = response.headers.get("location")
        if location:
            return str(response.url.join(location))
        return str(response.url).split("?", 1)[0]
