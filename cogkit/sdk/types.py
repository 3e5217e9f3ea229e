"""The value types user code puts in signatures: `Path`, `File`, `Secret`, the iterators, `BaseModel`.

Standard library only, Python 3.8+: this module is imported inside the user's interpreter.
"""

from __future__ import annotations

import dataclasses
import io
import pathlib
import typing
from typing import Any, Dict, TypeVar

Item = TypeVar("Item")


class Path(pathlib.PosixPath):
    """A local file. As an input it arrives downloaded; as an output the server uploads or inlines it.

    Subclasses `PosixPath` (not `Path`) because `pathlib.Path` cannot be subclassed before 3.12.
    """


class File(io.IOBase):
    """Cog's older file input: the predictor receives an open binary file object.

    Only used as a marker in annotations; the worker hands over a real open file.
    """


class Secret:
    """A string whose value must not leak into logs, reprs or responses."""

    __slots__ = ("_secret_value",)

    def __init__(self, value: str | None = None) -> None:
        self._secret_value = value

    def get_secret_value(self) -> str | None:
        return self._secret_value

    def __repr__(self) -> str:
        return "Secret('**********')" if self._secret_value else "Secret('')"

    def __str__(self) -> str:
        return "**********" if self._secret_value else ""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._secret_value == self._secret_value

    def __hash__(self) -> int:
        return hash(self._secret_value)


class ConcatenateIterator(typing.Iterator[Item]):
    """Marks an output iterator of text tokens that clients should join (`x-cog-array-display`)."""

    def __next__(self) -> Item:  # pragma: no cover - only used as an annotation
        raise StopIteration


class AsyncConcatenateIterator(typing.AsyncIterator[Item]):
    """The async form of `ConcatenateIterator`, for `async def predict` generators."""

    async def __anext__(self) -> Item:  # pragma: no cover - only used as an annotation
        raise StopAsyncIteration


class BaseModel:
    """A structured output, written like Cog's pydantic model: `class Output(BaseModel): x: str`.

    Each subclass becomes a dataclass, so the SDK needs no pydantic; `model_dump()` gives its dict.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclasses.dataclass(cls)

    def model_dump(self) -> Dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def dict(self) -> Dict[str, Any]:
        """The pydantic v1 spelling, which older Cog code calls."""
        return self.model_dump()


class URLPath(Path):
    """Reserved for inputs that stay remote; kept so `from cog.types import URLPath` resolves."""
