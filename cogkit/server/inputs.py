"""What a runner needs from the worker's input schema: file fields, secrets, URL checks, and
the input as the response echoes it.

Computed once per worker schema, so the request path only looks things up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cogkit.mode import Mode
from cogkit.server.downloads import file_fields
from cogkit.server.http_errors import InputInvalid, RequestInvalid
from cogkit.server.redact import redact_url

REDACTED = "**********"
# A data URI longer than this is echoed as its header and its length only: Cog 0.14 echoes
# inputs whole, coglet 0.23.1 none at all; a file's megabytes in every response, webhook and
# kept prediction help no one (docs/http-api.md, "Response").
ECHO_DATA_URI_CHARS = 4096


class SchemaFacts:
    """What the runner needs from the worker's OpenAPI document, computed once per worker."""

    def __init__(self, openapi: Mapping[str, Any], mode: Mode) -> None:
        self.openapi = openapi
        schemas = openapi.get("components", {}).get("schemas", {})
        self.component = mode.input_component if mode.input_component in schemas else "Input"
        self.files = file_fields(openapi, self.component)
        props = schemas.get(self.component, {}).get("properties", {})
        self.secrets = frozenset(n for n, p in props.items() if p.get("format") == "password")

    def has_files(self, inputs: Mapping[str, Any]) -> bool:
        return bool(self.files) and any(inputs.get(name) is not None for name in self.files)

    def echo(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """The input as responses show it: `Secret` values redacted, long data URIs shortened."""
        if not self.secrets.intersection(inputs) and not self.has_files(inputs):
            return inputs
        echoed = dict(inputs)
        for name in self.secrets.intersection(inputs):
            if inputs[name] is not None:
                echoed[name] = REDACTED
        for name, is_list in self.files.items():
            value = inputs.get(name)
            if isinstance(value, str):
                echoed[name] = _shortened(value)
            elif is_list and isinstance(value, list):
                echoed[name] = [_shortened(v) if isinstance(v, str) else v for v in value]
        return echoed


def _shortened(url: str) -> str:
    """`data:image/png;base64,... (7340032 characters)` for a long data URI; anything else as is."""
    if len(url) <= ECHO_DATA_URI_CHARS or not url.startswith("data:"):
        return url
    comma = url.find(",", 5, 1024)
    header = url[: comma + 1] if comma > 0 else "data:"
    return f"{header}... ({len(url)} characters)"


def check_file_urls(inputs: dict[str, Any], facts: SchemaFacts, aims_at_self: Callable[[str], bool]) -> None:
    """Refuse other schemes (file://, ftp://) and this server's own address up front, with one
    422 entry per bad value."""
    detail: list[dict[str, Any]] = []
    for name, is_list in facts.files.items():
        value = inputs.get(name)
        if value is None:
            continue
        for url in value if is_list else (value,):
            if not isinstance(url, str) or not url.startswith(("http://", "https://", "data:")):
                shown = redact_url(url) if isinstance(url, str) else str(url)
                detail += InputInvalid(name, f"{shown[:80]!r} is not an http(s) URL or a data URI").detail
            elif not url.startswith("data:") and aims_at_self(url):
                detail += InputInvalid(name, "a file URL may not point at this server").detail
    if detail:
        raise RequestInvalid(detail)


def first_message(error: Exception) -> str:
    """The first entry of a 422-style error as one line, for a failed prediction's `error`."""
    detail = getattr(error, "detail", None)
    if detail:
        first = detail[0]
        return f"{'.'.join(str(p) for p in first['loc'][1:])}: {first['msg']}"
    return getattr(error, "message", None) or str(error)
