"""cog.yaml: find it, read it into a frozen `Spec`, and say exactly where it is wrong.

spec = load_spec()          # walks up from the current directory
spec.build.python_version   # "3.12"
spec.predict                # "predict.py:Predictor" (also from the newer `run:` key)
"""

from __future__ import annotations

from cogkit.spec.load import CONFIG_NAME, find_config, load_spec
from cogkit.spec.models import Build, Concurrency, RunCommand, SecretMount, SourceLine, Spec
from cogkit.spec.pythons import DEFAULT as DEFAULT_PYTHON
from cogkit.spec.pythons import SUPPORTED as SUPPORTED_PYTHONS

__all__ = [
    "CONFIG_NAME",
    "DEFAULT_PYTHON",
    "SUPPORTED_PYTHONS",
    "Build",
    "Concurrency",
    "RunCommand",
    "SecretMount",
    "SourceLine",
    "Spec",
    "find_config",
    "load_spec",
]
