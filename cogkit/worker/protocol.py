"""The messages between the client (server process) and the child: one JSON object per line.

They travel over a dedicated socket, never stdout, which belongs to user output. Each message
has a `type`; the tables below list every type and its fields, so both sides check the same.

child → parent:  schema, setup_done, log, output, done, health, fatal
parent → child:  predict, cancel, health, shutdown
"""

from __future__ import annotations

import json
import pathlib
from typing import Any, Dict

PATH_KEY = "$cogkit.path"

FROM_CHILD = {
    "schema": ("schema", "max_concurrency", "is_async", "output_is_iterator", "has_healthcheck"),
    "setup_done": ("status", "error"),
    "log": ("id", "stream", "text"),
    "output": ("id", "value", "chunk"),
    "done": ("id", "status", "error", "metrics"),
    "health": ("seq", "result", "error"),
    "fatal": ("error",),
}
TO_CHILD = {
    "predict": ("id", "input", "context"),
    "cancel": ("id",),
    "health": ("seq",),
    "shutdown": (),
}


class ProtocolError(Exception):
    """A malformed message: a bug in cogkit, never the user's fault."""


def encode(kind: str, table: Dict[str, tuple], **fields: Any) -> bytes:
    expected = table.get(kind)
    if expected is None or set(fields) != set(expected):
        raise ProtocolError(f"bad {kind!r} message fields {sorted(fields)}; expected {expected}")
    return (_ENCODER.encode({"type": kind, **fields}) + "\n").encode()


def decode(line: bytes, table: Dict[str, tuple]) -> Dict[str, Any]:
    try:
        msg = _DECODER.decode(line.decode("utf-8"))
    except ValueError as e:  # UnicodeDecodeError included
        raise ProtocolError(f"not JSON: {line[:200]!r}") from e
    kind = msg.get("type") if isinstance(msg, dict) else None
    expected = table.get(kind)  # type: ignore[arg-type]
    if expected is None or set(msg) - {"type"} != set(expected):
        raise ProtocolError(f"unexpected message: {line[:200]!r}")
    return msg


def _default(value: Any) -> Any:
    if isinstance(value, pathlib.PurePath):
        return {PATH_KEY: str(value)}
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _object_hook(obj: Dict[str, Any]) -> Any:
    if len(obj) == 1 and PATH_KEY in obj:
        return pathlib.Path(obj[PATH_KEY])
    return obj


# Built once: json.dumps/json.loads with options build a new encoder/decoder on every call.
_ENCODER = json.JSONEncoder(default=_default, separators=(",", ":"))
_DECODER = json.JSONDecoder(object_hook=_object_hook)
