"""cogkit: package machine-learning models as production containers.

`import cogkit` is what user code does (`from cogkit import BasePredictor, Input, Path`), so this
module re-exports the SDK and must stay standard-library only. The CLI lives in `cogkit.cli`.
"""

__version__ = "0.1.0"
