"""JSON inputs → the Python values a predictor expects, and its outputs → JSON-ready values.

Inputs arrive validated, with files already downloaded to local path strings by the server.
Outputs may hold `pathlib.Path` objects anywhere; they travel as a separate list of positions.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import enum
import io
import os
import pathlib
import tempfile
from typing import Any, Dict, List, Tuple

from cogkit.sdk.input import MISSING
from cogkit.sdk.loader import Field
from cogkit.sdk.types import Path, Secret
from cogkit.sdk.typespec import TypeSpec
from cogkit.worker.protocol import Output

# Deeper outputs are refused with a clear error: every hop after the child (the client's JSON
# decoder, the server's responses and webhooks) recurses once per level, at whatever stack depth
# it runs at, and must not be the one that fails.
MAX_DEPTH = 500


def build_kwargs(fields: List[Field], inputs: Dict[str, Any], opened: List[Any]) -> Dict[str, Any]:
    """Keyword arguments for predict(); every parameter gets a value (its default when absent)."""
    kwargs: Dict[str, Any] = {}
    for field in fields:
        if field.name in inputs:
            value = inputs[field.name]
        elif field.info.default is not MISSING:
            value = field.info.default
            if isinstance(value, (Secret, pathlib.PurePath)):
                kwargs[field.name] = value
                continue
            value = copy.deepcopy(value)  # a mutable default must not carry over between predictions
        else:
            value = None
        kwargs[field.name] = _to_python(value, field.spec, opened)
    return kwargs


def _to_python(value: Any, spec: TypeSpec, opened: List[Any]) -> Any:
    if value is None:
        return None
    kind = spec.kind
    if kind == "path":
        return Path(value)
    if kind == "secret":
        return Secret(value)
    if kind == "file":
        handle = open(value, "rb")  # noqa: SIM115 - closed by the worker after the prediction
        opened.append(handle)
        return handle
    if kind == "list" and spec.item is not None and isinstance(value, list):
        return [_to_python(v, spec.item, opened) for v in value]
    if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


class OutputConverter:
    """Output values → JSON-ready copies, with the files in them listed out of band.

    A `pathlib.Path` anywhere in the value becomes its absolute path string, and its position
    (keys and indices) goes to the message's file list: the only way a file reaches the server.
    File objects without a path of their own (io.BytesIO) are copied into `directory`, which the
    client empties as the server finishes with each output.
    """

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def message(self, prediction_id: str, value: Any) -> Output:
        """The message for a predictor's returned value."""
        return Output(prediction_id, *self.convert(value))

    def convert(self, value: Any) -> Tuple[Any, List[Any]]:
        """(the JSON-ready copy, its file list): an iterator's item, for `Channel.send_chunk`."""
        files: List[Any] = []
        return self._convert(value, (), files, 0), files

    def plain(self, value: Any) -> Any:
        """A JSON-ready copy in which files are plain path strings (for metrics)."""
        return self._convert(value, (), [], 0) if value else value

    def _convert(self, value: Any, at: Tuple[Any, ...], files: List[Any], depth: int) -> Any:
        if type(value) in _PLAIN or value is None or isinstance(value, (bool, int, float, str)):
            return value
        if depth >= MAX_DEPTH:
            raise OutputError(f"the output is nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, (pathlib.PurePath, io.IOBase)):
            path = os.path.abspath(value) if isinstance(value, pathlib.PurePath) else self._file(value)
            files.append([list(at), path])
            return path
        if isinstance(value, Secret):
            return str(value)
        # Loops, not comprehensions: a comprehension is one more frame per level of nesting.
        if isinstance(value, dict):
            mapping = {}
            for k, v in value.items():
                key = k if type(k) is str else str(k)
                mapping[key] = v if type(v) in _PLAIN else self._convert(v, (*at, key), files, depth + 1)
            return mapping
        if isinstance(value, (list, tuple, set, frozenset)):
            items = []
            for i, v in enumerate(value):
                items.append(v if type(v) in _PLAIN else self._convert(v, (*at, i), files, depth + 1))
            return items
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
            return self._convert(fields, at, files, depth)
        if hasattr(value, "model_dump"):  # pydantic v2 (the user's own, if installed)
            return self._convert(value.model_dump(), at, files, depth)
        if hasattr(value, "dict") and callable(value.dict) and hasattr(value, "__fields__"):  # pydantic v1
            return self._convert(value.dict(), at, files, depth)
        if isinstance(value, enum.Enum):
            return self._convert(value.value, at, files, depth)
        if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
            return value.isoformat()
        if hasattr(value, "tolist"):  # numpy arrays and scalars
            return self._convert(value.tolist(), at, files, depth)
        raise OutputError(f"cannot return a value of type {type(value).__name__} from predict()")

    def _file(self, handle: io.IOBase) -> str:
        """A file object output: its own path when it has one, else a copy of its bytes."""
        name = getattr(handle, "name", None)
        if isinstance(name, str) and os.path.isfile(name):
            return os.path.abspath(name)
        data = handle.read()  # type: ignore[attr-defined]
        suffix = os.path.splitext(name)[1] if isinstance(name, str) else ""
        fd, path = tempfile.mkstemp(prefix="cogkit-output-", suffix=suffix, dir=self.directory)
        with os.fdopen(fd, "wb") as out:
            out.write(data.encode() if isinstance(data, str) else data)
        return path


class OutputError(ValueError):
    """An output that cannot be sent: the prediction fails with this message, without a traceback."""


# Exact types that are already JSON: skipped without a call (subclasses take the long way).
_PLAIN = frozenset({str, int, float, bool, type(None)})
