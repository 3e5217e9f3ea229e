"""Python annotations → a small `TypeSpec` tree → JSON Schema fragments.

One description of each type serves three jobs: the OpenAPI document, the server's input
validation (through that document) and the worker's conversion of JSON inputs to Python values.
"""

from __future__ import annotations

import dataclasses
import io
import pathlib
import types
import typing
from typing import Any, Dict, List, Optional

from cogkit.errors import PredictorError
from cogkit.sdk.types import AsyncConcatenateIterator, ConcatenateIterator, File, Secret
from cogkit.sdk.types import BaseModel as CogBaseModel

SCALARS = {str: "str", int: "int", float: "float", bool: "bool"}
JSON_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
_UNION_TYPES = tuple(t for t in (typing.Union, getattr(types, "UnionType", None)) if t is not None)
_ITERATORS = {
    typing.Iterator,
    typing.Generator,
    typing.Iterable,
    typing.AsyncIterator,
    typing.AsyncGenerator,
    typing.AsyncIterable,
}
_ABC_ITERATORS = {"Iterator", "Generator", "Iterable", "AsyncIterator", "AsyncGenerator", "AsyncIterable"}


class TypeSpec:
    """One node: `kind` is str/int/float/bool/path/file/secret/any/dict/list/literal/object/pydantic."""

    __slots__ = ("choices", "item", "kind", "model", "nullable")

    def __init__(
        self,
        kind: str,
        *,
        item: Optional[TypeSpec] = None,
        nullable: bool = False,
        choices: Optional[List[Any]] = None,
        model: Any = None,
    ) -> None:
        self.kind = kind
        self.item = item
        self.nullable = nullable
        self.choices = choices
        self.model = model

    def __repr__(self) -> str:
        inner = f"[{self.item!r}]" if self.item else ""
        return f"TypeSpec({self.kind}{inner}{'?' if self.nullable else ''})"


class OutputSpec:
    """The return type: an element spec, and whether it is streamed as an iterator."""

    __slots__ = ("concatenate", "element", "iterator")

    def __init__(self, element: TypeSpec, *, iterator: bool = False, concatenate: bool = False) -> None:
        self.element = element
        self.iterator = iterator
        self.concatenate = concatenate


def _is_pydantic_model(tp: Any) -> bool:
    return isinstance(tp, type) and any(
        c.__name__ == "BaseModel" and c.__module__.startswith("pydantic") for c in tp.__mro__
    )


