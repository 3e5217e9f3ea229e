"""JSON inputs → the Python values a predictor expects, and its outputs → JSON-ready values.

Inputs arrive validated, with files already downloaded to local path strings by the server.
Outputs may hold `pathlib.Path` objects anywhere; the protocol marks them for the server.
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
from typing import Any, Dict, List

from cogkit.sdk.input import MISSING
from cogkit.sdk.loader import Field
from cogkit.sdk.types import Path, Secret
from cogkit.sdk.typespec import TypeSpec


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


def to_json(value: Any) -> Any:
    """A JSON-compatible copy of an output value; files stay `pathlib.Path` (absolute)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, pathlib.PurePath):
        return pathlib.Path(os.path.abspath(value))
    if isinstance(value, Secret):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "model_dump"):  # pydantic v2 (the user's own, if installed)
        return to_json(value.model_dump())
    if hasattr(value, "dict") and callable(value.dict) and hasattr(value, "__fields__"):  # pydantic v1
        return to_json(value.dict())
    if isinstance(value, enum.Enum):
        return to_json(value.value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, io.IOBase):
        return _file_output(value)
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return to_json(value.tolist())
    raise TypeError(f"cannot return a value of type {type(value).__name__} from predict()")


def _file_output(handle: io.IOBase) -> pathlib.Path:
    """A file object output: its own path when it has one, else a temp copy of its bytes."""
    name = getattr(handle, "name", None)
    if isinstance(name, str) and os.path.isfile(name):
        return pathlib.Path(os.path.abspath(name))
    data = handle.read()  # type: ignore[attr-defined]
    suffix = os.path.splitext(name)[1] if isinstance(name, str) else ""
    fd, path = tempfile.mkstemp(prefix="cogkit-output-", suffix=suffix)
    with os.fdopen(fd, "wb") as out:
        out.write(data.encode() if isinstance(data, str) else data)
    return pathlib.Path(path)
