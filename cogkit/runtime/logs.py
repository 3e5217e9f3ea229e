"""A server's output, line by line: handed to a callback as it comes, its tail kept for error messages.

Both backends read the server's combined stdout and stderr (a pipe locally, the attach stream of a
container) on a daemon thread, so the model's prints reach the terminal while setup or a
prediction runs, and the last lines survive a server that dies (a removed container included).
"""

from __future__ import annotations

import collections
import re
import threading
from collections.abc import Callable, Iterable

KEEP_LINES = 200

# The server's own bookkeeping (uvicorn's "Started server process", "setup … succeeded"): lines
# at INFO or DEBUG in the server's log format, whose level is padded with spaces. A model's own
# `logging` output ("INFO:root:…") and its prints do not match.
_SERVER_LOG = re.compile(r"^(?:DEBUG|INFO):\s{2,}")


def is_server_bookkeeping(line: str) -> bool:
    return bool(_SERVER_LOG.match(line))


class LinePump:
    """Splits byte chunks into lines, calls `on_line` with each, and keeps the last `KEEP_LINES`."""

    def __init__(self, on_line: Callable[[str], None] | None = None) -> None:
        self._on_line = on_line
        self._tail: collections.deque[str] = collections.deque(maxlen=KEEP_LINES)
        self._partial = b""
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def follow(self, chunks: Iterable[bytes]) -> None:
        """Read `chunks` on a daemon thread until they end (the server closed its output)."""
        self._thread = threading.Thread(target=self._drain, args=(chunks,), daemon=True, name="cogkit-logs")
        self._thread.start()

    def wait(self, timeout: float) -> None:
        """Let the reader catch up with output already written (bounded)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def tail(self, lines: int = 40) -> str:
        with self._lock:
            kept = list(self._tail)
        return "\n".join(kept[-lines:])

    def _drain(self, chunks: Iterable[bytes]) -> None:
        try:
            for chunk in chunks:
                self._feed(chunk)
        except (OSError, ValueError):  # the pipe or socket was closed under us: the output ends
            pass
        if self._partial:
            self._emit(self._partial)

    def _feed(self, chunk: bytes) -> None:
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        for line in lines:
            self._emit(line)

    def _emit(self, raw: bytes) -> None:
        line = raw.decode(errors="replace").rstrip("\r")
        with self._lock:
            self._tail.append(line)
        if self._on_line is not None:
            self._on_line(line)
