"""cogkit: package machine-learning models as production containers.

`import cogkit` is what user code does (`from cogkit import BasePredictor, Input, Path`), so this
module re-exports the SDK and must stay standard-library only. The CLI lives in `cogkit.cli`.
"""

from cogkit.sdk import *  # noqa: F403 - the SDK is this package's public surface
from cogkit.sdk import __all__ as _sdk_all

__version__ = "0.1.0"

__all__ = [*_sdk_all, "__version__"]
