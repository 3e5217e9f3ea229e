"""The OpenAPI document of a predictor, with Cog's component names and `x-` extensions.

`openapi_schema()` imports user code, so it runs inside the worker (or `print_document()`, in a
probe run in the user's environment at build time); `base_document()` only assembles dicts, so
the server can rebuild or extend the document from the Input/Output schemas.
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
from typing import Any, Dict, List, Optional, Tuple, Union

from cogkit.errors import PredictorError
from cogkit.mode import Mode
from cogkit.sdk.input import MISSING
from cogkit.sdk.loader import Field, PredictorShape, load_shape
from cogkit.sdk.tracebacks import format_user_error
from cogkit.sdk.typespec import OutputSpec, json_schema, title_of
from cogkit.sdk.validate import validate_input

__all__ = ["base_document", "input_schema", "openapi_schema", "output_schema", "validate_input"]

REF = "#/components/schemas/"


def openapi_schema(predictor_ref: str, *, cwd: str, mode: Union[Mode, str] = Mode.PREDICT) -> Dict[str, Any]:
    """Import `predictor_ref` from `cwd` and build its full OpenAPI document."""
    return document_for(load_shape(predictor_ref, cwd=cwd, mode=mode))


def print_document(predictor: str, trainer: str, *, marker: str) -> int:
    """Print `marker` and the document of `predictor` and/or `trainer` (refs, "" for none) on one
    line; or, when the user's code cannot be loaded, the error as a user should read it on stderr
    (the useful line first, then the user's frames only). Returns the exit status."""
    from cogkit.sdk.openapi_paths import merge

    document: Dict[str, Any] = {}
    for mode, ref in ((Mode.PREDICT, predictor), (Mode.TRAIN, trainer)):
        if not ref:
            continue
        try:
            part = openapi_schema(ref, cwd=os.getcwd(), mode=mode)
        except PredictorError as e:
            sys.stderr.write(f"{e}\n")
            return 1
        except BaseException as e:  # the user's module raised while importing
            sys.stderr.write(format_user_error(e, f"importing {ref.rpartition(':')[0]} failed:"))
            return 1
        document = merge(document, part) if document else part
    print(marker + json.dumps(document))
    return 0


def document_for(shape: PredictorShape) -> Dict[str, Any]:
    inputs, enums = input_schema(shape.fields, ref=shape.ref)
    return base_document(inputs, output_schema(shape.output), mode=shape.mode, extra_components=enums)


def input_schema(fields: List[Field], *, ref: str = "predictor") -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """The `Input` component, plus one enum component per field with `choices`/`Literal` (as Cog)."""
    properties: Dict[str, Any] = {}
    required: List[str] = []
    enums: Dict[str, Any] = {}
    for field in fields:
        where = f"{ref}: parameter '{field.name}'"
        prop = _field_schema(field, where)
        choices = _choices(field, where)
        if choices is not None:
            enum_name = field.name if field.name not in _RESERVED else f"{field.name}_choices"
            kind = type(choices[0]).__name__ if choices else "str"
            enums[enum_name] = {
                "title": enum_name,
                "description": "An enumeration.",
                "enum": choices,
                "type": {"str": "string", "int": "integer", "float": "number"}.get(kind, "string"),
            }
            kept = {k: v for k, v in prop.items() if k not in ("type", "enum", "title")}
            prop = {"allOf": [{"$ref": REF + enum_name}], **kept}
        properties[field.name] = prop
        if field.info.default is MISSING and not field.spec.nullable:
            required.append(field.name)
    schema: Dict[str, Any] = {"title": "Input", "type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema, enums


def output_schema(output: OutputSpec) -> Dict[str, Any]:
    """The `Output` component; iterators are arrays tagged `x-cog-array-type: iterator`."""
    element = json_schema(output.element)
    if not output.iterator:
        return {"title": "Output", **element}
    schema: Dict[str, Any] = {
        "title": "Output",
        "type": "array",
        "items": element,
        "x-cog-array-type": "iterator",
    }
    if output.concatenate:
        schema["x-cog-array-display"] = "concatenate"
    return schema


_RESERVED = {"Input", "Output", "Status", "WebhookEvent", "PredictionRequest", "PredictionResponse"}


def _field_schema(field: Field, where: str) -> Dict[str, Any]:
    info, spec = field.info, field.spec
    prop: Dict[str, Any] = {"title": title_of(field.name), **json_schema(spec)}
    prop.pop("nullable", None)
    if spec.nullable:
        prop["nullable"] = True
    prop["x-order"] = field.order
    if info.description is not None:
        prop["description"] = info.description
    numeric = spec.kind in ("int", "float")
    textual = spec.kind in ("str", "secret")
    for key, value, ok, name in (
        ("minimum", info.ge, numeric, "ge"),
        ("maximum", info.le, numeric, "le"),
        ("minLength", info.min_length, textual, "min_length"),
        ("maxLength", info.max_length, textual, "max_length"),
        ("pattern", info.regex, textual, "regex"),
    ):
        if value is None:
            continue
        if not ok:
            raise PredictorError(f"{where}: Input({name}=...) does not apply to type {spec.kind}")
        prop[key] = value
    if info.regex is not None:
        try:
            re.compile(info.regex)
        except re.error as e:
            raise PredictorError(f"{where}: Input(regex={info.regex!r}) is not a valid regex: {e}") from e
    if info.deprecated:
        prop["deprecated"] = True
    if info.default is not MISSING:
        default = _json_default(info.default)
        if spec.kind != "secret" or default is None:
            prop["default"] = default
        _check_default(field, default, prop, where)
    return prop


def _choices(field: Field, where: str) -> Optional[List[Any]]:
    spec, info = field.spec, field.info
    if info.choices is not None:
        if spec.kind not in ("str", "int", "float"):
            raise PredictorError(
                f"{where}: Input(choices=...) needs a str, int or float parameter, not {spec.kind}"
            )
        wrong = [c for c in info.choices if not _is_type(spec.kind, c)]
        if wrong or not info.choices:
            raise PredictorError(
                f"{where}: choices {info.choices!r} must be non-empty and all of type {spec.kind}"
            )
        return list(info.choices)
    if spec.kind == "literal":
        return list(spec.choices or [])
    return None


def _json_default(value: Any) -> Any:
    if hasattr(value, "get_secret_value"):
        return value.get_secret_value()
    if isinstance(value, (list, tuple)):
        return [_json_default(v) for v in value]
    if hasattr(value, "__fspath__"):
        return str(value)
    return value


def _is_type(kind: str, value: Any) -> bool:
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind in ("str", "secret", "path", "file"):
        return isinstance(value, str)
    return True


def _check_default(field: Field, default: Any, prop: Dict[str, Any], where: str) -> None:
    """A default that its own constraints reject makes the model unservable: say so at build time."""
    component = {"type": "object", "properties": {field.name: copy.deepcopy(prop)}}
    choices = field.info.choices if field.info.choices is not None else field.spec.choices
    if choices is not None:
        component["properties"][field.name]["enum"] = choices
    doc = {"components": {"schemas": {"Input": component}}}
    _, errors = validate_input(doc, {field.name: default})
    if errors:
        raise PredictorError(
            f"{where}: default {default!r} is invalid: {errors[0]['msg']}",
            hint="change the default or the constraint so that they agree",
        )


def base_document(
    input_schema: Dict[str, Any],
    output_schema: Dict[str, Any],
    *,
    mode: Union[Mode, str] = Mode.PREDICT,
    extra_components: Optional[Dict[str, Any]] = None,
) -> Dict[str, Any]:
    """The full document around `Input`/`Output`; in train mode the Training* names are used."""
    from cogkit.sdk.openapi_paths import components, paths

    schemas = components(input_schema, output_schema, mode=mode)
    schemas.update(extra_components or {})
    return {
        "openapi": "3.0.2",
        "info": {"title": "Cog", "version": "0.1.0"},
        "paths": paths(mode=mode),
        "components": {"schemas": schemas},
    }
