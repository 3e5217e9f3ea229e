"""Turn `-i name=value` / `name=@file` / `--json` into a prediction's `input`, checked against the schema.

Values are coerced by the schema's type (so `-i steps=4` is an int), repeating a list input collects
its values, and `@file` becomes a data URI the server downloads like any other file input. Errors name
the input and list the valid ones, before anything is started.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cogkit.errors import UsageError

REF = "#/components/schemas/"


def input_properties(schema: dict[str, Any], component: str = "Input") -> dict[str, dict[str, Any]]:
    """The properties of the Input (or TrainingInput) component, with `$ref`s to enums resolved."""
    components = schema.get("components", {}).get("schemas", {})
    props = components.get(component, {}).get("properties", {})
    resolved = {}
    for name, prop in props.items():
        merged = dict(prop)
        for ref in [p.get("$ref") for p in prop.get("allOf", [])] + [prop.get("$ref")]:
            if ref and ref.startswith(REF):
                merged = {**components.get(ref[len(REF) :], {}), **merged}
        resolved[name] = merged
    return resolved


def file_to_data_uri(path: Path) -> str:
    if not path.is_file():
        raise UsageError(f"input file {path} does not exist")
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


def _coerce(name: str, raw: str, prop: dict[str, Any]) -> Any:
    kind = prop.get("type")
    if kind == "array":
        kind = prop.get("items", {}).get("type")
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
        if kind == "boolean":
            lowered = raw.lower()
            if lowered in ("true", "1", "yes", "on"):
                return True
            if lowered in ("false", "0", "no", "off"):
                return False
            raise ValueError(raw)
        if kind == "object" or (kind is None and raw[:1] in "[{"):
            return json.loads(raw)
    except (ValueError, json.JSONDecodeError):
        raise UsageError(
            f"input {name}={raw!r} is not a valid {kind}", hint=f"give -i {name}=<{kind}>"
        ) from None
    return raw


def parse_inputs(
    pairs: Sequence[str], schema: dict[str, Any] | None, *, component: str = "Input", cwd: Path | None = None
) -> dict[str, Any]:
    """`-i` pairs into an input dict, typed by `schema` when we have one."""
    props = input_properties(schema, component) if schema else {}
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(
                f"-i {pair!r}: expected name=value", hint="e.g. -i prompt=hello or -i image=@photo.jpg"
            )
        if props and name not in props:
            raise UsageError(f"unknown input {name!r}", hint=f"this model's inputs are: {', '.join(props)}")
        prop = props.get(name, {})
        value: Any
        if raw.startswith("@"):
            value = file_to_data_uri((cwd or Path.cwd()) / raw[1:])
        else:
            value = _coerce(name, raw, prop)
        if prop.get("type") == "array":
            values.setdefault(name, []).append(value)
        elif name in values and not props:
            # Without a schema we cannot know the type: a repeated name is taken as a list.
            previous = values[name]
            values[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        elif name in values:
            raise UsageError(f"input {name!r} was given twice, but it is not a list")
        else:
            values[name] = value
    return values


def parse_json_input(source: str) -> dict[str, Any]:
    """`--json '{…}'`, `--json @file.json`, or stdin with `--json @-` (Cog's form) or `--json -`.

    The JSON is a whole `{"input": …}` or just the inputs.
    """
    if source in ("-", "@-"):
        text = sys.stdin.read()
    elif source.startswith("@"):
        path = Path(source[1:])
        if not path.is_file():
            raise UsageError(f"--json file {path} does not exist")
        text = path.read_text()
    else:
        text = source
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"--json is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(data, dict):
        raise UsageError('--json must be a JSON object of inputs, or {"input": {...}}')
    inner = data.get("input")
    return inner if isinstance(inner, dict) and len(data) == 1 else data


def validate(
    inputs: dict[str, Any], schema: dict[str, Any] | None, *, component: str = "Input"
) -> dict[str, Any]:
    """Check inputs with the SDK's validator; raise one UsageError listing every problem."""
    if not schema:
        return inputs
    from cogkit.sdk.schema import validate_input

    _, errors = validate_input(schema, inputs, component=component)
    known = input_properties(schema, component)
    lines = [
        f"{name}: unknown input (this model's inputs are: {', '.join(known)})"
        for name in inputs
        if name not in known
    ]
    lines += [_error_line(e) for e in errors]
    if lines:
        raise UsageError("invalid input:\n" + "\n".join(f"  {line}" for line in lines))
    return inputs


def _error_line(error: Any) -> str:
    if isinstance(error, dict):
        loc = ".".join(str(p) for p in error.get("loc", []) if p not in ("body", "input"))
        return f"{loc}: {error.get('msg', error)}" if loc else str(error.get("msg", error))
    return str(error)
