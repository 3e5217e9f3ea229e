"""Turn a pydantic ValidationError into one SpecError that says file:line:col, key, value, fix."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ValidationError

from cogkit.errors import SpecError
from cogkit.spec import models, pythons
from cogkit.spec.yamlmarks import Document, KeyPath

# A short fix for each key, shown as the hint when its value is wrong.
HINTS: dict[str, str] = {
    "build": "build is a mapping of keys such as gpu, python_version, python_requirements",
    "build.gpu": "write gpu: true or gpu: false",
    "build.python_version": f'quote it, e.g. python_version: "{pythons.DEFAULT}"',
    "build.cuda": 'quote it and give major.minor, e.g. cuda: "12.1"',
    "build.cudnn": 'quote it, e.g. cudnn: "8" or cudnn: "9"',
    "build.python_packages": 'one requirement per list item, e.g. - "numpy==1.26.4"',
    "build.system_packages": 'one apt package per list item, e.g. - "ffmpeg"',
    "build.run": "each item is a command string, or {command: ..., mounts: [{type: secret, id: ..., target: ...}]}",
    "build.run.mounts.type": "only secret mounts are supported: type: secret",
    "build.pre_install": "each item is a command string (better: move them to build.run)",
    "build.base_image": "auto (default), slim, cuda-runtime, cuda-devel, or an image such as python:3.12-slim",
    "predict": 'write predict: "predict.py:Predictor"',
    "run": 'write run: "predict.py:Predictor"',
    "train": 'write train: "train.py:train" (a file and a class or function, not a mapping)',
    "image": 'write image: "r8.im/you/model"',
    "environment": 'a list of NAME=value strings, e.g. - "HF_HOME=/src/.cache"',
    "concurrency": "write it as a mapping: concurrency: {max: 4}",
    "concurrency.max": "a whole number of at least 1, e.g. max: 4",
}


def _dotted(path: KeyPath) -> str:
    return ".".join(str(p) for p in path)


def _generic(path: KeyPath) -> str:
    """`build.run.2.command` -> `build.run.command`, the form HINTS is keyed by."""
    return ".".join(str(p) for p in path if not isinstance(p, int))


def _fields(model: type[BaseModel], path: KeyPath) -> list[str]:
    """The valid keys at `path`, walking nested models."""
    current: Any = model
    for part in path:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if hasattr(current, "model_fields") else None
        if field is None:
            return []
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        candidates = [annotation, *args]
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nested:
            return []
        current = nested[0]
    return list(current.model_fields)


def unknown_key(doc: Document, file: str, path: KeyPath, valid: list[str]) -> SpecError:
    key = str(path[-1])
    mark = doc.key_mark(path)
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6) or difflib.get_close_matches(
        key.lower(), valid, n=1, cutoff=0.6
    )
    hint = f"did you mean '{close[0]}'?" if close else f"valid keys here: {', '.join(valid)}"
    if path[:-1] == ("build",) and key in models.Document.model_fields:
        hint = f"'{key}' belongs at the top level: un-indent it out of build:"
    elif len(path) == 1 and key in models.Build.model_fields:
        hint = f"'{key}' belongs under build: indent it below build:"
    return SpecError(
        f"unknown key '{key}'",
        file=file,
        line=mark.line if mark else None,
        column=mark.column if mark else None,
        key=_dotted(path),
        hint=hint,
    )


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _message(error: dict[str, Any], value: Any) -> str:
    kind = error["type"]
    if kind == "value_error":
        return str(error["ctx"]["error"])
    if kind in {"string_type", "bool_type", "int_type", "tuple_type", "dict_type", "model_type"}:
        expected = {
            "string_type": "a string",
            "bool_type": "true or false",
            "int_type": "a whole number",
            "tuple_type": "a list",
            "dict_type": "a mapping",
            "model_type": "a mapping",
        }[kind]
        return f"expected {expected}, got {_show(value)}"
    if kind == "literal_error":
        return f"{_show(value)} is not allowed; expected {error['ctx']['expected']}"
    if kind == "missing":
        return "is required"
    return f"{error['msg'].lower()} (got {_show(value)})"


def _value_at(data: Any, path: KeyPath) -> Any:
    for part in path:
        if isinstance(data, str) and part == "command":  # the `- "cmd"` shorthand of build.run
            return data
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def to_spec_error(exc: ValidationError, doc: Document, file: str) -> SpecError:
    """The first validation error, placed at its value in the file."""
    error = exc.errors(include_url=False)[0]
    path: KeyPath = tuple(error["loc"])
    if error["type"] == "extra_forbidden":
        return unknown_key(doc, file, path, _fields(models.Document, path[:-1]))
    value = _value_at(doc.data, path)
    mark = doc.mark(path)
    key = _dotted(path)
    message = _message(error, value)
    if (
        error["type"] == "value_error"
        and isinstance(value, str | int | float)
        and _show(value) not in message
    ):
        message = f"{_show(value)}: {message}"
    generic = _generic(path)
    hint = None
    while generic and hint is None:
        hint = HINTS.get(generic)
        generic = generic.rpartition(".")[0]
    return SpecError(
        message,
        file=file,
        line=mark.line if mark else None,
        column=mark.column if mark else None,
        key=key,
        hint=hint,
    )
