"""File inputs: every `format: uri` input is fetched into the prediction's own directory.

http(s) URLs and data URIs are accepted; the predictor receives local path strings. What a
client can make the server do here is bounded: at most `PER_PREDICTION` downloads at once per
prediction, `max_bytes` per file, and one deadline for all the downloads of a prediction (the
runner's), so a server that drips a byte now and then cannot hold a slot past it. Errors name
the input and never show a URL's credentials or signature.
"""

from __future__ import annotations

import asyncio
import binascii
import mimetypes
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import unquote, unquote_to_bytes, urlsplit

import pybase64

from cogkit.server.http_errors import InputInvalid
from cogkit.server.redact import redact_text, redact_url

if TYPE_CHECKING:
    from cogkit.server.outbound import LazyClient

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_CHUNK = 1 << 16
PER_PREDICTION = 8
_MAX_HEADER = 1024  # a data URI's media type and parameters, up to the comma
_B64_CHUNK = 1 << 20  # characters of base64 decoded at a time
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/=]+")


def file_fields(openapi: Mapping[str, Any], component: str = "Input") -> dict[str, bool]:
    """Names of file inputs in the schema, each mapped to True when it is a list of files."""
    schemas = openapi.get("components", {}).get("schemas", {})
    props = schemas.get(component, {}).get("properties", {})
    fields: dict[str, bool] = {}
    for name, prop in props.items():
        if _is_uri(prop):
            fields[name] = False
        elif prop.get("type") == "array" and _is_uri(prop.get("items", {})):
            fields[name] = True
        else:
            for alt in prop.get("anyOf", []) + prop.get("allOf", []):
                if _is_uri(alt):
                    fields[name] = False
                elif alt.get("type") == "array" and _is_uri(alt.get("items", {})):
                    fields[name] = True
    return fields


def _is_uri(prop: Mapping[str, Any]) -> bool:
    return prop.get("type") == "string" and prop.get("format") == "uri"


def safe_name(raw: str, fallback: str = "file") -> str:
    """A filename that cannot escape its directory or confuse a shell: [A-Za-z0-9._-], ≤100 chars."""
    name = _UNSAFE.sub("_", unquote(raw.rsplit("/", 1)[-1])).lstrip(".-_")
    if len(name) > 100:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:90] + dot + ext[:9]) if dot and len(ext) < 10 else name[:100]
    return name or fallback


async def download_inputs(
    inputs: dict[str, Any],
    fields: Mapping[str, bool],
    *,
    client: LazyClient,
    directory: Path,
    max_bytes: int,
) -> dict[str, Any]:
    """Replace every file input's URL with the path of its downloaded copy under `directory`."""
    jobs: list[tuple[str, int | None, str]] = []
    for name, is_list in fields.items():
        value = inputs.get(name)
        if value is None:
            continue
        if is_list:
            jobs.extend((name, i, url) for i, url in enumerate(value))
        else:
            jobs.append((name, None, value))
    if not jobs:
        return inputs
    gate = asyncio.Semaphore(PER_PREDICTION)

    async def one(n: int, field: str, url: str) -> Path:
        async with gate:
            return await _fetch(url, field, client, directory / str(n), max_bytes)

    tasks = [asyncio.ensure_future(one(n, name, url)) for n, (name, _, url) in enumerate(jobs)]
    try:
        paths = await asyncio.gather(*tasks)
    except BaseException:  # one failure (or the deadline) ends the others: nothing keeps downloading
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    out = dict(inputs)
    for (name, index, _), path in zip(jobs, paths, strict=True):
        if index is None:
            out[name] = str(path)
        else:
            if out[name] is inputs[name]:
                out[name] = list(inputs[name])
            out[name][index] = str(path)
    return out


async def _fetch(url: str, field: str, client: LazyClient, folder: Path, max_bytes: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if url.startswith("data:"):  # decoding and writing up to max_bytes: not on the event loop
        return await asyncio.to_thread(_write_data_uri, url, field, folder, max_bytes)
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise InputInvalid(
            field, f"cannot fetch {redact_url(url)[:80]!r}: only http(s) URLs and data URIs are accepted"
        )
    target = folder / safe_name(urlsplit(url).path)
    shown = redact_url(url)[:200]
    import httpx

    try:
        async with client.stream("GET", url, follow_redirects=True) as response:
            if response.status_code >= 400:
                raise InputInvalid(field, f"downloading {shown} failed: HTTP {response.status_code}")
            size = 0
            with target.open("wb") as fh:
                async for chunk in response.aiter_bytes(_CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise InputInvalid(field, f"{shown} is larger than the {max_bytes}-byte limit")
                    fh.write(chunk)
    except httpx.HTTPError as e:
        raise InputInvalid(
            field, f"downloading {shown} failed: {redact_text(str(e)) or type(e).__name__}"
        ) from e
    return target


def _write_data_uri(uri: str, field: str, folder: Path, max_bytes: int) -> Path:
    """Decode a data URI into a file a chunk at a time (blocking: use a thread)."""
    comma = uri.find(",", 5, _MAX_HEADER)
    if comma < 0:
        raise InputInvalid(field, "malformed data URI: no ',' between the header and the data")
    media, _, params = uri[5:comma].partition(";")
    ext = mimetypes.guess_extension(media or "application/octet-stream") or ""
    target = folder / f"{safe_name(field, 'input')}{ext}"
    with target.open("wb") as out:
        if params.endswith("base64"):
            written = _decode_base64(uri, comma + 1, out, field, max_bytes)
        else:
            if (len(uri) - comma - 1) // 3 > max_bytes:  # each %XX is one byte: it cannot fit
                raise InputInvalid(field, f"data URI is larger than the {max_bytes}-byte limit")
            written = out.write(unquote_to_bytes(uri[comma + 1 :]))
    if written > max_bytes:
        raise InputInvalid(field, f"data URI is larger than the {max_bytes}-byte limit")
    return target


def _decode_base64(uri: str, start: int, out: BinaryIO, field: str, max_bytes: int) -> int:
    """Decode `uri[start:]` into `out` in chunks of whole 4-character groups; the bytes written.

    Characters outside the base64 alphabet (line breaks, spaces) are skipped, as most decoders
    do: a chunk is decoded strictly as it is, and only when that fails is it cleaned and
    decoded strictly again. Padding is accepted only at the end; the size limit is checked as
    it goes.
    """
    written = 0
    carry = ""
    for offset in range(start, len(uri), _B64_CHUNK):
        text = carry + uri[offset : offset + _B64_CHUNK]
        whole = len(text) - len(text) % 4
        try:
            data = pybase64.b64decode(text[:whole], validate=True)
        except binascii.Error:
            text = _NOT_BASE64.sub("", text)
            whole = len(text) - len(text) % 4
            try:
                data = pybase64.b64decode(text[:whole], validate=True)
            except binascii.Error as e:
                raise InputInvalid(field, f"malformed base64 in data URI: {e}") from None
        carry = text[whole:]
        written += out.write(data)
        if written > max_bytes:
            raise InputInvalid(field, f"data URI is larger than the {max_bytes}-byte limit")
    if _NOT_BASE64.sub("", carry):
        raise InputInvalid(field, "malformed base64 in data URI: its length is not a multiple of 4")
    return written