def parse_type(tp: Any, where: str) -> TypeSpec:
    """Describe annotation `tp`; `where` names the parameter in errors."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp in SCALARS:
        return TypeSpec(SCALARS[tp])
    if tp is Any or tp is object:
        return TypeSpec("any")
    if origin in _UNION_TYPES:
        rest = [a for a in args if a is not type(None)]
        if len(rest) != 1:
            raise PredictorError(
                f"{where}: unsupported union type {_name(tp)}",
                hint="use a single type, or Optional[T] for a value that may be null",
            )
        spec = parse_type(rest[0], where)
        spec.nullable = True
        return spec
    if origin is typing.Literal:
        kinds = {type(a) for a in args}
        if len(kinds) != 1 or next(iter(kinds)) not in (str, int):
            raise PredictorError(f"{where}: Literal values must all be str or all be int, got {args!r}")
        return TypeSpec("literal", item=TypeSpec(SCALARS[next(iter(kinds))]), choices=list(args))
    if tp is list or tp is typing.List or origin is list:
        item = parse_type(args[0], f"{where} (list item)") if args else TypeSpec("any")
        if item.kind == "list":
            raise PredictorError(f"{where}: nested lists are not supported as inputs or outputs")
        return TypeSpec("list", item=item)
    if tp is dict or tp is typing.Dict or origin is dict:
        return TypeSpec("dict")
    if isinstance(tp, type):
        if issubclass(tp, Secret):
            return TypeSpec("secret")
        if issubclass(tp, pathlib.PurePath):
            return TypeSpec("path")
        if issubclass(tp, (File, io.IOBase)):
            return TypeSpec("file")
        if issubclass(tp, CogBaseModel):
            return TypeSpec("object", model=tp)
        if _is_pydantic_model(tp):
            return TypeSpec("pydantic", model=tp)
    raise PredictorError(
        f"{where}: unsupported type {_name(tp)}",
        hint="use str, int, float, bool, cog.Path, cog.File, cog.Secret, list[T], Optional[T], dict or Literal",
    )


def parse_output(tp: Any, where: str = "return type") -> OutputSpec:
    """Describe the return annotation, recognising iterators and ConcatenateIterator."""
    if tp is None or tp is type(None):
        return OutputSpec(TypeSpec("any", nullable=True))
    origin = typing.get_origin(tp) or tp
    args = typing.get_args(tp)
    if isinstance(origin, type) and issubclass(origin, (ConcatenateIterator, AsyncConcatenateIterator)):
        return OutputSpec(TypeSpec("str"), iterator=True, concatenate=True)
    if origin in _ITERATORS or (
        getattr(origin, "__module__", "") == "collections.abc" and origin.__name__ in _ABC_ITERATORS
    ):
        element = parse_type(args[0], f"{where} (iterator item)") if args else TypeSpec("any")
        return OutputSpec(element, iterator=True)
    return OutputSpec(parse_type(tp, where))


def json_schema(spec: TypeSpec) -> Dict[str, Any]:
    """The JSON Schema fragment for one type (literals inline as `enum`)."""
    kind = spec.kind
    if kind in JSON_TYPES:
        out: Dict[str, Any] = {"type": JSON_TYPES[kind]}
    elif kind in ("path", "file"):
        out = {"type": "string", "format": "uri"}
    elif kind == "secret":
        out = {"type": "string", "format": "password", "writeOnly": True, "x-cog-secret": True}
    elif kind == "literal":
        out = {"type": JSON_TYPES[spec.item.kind], "enum": list(spec.choices or [])}  # type: ignore[union-attr]
    elif kind == "list":
        out = {"type": "array", "items": json_schema(spec.item) if spec.item else {}}
    elif kind == "dict":
        out = {"type": "object"}
    elif kind == "object":
        out = _object_schema(spec.model)
    elif kind == "pydantic":
        out = _pydantic_schema(spec.model)
    else:
        out = {}
    if spec.nullable and out:
        out["nullable"] = True
    return out


def title_of(name: str) -> str:
    """pydantic's default title: `num_steps` → `Num Steps`."""
    return name.replace("_", " ").title()


def _object_schema(model: Any) -> Dict[str, Any]:
    hints = typing.get_type_hints(model)
    properties: Dict[str, Any] = {}
    required: List[str] = []
    for field in dataclasses.fields(model):
        prop = json_schema(parse_type(hints[field.name], f"{model.__name__}.{field.name}"))
        prop["title"] = title_of(field.name)
        properties[field.name] = prop
        if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            required.append(field.name)
    out: Dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    return out


def _pydantic_schema(model: Any) -> Dict[str, Any]:
    """The user's own pydantic model (v1 or v2), with its `$defs` inlined: OpenAPI has no `$defs`."""
    dump = getattr(model, "model_json_schema", None) or getattr(model, "schema", None)
    schema = dict(dump()) if dump else {"type": "object"}
    defs = {**schema.pop("$defs", {}), **schema.pop("definitions", {})}
    schema.pop("title", None)
    return _inline(schema, defs, 0)


def _inline(node: Any, defs: Dict[str, Any], depth: int) -> Any:
    if depth > 32:  # a self-referencing model: stop inlining rather than recurse forever
        return {"type": "object"}
    if isinstance(node, list):
        return [_inline(item, defs, depth) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.rsplit("/", 1)[-1] in defs:
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return {**_inline(defs[ref.rsplit("/", 1)[-1]], defs, depth + 1), **rest}
    return {key: _inline(value, defs, depth) for key, value in node.items()}


def _name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or repr(tp).replace("typing.", "")
