"""The model's output on the server's stderr as it happens, as Cog's server shows it.

Every line the model prints (setup, predictions, output no prediction owns) is copied there.
While predictions overlap, each line carries its prediction's id; setup and unattributed output
stay unprefixed. `COGKIT_ECHO_MODEL_OUTPUT=0` turns the copy off.
"""

from __future__ import annotations

import os
import sys
from typing import Optional, Set, TextIO

ECHO_ENV = "COGKIT_ECHO_MODEL_OUTPUT"
_OFF = {"0", "false", "no", "off"}


def echo_enabled() -> bool:
    return os.environ.get(ECHO_ENV, "1").strip().lower() not in _OFF


class ModelEcho:
    def __init__(self, enabled: Optional[bool] = None, stream: Optional[TextIO] = None) -> None:
        self.enabled = echo_enabled() if enabled is None else enabled
        self._stream = stream  # None: sys.stderr as it is at each write
        self._open: Set[Optional[str]] = set()  # sources whose last text did not end its line

    def write(self, source: Optional[str], text: str, *, prefixed: bool = False) -> None:
        if not self.enabled or not text:
            return
        if prefixed and source is not None:
            prefix = f"[{_printable(source)}] "
            lines = text.splitlines(keepends=True)
            mid_line = source in self._open
            text = "".join(line if i == 0 and mid_line else prefix + line for i, line in enumerate(lines))
        if text.endswith(("\n", "\r")):
            self._open.discard(source)
        else:
            self._open.add(source)
        self._emit(text)

    def end(self, source: Optional[str]) -> None:
        """`source` is done: end its last line, so that the next text starts on a line of its own."""
        if source in self._open:
            self._open.discard(source)
            self._emit("\n")

    def _emit(self, text: str) -> None:
        stream = self._stream or sys.stderr
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):  # stderr closed or gone: the model's output has nowhere to go
            pass


def _printable(prediction_id: str) -> str:
    """A prediction id comes from the client: no control characters reach the log through it."""
    return "".join(c if c.isprintable() else "?" for c in prediction_id[:80])
