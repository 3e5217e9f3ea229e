"""`Input(...)`: the per-parameter options a predictor declares in its signature."""

from __future__ import annotations

import warnings
from typing import Any, List, Optional


class _Missing:
    """Sentinel for 'no default given' (None is a real default)."""

    _instance: Optional[_Missing] = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


class FieldInfo:
    """What `Input()` returns; the schema builder reads it from the parameter's default."""

    __slots__ = (
        "choices",
        "default",
        "deprecated",
        "description",
        "ge",
        "le",
        "max_length",
        "min_length",
        "regex",
    )

    def __init__(
        self,
        default: Any = MISSING,
        description: Optional[str] = None,
        ge: Optional[float] = None,
        le: Optional[float] = None,
        min_length: Optional[int] = None,
        max_length: Optional[int] = None,
        regex: Optional[str] = None,
        choices: Optional[List[Any]] = None,
        deprecated: Optional[bool] = None,
    ) -> None:
        self.default = default
        self.description = description
        self.ge = ge
        self.le = le
        self.min_length = min_length
        self.max_length = max_length
        self.regex = regex
        self.choices = list(choices) if choices is not None else None
        self.deprecated = deprecated

    def __repr__(self) -> str:
        shown = {k: getattr(self, k) for k in self.__slots__ if getattr(self, k) not in (None, MISSING)}
        return "Input(" + ", ".join(f"{k}={v!r}" for k, v in sorted(shown.items())) + ")"


def Input(
    default: Any = MISSING,
    description: Optional[str] = None,
    ge: Optional[float] = None,
    le: Optional[float] = None,
    min_length: Optional[int] = None,
    max_length: Optional[int] = None,
    regex: Optional[str] = None,
    choices: Optional[List[Any]] = None,
    deprecated: Optional[bool] = None,
    **unknown: Any,
) -> Any:
    """Declare a predictor parameter: `prompt: str = Input(description="...", default="hi")`.

    Typed `Any` so that `x: int = Input(...)` type-checks, as it does with Cog.
    """
    if "pattern" in unknown and regex is None:
        regex = unknown.pop("pattern")
    for name in ("title", "example", "examples"):
        unknown.pop(name, None)
    if unknown:
        warnings.warn(f"Input() ignores unknown options: {', '.join(sorted(unknown))}", stacklevel=2)
    return FieldInfo(
        default=default,
        description=description,
        ge=ge,
        le=le,
        min_length=min_length,
        max_length=max_length,
        regex=regex,
        choices=choices,
        deprecated=deprecated,
    )
