"""cogkit: package machine-learning models as production containers.

`import cogkit` is what user code does (`from cogkit import BasePredictor, Input, Path`), so this
module re-exports the SDK and must stay standard-library only. The CLI lives in `cogkit.cli`.

The SDK loads on first use (PEP 562), so that the CLI and the server, which import `cogkit`
for its subpackages, do not pay for it: the server starts its worker before anything heavy.
"""

from typing import Any

__version__ = "0.1.0"

__all__ = [
    "AsyncConcatenateIterator",
    "BaseModel",
    "BasePredictor",
    "BaseRunner",
    "CancelationException",
    "ConcatenateIterator",
    "ExperimentalFeatureWarning",
    "File",
    "Input",
    "Path",
    "Scope",
    "Secret",
    "URLPath",
    "__version__",
    "concurrent",
    "current_scope",
    "emit_metric",
    "record_metric",
    "streaming",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from cogkit import sdk

        return getattr(sdk, name)
    raise AttributeError(f"module 'cogkit' has no attribute {name!r}")
