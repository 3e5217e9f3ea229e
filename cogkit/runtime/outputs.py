"""Write a prediction's output the way users expect.

Strings print raw, other JSON prints pretty, files (data URIs) are written to `-o` or `output.<ext>`
(`output.<i>.<ext>` for lists), and URLs print as they are. Returns the paths it wrote.
"""

from __future__ import annotations

import base64
import binascii
import json
import mimetypes
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

Print = Callable[[str], None]
EXTENSION_FIXES = {".jpe": ".jpg", ".jpeg": ".jpg", ".bat": ".txt", ".ksh": ".txt"}


def is_data_uri(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("data:") and "," in value[:256]


def decode_data_uri(uri: str) -> tuple[bytes, str]:
    """The bytes of a data URI and a file extension for its media type."""
    header, _, payload = uri.partition(",")
    mime = header[5:].split(";")[0] or "application/octet-stream"
    try:
        data = base64.b64decode(payload) if ";base64" in header else urllib.parse.unquote_to_bytes(payload)
    except binascii.Error:
        data = payload.encode()
    ext = mimetypes.guess_extension(mime) or ".bin"
    return data, EXTENSION_FIXES.get(ext, ext)


def _target(output_path: Path | None, ext: str, index: int | None) -> Path:
    if output_path is None:
        return Path(f"output{'' if index is None else f'.{index}'}{ext}")
    if index is None:
        return output_path
    return output_path.with_name(f"{output_path.stem}.{index}{output_path.suffix or ext}")


def write_output(output: Any, *, output_path: Path | None, echo: Print) -> list[Path]:
    """Print or save `output`; files go to disk and their paths are announced."""
    written: list[Path] = []
    if is_data_uri(output):
        data, ext = decode_data_uri(output)
        path = _target(output_path, ext, None)
        path.write_bytes(data)
        written.append(path)
    elif isinstance(output, list) and output and all(is_data_uri(item) for item in output):
        for index, item in enumerate(output):
            data, ext = decode_data_uri(item)
            path = _target(output_path, ext, index)
            path.write_bytes(data)
            written.append(path)
    elif isinstance(output, str):
        if output_path is not None:
            output_path.write_text(output)
            written.append(output_path)
        else:
            echo(output)
    elif output is not None:
        text = json.dumps(output, indent=2, ensure_ascii=False)
        if output_path is not None:
            output_path.write_text(text + "\n")
            written.append(output_path)
        else:
            echo(text)
    return written


def stream_chunk(chunk: Any) -> str:
    """How one streamed output item prints: strings as they are, anything else as compact JSON."""
    return chunk if isinstance(chunk, str) else json.dumps(chunk, ensure_ascii=False)
