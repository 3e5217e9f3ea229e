"""Load a predictor reference (`predict.py:Predictor`) and describe its shape.

Supported shapes: a `BasePredictor` subclass, a `BaseRunner` subclass (`run()`), any plain class
with `predict()` (or `train()` in train mode), and a plain function. Each may be sync or async.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
import typing
from typing import Any, Callable, List, Optional, Union

from cogkit.errors import PredictorError
from cogkit.mode import Mode
from cogkit.sdk.input import MISSING, FieldInfo
from cogkit.sdk.predictor import declared_concurrency
from cogkit.sdk.typespec import OutputSpec, TypeSpec, parse_output, parse_type


class Field:
    """One input parameter: its name, position, type and `Input()` options."""

    __slots__ = ("info", "name", "order", "spec")

    def __init__(self, name: str, order: int, spec: TypeSpec, info: FieldInfo) -> None:
        self.name = name
        self.order = order
        self.spec = spec
        self.info = info


class PredictorShape:
    """Everything known about a predictor before it is instantiated."""

    def __init__(self, ref: str, target: Any, method: str, mode: Mode) -> None:
        self.ref = ref
        self.target = target
        self.is_class = inspect.isclass(target)
        self.method = method
        self.mode = mode
        func = getattr(target, method) if self.is_class else target
        self.function: Callable[..., Any] = func
        self.is_async = inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func)
        self.fields = _fields(ref, func, skip_self=self.is_class)
        self.output: OutputSpec = _output(ref, func)
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            self.output.iterator = True
        declared = declared_concurrency(func, target)
        if declared is not None and declared > 1 and not self.is_async:
            raise PredictorError(
                f"{ref}: @concurrent(max={declared}) needs an async {method}()",
                hint=f"declare it as `async def {method}(...)`, or drop @concurrent",
            )
        self.max_concurrency = declared or 1

    @property
    def has_healthcheck(self) -> bool:
        return self.is_class and callable(getattr(self.target, "healthcheck", None))


# The methods a class may serve each mode with, in order of preference.
_METHODS = {Mode.PREDICT: ["predict", "run"], Mode.TRAIN: ["train"]}


def load_shape(ref: str, *, cwd: str, mode: Union[Mode, str] = Mode.PREDICT) -> PredictorShape:
    """Import the module named by `ref` (relative to `cwd`) and describe the predictor in it."""
    try:
        mode = Mode(mode)
    except ValueError:
        raise PredictorError(f"unknown mode {mode!r}; use 'predict' or 'train'") from None
    target = load_object(ref, cwd=cwd)
    if inspect.isclass(target):
        candidates = _METHODS[mode]
        for method in candidates:
            if callable(getattr(target, method, None)) and not _is_abstract_default(target, method):
                return PredictorShape(ref, target, method, mode)
        raise PredictorError(
            f"{ref}: class {target.__name__} has no {' or '.join(m + '()' for m in candidates)} method",
            hint=f"define `def {candidates[0]}(self, ...)` on the class",
        )
    if callable(target):
        return PredictorShape(ref, target, getattr(target, "__name__", mode.value), mode)
    raise PredictorError(f"{ref}: {type(target).__name__} object is not a class or a function")


def load_object(ref: str, *, cwd: str) -> Any:
    """`file.py:Name` or `package.module:Name` → the object, with the module importable by name."""
    module_part, sep, name = ref.rpartition(":")
    if not sep or not module_part or not name:
        raise PredictorError(
            f"predictor reference {ref!r} must look like 'predict.py:Predictor'",
            hint="set `predict:` in cog.yaml to '<file>.py:<ClassOrFunction>'",
        )
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    if module_part.endswith(".py") or os.sep in module_part:
        path = os.path.join(cwd, module_part)
        if not os.path.isfile(path):
            raise PredictorError(
                f"{ref}: file {module_part} not found in {cwd}",
                hint="check the `predict:` path in cog.yaml; it is relative to the project directory",
            )
        mod_name = os.path.splitext(os.path.basename(module_part))[0]
        loaded = sys.modules.get(mod_name)
        if loaded is not None and os.path.abspath(getattr(loaded, "__file__", "") or "") != os.path.abspath(
            path
        ):
            # e.g. a user's `types.py` or `queue.py`: never replace a module that is already in use.
            mod_name = f"__cog_predictor_{mod_name}__"
        spec = importlib.util.spec_from_file_location(mod_name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(module_part)
    try:
        return getattr(module, name)
    except AttributeError:
        public = sorted(n for n in vars(module) if not n.startswith("_"))
        raise PredictorError(
            f"{ref}: {module_part} defines no {name!r}",
            hint="names it defines: " + ", ".join(public[:20]),
        ) from None


def _is_abstract_default(cls: type, method: str) -> bool:
    """True when `method` is only the base class's NotImplementedError placeholder."""
    from cogkit.sdk.predictor import BasePredictor, BaseRunner

    owner = next((c for c in cls.__mro__ if method in vars(c)), None)
    return owner in (BasePredictor, BaseRunner)


def _hints(ref: str, func: Any) -> dict:
    try:
        return typing.get_type_hints(func)
    except Exception as e:  # user annotations may name anything; report which and why
        raise PredictorError(
            f"{ref}: cannot resolve the type annotations of {getattr(func, '__name__', func)}(): {e}",
            hint="annotations must name importable types (on Python < 3.9 use typing.List, not list[...])",
        ) from e


def _fields(ref: str, func: Any, *, skip_self: bool) -> List[Field]:
    hints = _hints(ref, func)
    params = list(inspect.signature(func).parameters.values())
    if skip_self and params:
        params = params[1:]
    fields: List[Field] = []
    for order, param in enumerate(params):
        where = f"{ref}: parameter '{param.name}'"
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise PredictorError(
                f"{where}: *args and **kwargs cannot be served",
                hint="list each input as a named, annotated parameter",
            )
        if param.name not in hints:
            raise PredictorError(f"{where} has no type annotation", hint=f"write e.g. `{param.name}: str`")
        default = param.default
        info = default if isinstance(default, FieldInfo) else FieldInfo(default=_plain_default(default))
        spec = parse_type(hints[param.name], where)
        if spec.kind in ("object", "pydantic") or (
            spec.item is not None and spec.item.kind in ("object", "pydantic")
        ):
            raise PredictorError(
                f"{where}: a model class cannot be an input type",
                hint="take its fields as separate parameters, or a dict",
            )
        if info.default is None:  # Cog treats `x: str = Input(default=None)` as optional
            spec.nullable = True
        fields.append(Field(param.name, order, spec, info))
    return fields


def _plain_default(default: Any) -> Any:
    return MISSING if default is inspect.Parameter.empty else default


def _output(ref: str, func: Any) -> OutputSpec:
    hints = _hints(ref, func)
    if "return" not in hints:
        return OutputSpec(TypeSpec("any"))
    return parse_output(hints["return"], f"{ref}: return type")


def setup_takes_weights(setup: Optional[Callable[..., Any]]) -> bool:
    """Whether `setup` accepts a weights argument (Cog's `setup(self, weights)`)."""
    if setup is None:
        return False
    try:
        params = inspect.signature(setup).parameters
    except (TypeError, ValueError):
        return False
    return len(params) >= 1
