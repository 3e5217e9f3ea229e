"""Check and coerce a JSON request input against the OpenAPI `Input` component.

Errors have the shape FastAPI/pydantic give (`loc`, `msg`, `type`), so a 422 from cogkit reads
like one from Cog. Standard library only: the CLI also calls this before anything is built.

Types are as strict as coglet's, which validates against the schema with JSON Schema: a JSON
string is never an integer, a number or a boolean ("5", "true" → 422), and a number is never a
boolean. As JSON Schema defines them, an integer is a number (3 → 3.0) and a float without a
fraction is an integer (5.0 → 5). The CLI turns `-i n=5` into typed JSON before it gets here.
"""

from __future__ import annotations

import copy
import math
import re
from typing import Any, Dict, List, Optional, Tuple

_TYPE_WORDS = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean"}


class _Invalid(Exception):
    def __init__(self, msg: str, kind: str, loc: Tuple[Any, ...] = ()) -> None:
        super().__init__(msg)
        self.msg = msg
        self.kind = kind
        self.loc = loc


def validate_input(
    openapi: Dict[str, Any], payload: Any, *, component: str = "Input"
) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
    """Return `(coerced, errors)`; `coerced` has defaults applied and unknown keys dropped."""
    schemas = openapi.get("components", {}).get("schemas", {})
    schema = schemas.get(component) or {}
    base = ["body", "input"]
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        return {}, [_error(base, "Input should be a valid dictionary", "dict_type")]
    properties: Dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    coerced: Dict[str, Any] = {}
    errors: List[Dict[str, Any]] = []
    for name, raw_prop in properties.items():
        prop = _resolve(raw_prop, schemas)
        if name not in payload:
            if name in required:
                errors.append(_error([*base, name], "Field required", "missing"))
            elif "default" in prop:
                coerced[name] = copy.deepcopy(prop["default"])
            elif prop.get("nullable"):
                coerced[name] = None
            continue
        try:
            coerced[name] = _coerce(payload[name], prop, schemas)
        except _Invalid as e:
            errors.append(_error([*base, name, *e.loc], e.msg, e.kind))
    return coerced, errors


def _error(loc: List[Any], msg: str, kind: str) -> Dict[str, Any]:
    return {"loc": loc, "msg": msg, "type": kind}


def _resolve(prop: Dict[str, Any], schemas: Dict[str, Any]) -> Dict[str, Any]:
    """Inline `$ref` and `allOf: [{$ref}]` (Cog's enum form) into one flat schema."""
    out = {k: v for k, v in prop.items() if k not in ("allOf", "$ref")}
    refs = list(prop.get("allOf", []))
    if "$ref" in prop:
        refs.append({"$ref": prop["$ref"]})
    for part in refs:
        target = part.get("$ref", "")
        resolved = schemas.get(target.rsplit("/", 1)[-1], {}) if target else part
        for key, value in _resolve(resolved, schemas).items():
            out.setdefault(key, value)
    return out


def _coerce(value: Any, prop: Dict[str, Any], schemas: Dict[str, Any]) -> Any:
    kind = prop.get("type")
    if value is None:
        if prop.get("nullable") or kind is None:
            return None
        raise _Invalid(f"Input should be a valid {_TYPE_WORDS.get(kind, kind)}", f"{_short(kind)}_type")
    if kind == "string":
        value = _string(value, prop)
    elif kind == "integer":
        value = _integer(value)
    elif kind == "number":
        value = _number(value)
    elif kind == "boolean":
        value = _boolean(value)
    elif kind == "array":
        value = _array(value, prop, schemas)
    elif kind == "object" and not isinstance(value, dict):
        raise _Invalid("Input should be a valid dictionary", "dict_type")
    if kind in ("integer", "number"):
        _bounds(value, prop)
    if "enum" in prop and value not in prop["enum"]:
        shown = [repr(c) for c in prop["enum"]]
        expected = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]
        raise _Invalid(f"Input should be {expected}", "enum")
    return value


def _short(kind: Optional[str]) -> str:
    return {"string": "string", "integer": "int", "number": "float", "boolean": "bool"}.get(
        kind or "", kind or ""
    )


def _string(value: Any, prop: Dict[str, Any]) -> str:
    if not isinstance(value, str):
        raise _Invalid("Input should be a valid string", "string_type")
    if "minLength" in prop and len(value) < prop["minLength"]:
        n = prop["minLength"]
        raise _Invalid(
            f"String should have at least {n} character{'s' if n != 1 else ''}", "string_too_short"
        )
    if "maxLength" in prop and len(value) > prop["maxLength"]:
        n = prop["maxLength"]
        raise _Invalid(f"String should have at most {n} character{'s' if n != 1 else ''}", "string_too_long")
    if "pattern" in prop and re.search(prop["pattern"], value) is None:
        raise _Invalid(f"String should match pattern '{prop['pattern']}'", "string_pattern_mismatch")
    return value


def _integer(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value):
            return int(value)
        raise _Invalid(
            "Input should be a valid integer, got a number with a fractional part", "int_from_float"
        )
    raise _Invalid("Input should be a valid integer", "int_type")


def _number(value: Any) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise _Invalid("Input should be a valid number", "float_type")
    try:
        result = float(value)
    except OverflowError:  # an integer beyond a float's range
        result = math.inf
    if not math.isfinite(result):
        raise _Invalid("Input should be a finite number", "finite_number")
    return result


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise _Invalid("Input should be a valid boolean", "bool_type")


def _array(value: Any, prop: Dict[str, Any], schemas: Dict[str, Any]) -> List[Any]:
    if not isinstance(value, list):
        raise _Invalid("Input should be a valid list", "list_type")
    items = _resolve(prop.get("items", {}), schemas)
    out = []
    for index, item in enumerate(value):
        try:
            out.append(_coerce(item, items, schemas))
        except _Invalid as e:
            raise _Invalid(e.msg, e.kind, (index, *e.loc)) from None
    return out


def _bounds(value: float, prop: Dict[str, Any]) -> None:
    if "minimum" in prop and value < prop["minimum"]:
        raise _Invalid(f"Input should be greater than or equal to {prop['minimum']}", "greater_than_equal")
    if "maximum" in prop and value > prop["maximum"]:
        raise _Invalid(f"Input should be less than or equal to {prop['maximum']}", "less_than_equal")
