"""The predictor base classes and the decorators Cog code applies to them."""

from __future__ import annotations

from typing import Any, Callable, Optional, TypeVar

T = TypeVar("T")

CONCURRENCY_ATTR = "__cogkit_concurrency__"
STREAMING_ATTR = "__cogkit_streaming__"


class BasePredictor:
    """Subclass and implement `predict()`; `setup()` runs once before the first prediction.

    `setup(self, weights)` may take the weights location (from `COG_WEIGHTS` or ./weights).
    """

    def setup(self, weights: Optional[Any] = None) -> None:
        """Load the model once; the default does nothing."""

    def predict(self, **kwargs: Any) -> Any:
        raise NotImplementedError("predict() is not implemented")


class BaseRunner:
    """The newer Cog shape: implement `run()` instead of `predict()`."""

    def setup(self, weights: Optional[Any] = None) -> None:
        """Load the model once; the default does nothing."""

    def run(self, **kwargs: Any) -> Any:
        raise NotImplementedError("run() is not implemented")


def concurrent(max: int = 1) -> Callable[[T], T]:
    """`@concurrent(max=N)` on an async predictor class or its predict method: allow N at once."""
    if not isinstance(max, int) or isinstance(max, bool) or max < 1:
        raise ValueError(f"concurrent(max=...) needs a positive integer, got {max!r}")

    def mark(obj: T) -> T:
        setattr(obj, CONCURRENCY_ATTR, max)
        return obj

    return mark


def streaming(obj: T) -> T:
    """`@streaming`: mark a predictor whose output should be streamed; accepted for Cog parity."""
    setattr(obj, STREAMING_ATTR, True)
    return obj


def declared_concurrency(*objs: Any) -> Optional[int]:
    """The first `@concurrent(max=N)` found on the given objects, if any."""
    for obj in objs:
        value = getattr(obj, CONCURRENCY_ATTR, None)
        if value is not None:
            return int(value)
    return None
