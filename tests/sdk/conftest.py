"""Make `cog` resolve to cogkit's shim for the fixture predictors, as it does in the worker.

The folder goes on sys.path only while a test of this package runs, so other packages' tests
see the interpreter unchanged.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from cogkit.worker import sdk_path


@pytest.fixture(autouse=True)
def cog_shim_on_path() -> Iterator[None]:
    folder = str(sdk_path())
    sys.path.insert(0, folder)
    try:
        yield
    finally:
        sys.path.remove(folder)
        for name in [m for m in sys.modules if m == "cog" or m.startswith("cog.")]:
            del sys.modules[name]
