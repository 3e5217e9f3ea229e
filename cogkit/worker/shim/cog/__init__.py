"""`cog`, as seen inside a cogkit worker: Cog's public names, served by cogkit's SDK.

This directory is linked into a private folder that the worker puts first on `sys.path`, so
`from cog import BasePredictor` resolves here even when the real `cog` package is installed.
"""

from cogkit.sdk import *  # noqa: F403
from cogkit.sdk import __all__ as __all__
from cogkit.sdk.input import FieldInfo as FieldInfo

__version__ = "0.16.0+cogkit"
