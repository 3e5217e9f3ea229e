"""File inputs in, file outputs out.

Inputs: every `format: uri` field of the `Input` schema is downloaded (http(s) URLs and data
URIs, concurrently) into a per-prediction temporary directory, and the predictor receives
local path strings. Outputs: `pathlib.Path` values anywhere in the output become data URIs,
or are PUT to an upload URL and replaced by the URL that serves them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import mimetypes
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from cogkit.server.http_errors import InputInvalid, UploadFailed

if TYPE_CHECKING:
    import httpx  # imported on first use (see lazyhttp.py): it slows the server's start

    from cogkit.server.lazyhttp import LazyClient

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_CHUNK = 1 << 16


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
    client: httpx.AsyncClient | LazyClient,
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
    paths = await asyncio.gather(
        *(_fetch(url, name, client, directory / str(n), max_bytes) for n, (name, _, url) in enumerate(jobs))
    )
    out = dict(inputs)
    for (name, index, _), path in zip(jobs, paths, strict=True):
        if index is None:
            out[name] = str(path)
        else:
            if out[name] is inputs[name]:
                out[name] = list(inputs[name])
            out[name][index] = str(path)
    return out


async def _fetch(
    url: str, field: str, client: httpx.AsyncClient | LazyClient, folder: Path, max_bytes: int
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if url.startswith("data:"):
        return _write_data_uri(url, field, folder, max_bytes)
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise InputInvalid(field, f"cannot fetch {url[:80]!r}: only http(s) URLs and data URIs are accepted")
    target = folder / safe_name(urlsplit(url).path)
    import httpx

    try:
        async with client.stream("GET", url, follow_redirects=True) as response:
            if response.status_code >= 400:
                raise InputInvalid(field, f"downloading {url[:200]} failed: HTTP {response.status_code}")
            size = 0
            with target.open("wb") as fh:
                async for chunk in response.aiter_bytes(_CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise InputInvalid(field, f"{url[:200]} is larger than the {max_bytes}-byte limit")
                    fh.write(chunk)
    except httpx.HTTPError as e:
        raise InputInvalid(field, f"downloading {url[:200]} failed: {e}") from e
    return target


def _write_data_uri(uri: str, field: str, folder: Path, max_bytes: int) -> Path:
    header, sep, payload = uri[5:].partition(",")
    if not sep:
        raise InputInvalid(field, "malformed data URI: no ',' between the header and the data")
    media, _, params = header.partition(";")
    try:
        data = (
            base64.b64decode(payload, validate=False)
            if params.endswith("base64")
            else unquote(payload).encode("latin-1", "replace")
        )
    except (binascii.Error, ValueError) as e:
        raise InputInvalid(field, f"malformed base64 in data URI: {e}") from e
    if len(data) > max_bytes:
        raise InputInvalid(field, f"data URI is larger than the {max_bytes}-byte limit")
    ext = mimetypes.guess_extension(media or "application/octet-stream") or ""
    target = folder / f"{safe_name(field, 'input')}{ext}"
    target.write_bytes(data)
    return target


async def encode_output(
    value: Any, *, client: httpx.AsyncClient | LazyClient | None, upload_url: str | None
) -> Any:
    """Turn every Path in the output into a data URI, or an uploaded URL when `upload_url` is set."""
    if isinstance(value, Path):
        if upload_url and client is not None:
            return await _upload(value, client, upload_url)
        return await asyncio.to_thread(to_data_uri, value) if _big(value) else to_data_uri(value)
    if isinstance(value, list | tuple):
        if not any(isinstance(v, Path | list | tuple | dict) for v in value):
            return value
        return list(
            await asyncio.gather(*(encode_output(v, client=client, upload_url=upload_url) for v in value))
        )
    if isinstance(value, dict):
        if not any(isinstance(v, Path | list | tuple | dict) for v in value.values()):
            return value
        encoded = await asyncio.gather(
            *(encode_output(v, client=client, upload_url=upload_url) for v in value.values())
        )
        return dict(zip(value.keys(), encoded, strict=True))
    return value


def _big(path: Path) -> bool:
    try:
        return path.stat().st_size > (1 << 20)
    except OSError:
        return False


def to_data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


async def _upload(path: Path, client: httpx.AsyncClient | LazyClient, upload_url: str) -> str:
    url = upload_url.rstrip("/") + "/" + quote(safe_name(path.name, "output"))
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    import httpx

    try:
        with path.open("rb") as fh:
            content = await asyncio.to_thread(fh.read)
        response = await client.put(url, content=content, headers={"Content-Type": mime})
        response.raise_for_status()
    except (httpx.HTTPError, OSError) as e:
        raise UploadFailed(f"uploading output file {path.name} to {url} failed: {e}") from e
    location = response.headers.get("location")
    final = str(response.url)
    if location:
        return str(response.url.join(location))
    return final.split("?", 1)[0]
