"""The prediction server: Cog's HTTP API over a worker process that runs user code.

Nothing is imported eagerly, so `python -m cogkit.server` can spawn the worker before the
heavy imports, and importing one submodule does not pull in the rest. `serve()` is the
library entry behind `cogkit serve --runtime local`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cogkit.server.config import ServerConfig, resolve_config
    from cogkit.server.launch import run, serve

__all__ = ["ServerConfig", "resolve_config", "run", "serve"]

_HOMES = {"ServerConfig": "config", "resolve_config": "config", "run": "launch", "serve": "launch"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f"cogkit.server.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'cogkit.server' has no attribute {name!r}")
