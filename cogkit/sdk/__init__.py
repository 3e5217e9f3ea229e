"""What predictor code imports: `from cogkit.sdk import BasePredictor, Input, Path` (or from `cog`).

Standard library only, and importable on Python 3.8+, because it runs in the user's interpreter.
"""

from cogkit.sdk.input import Input
from cogkit.sdk.predictor import BasePredictor, BaseRunner, concurrent, streaming
from cogkit.sdk.scope import (
    CancelationException,
    ExperimentalFeatureWarning,
    Scope,
    current_scope,
    emit_metric,
    record_metric,
)
from cogkit.sdk.types import (
    AsyncConcatenateIterator,
    BaseModel,
    ConcatenateIterator,
    File,
    Path,
    Secret,
    URLPath,
)

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
    "concurrent",
    "current_scope",
    "emit_metric",
    "record_metric",
    "streaming",
]
