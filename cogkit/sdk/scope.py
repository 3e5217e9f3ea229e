"""The per-prediction scope: `current_scope()`, `record_metric()` and cancellation.

The worker sets the scope in a context variable around each prediction, so that concurrent
async predictions each see their own metrics and context.
"""

from __future__ import annotations

import contextvars
from typing import Any, Dict, Optional


class CancelationException(BaseException):
    """Raised inside a sync predictor when its prediction is canceled.

    A BaseException, so that a predictor's `except Exception` does not swallow it.
    """


class ExperimentalFeatureWarning(Warning):
    """Warns that a Cog feature is marked experimental upstream."""


class Scope:
    """What a running prediction can reach: its id, its request context and its metrics."""

    def __init__(self, prediction_id: Optional[str] = None, context: Any = None) -> None:
        self.prediction_id = prediction_id
        # The request's context as the client sent it (Cog's is a dict of strings); never interpreted.
        self.context: Any = (
            dict(context) if isinstance(context, dict) else ({} if context is None else context)
        )
        self.metrics: Dict[str, Any] = {}

    def record_metric(self, name: str, value: Any, mode: str = "replace") -> None:
        """Record a metric for this prediction; mode `incr` adds, `append` collects a list."""
        if not isinstance(name, str) or not name:
            raise ValueError("metric name must be a non-empty string")
        if mode == "incr":
            self.metrics[name] = self.metrics.get(name, 0) + value
        elif mode == "append":
            self.metrics.setdefault(name, []).append(value)
        elif mode == "replace":
            self.metrics[name] = value
        else:
            raise ValueError(f"unknown metric mode {mode!r}; use 'replace', 'incr' or 'append'")

    def __repr__(self) -> str:
        return f"Scope(prediction_id={self.prediction_id!r}, metrics={self.metrics!r})"


_scope: contextvars.ContextVar[Optional[Scope]] = contextvars.ContextVar("cogkit_scope", default=None)
_fallback = Scope()


def current_scope() -> Scope:
    """The scope of the running prediction (a detached one outside any prediction)."""
    scope = _scope.get()
    return scope if scope is not None else _fallback


def record_metric(name: str, value: Any, mode: str = "replace") -> None:
    """Shorthand for `current_scope().record_metric(...)`."""
    current_scope().record_metric(name, value, mode)


emit_metric = record_metric  # the name older Cog releases used


def enter_scope(scope: Scope) -> contextvars.Token:
    """Used by the worker: make `scope` current until `exit_scope(token)`."""
    return _scope.set(scope)


def exit_scope(token: contextvars.Token) -> None:
    _scope.reset(token)
