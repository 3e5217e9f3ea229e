"""What a runner needs from the worker's input schema: file fields, secrets, URL checks.

Computed once per worker schema, so the request path only looks things up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cogkit.mode import Mode
from cogkit.server.downloads import file_fields
from cogkit.server.http_errors import InputInvalid, RequestInvalid
from cogkit.server.redact import redact_url


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
