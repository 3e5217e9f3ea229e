"""Capture everything the predictor writes, down to file descriptors 1 and 2.

fds 1 and 2 are redirected with `os.dup2` into pipes, so output from C extensions and
subprocesses is captured as well as `print`. A pump thread per pipe forwards the text as `Log`
messages. Attribution: fd-level output belongs to the single running prediction, or to setup
(id None) when none runs. With several concurrent (async) predictions, fd-level output cannot
be attributed, so it is sent with id None; Python-level writes (`print`, `sys.stderr.write`) are
attributed exactly, through the prediction's context variable.

`drain()` makes every byte written before a prediction finished reach the channel before its
`done` message. Most predictions print nothing, so it first checks, under the pumps' lock, that
both pipes are empty (FIONREAD) and no pump holds bytes it has read but not yet sent; only
otherwise does it write a unique marker into each pipe and wait until the pump has seen it.
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import io
import os
import select
import struct
import sys
import threading
import uuid
from typing import Any, Callable, Dict, List, Optional, TextIO

from cogkit.worker.channel import Channel
from cogkit.worker.protocol import Log

try:
    import fcntl
    import termios

    _FIONREAD: Optional[int] = termios.FIONREAD
except (ImportError, AttributeError):  # not POSIX: always drain with markers
    _FIONREAD = None

MARK = "\x00cogkit-drain-"


class OutputCapture:
    def __init__(self, channel: Channel, attribute: Callable[[], Optional[str]]) -> None:
        self._channel = channel
        self._attribute = attribute
        self._waiting: Dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._read_ends: List[int] = []
        self._in_flight = 0  # pumps between taking bytes out of a pipe and queuing their log message
        self.original_stderr: Optional[TextIO] = None

    def start(self) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        # Keep a copy of the real stderr for crash dumps (faulthandler) that must outlive the pumps.
        self.original_stderr = io.TextIOWrapper(io.FileIO(os.dup(2), "w"), write_through=True)
        for fd, name in ((1, "stdout"), (2, "stderr")):
            read_end, write_end = os.pipe()
            os.dup2(write_end, fd)
            os.close(write_end)
            self._read_ends.append(read_end)
            threading.Thread(
                target=self._pump, args=(read_end, name), name=f"cogkit-{name}", daemon=True
            ).start()
        for stream in (sys.stdout, sys.stderr):
            # Whole lines make better log events than the per-write chunks PYTHONUNBUFFERED gives.
            reconfigure = getattr(stream, "reconfigure", None)
            if reconfigure is not None:
                reconfigure(line_buffering=True, write_through=False)

    def route_python_streams(self, prediction_id: Callable[[], Optional[str]]) -> None:
        """Send Python-level writes straight to the prediction in whose context they happen."""
        sys.stdout = _RoutedStream(sys.stdout, "stdout", self._channel, prediction_id)
        sys.stderr = _RoutedStream(sys.stderr, "stderr", self._channel, prediction_id)

    def settled(self) -> bool:
        """Flush Python and C buffers; True when everything written to fds 1 and 2 so far has
        already been forwarded, so a drain would have nothing to wait for."""
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        _flush_c_stdio()
        return self._settled()

    def drain(self, timeout: float = 5.0) -> None:
        """Return once everything written to fds 1 and 2 so far has been forwarded."""
        if self.settled():
            return
        events = []
        for fd in (1, 2):
            token = uuid.uuid4().hex
            event = threading.Event()
            with self._lock:
                self._waiting[token] = event
            events.append((token, event))
            os.write(fd, (MARK + token + "\x00").encode())
        for token, event in events:
            event.wait(timeout)
            with self._lock:
                self._waiting.pop(token, None)

    def _settled(self) -> bool:
        """True when nothing written so far can still be on its way: both pipes are empty and no
        pump holds read bytes. Checked under the lock a pump takes before it reads, so no byte can
        leave a pipe unseen between the two checks."""
        if _FIONREAD is None or not self._read_ends:
            return False
        with self._lock:
            if self._in_flight:
                return False
            try:
                return all(_pending_bytes(fd) == 0 for fd in self._read_ends)
            except OSError:
                return False

    def _pump(self, fd: int, stream: str) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        held = ""
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while True:
            try:
                poller.poll()  # wait for bytes without taking them out of the pipe yet
                with self._lock:
                    self._in_flight += 1
                try:
                    data = os.read(fd, 65536)
                    if data:
                        held = self._forward(stream, held + decoder.decode(data))
                finally:
                    with self._lock:
                        self._in_flight -= 1
            except OSError:
                return
            if not data:
                return

    def _forward(self, stream: str, text: str) -> str:
        """Emit the text around drain markers; return a marker cut in half by the read, to hold."""
        while MARK in text:
            start = text.index(MARK)
            end = text.find("\x00", start + len(MARK))
            if end < 0:
                break
            self._emit(stream, text[:start])
            self._release(text[start + len(MARK) : end])
            text = text[end + 1 :]
        held = ""
        cut = text.find("\x00")
        if cut >= 0 and MARK.startswith(text[cut : cut + len(MARK)]):
            text, held = text[:cut], text[cut:]
        self._emit(stream, text)
        return held

    def _emit(self, stream: str, text: str) -> None:
        if text:
            self._channel.send(Log(self._attribute(), stream, text))

    def _release(self, token: str) -> None:
        with self._lock:
            event = self._waiting.get(token)
        if event is not None:
            event.set()


class _RoutedStream(io.TextIOBase):
    """sys.stdout/sys.stderr for concurrent predictors: writes go to the prediction in context."""

    def __init__(
        self, inner: TextIO, name: str, channel: Channel, prediction_id: Callable[[], Optional[str]]
    ):
        self._inner = inner
        self._name = name
        self._channel = channel
        self._prediction_id = prediction_id

    def write(self, text: str) -> int:
        pid = self._prediction_id()
        if pid is None:
            return self._inner.write(text)
        if text:
            self._channel.send(Log(pid, self._name, text))
        return len(text)

    def flush(self) -> None:
        self._inner.flush()

    def fileno(self) -> int:
        return self._inner.fileno()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._inner.encoding

    @property
    def buffer(self) -> Any:
        """Binary writes (`sys.stdout.buffer.write`) go to the fd, like C-level output."""
        return self._inner.buffer

    def __getattr__(self, name: str) -> Any:  # anything else a library expects of a real stream
        return getattr(self._inner, name)


_libc: Optional[ctypes.CDLL] = None


def _pending_bytes(fd: int) -> int:
    """How many bytes wait unread in the pipe `fd`."""
    return struct.unpack("i", fcntl.ioctl(fd, _FIONREAD, b"\0\0\0\0"))[0]  # type: ignore[arg-type]


def _flush_c_stdio() -> None:
    """fflush(NULL): push out C-level printf buffers before the drain marker."""
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(None)
        _libc.fflush(None)
    except (OSError, AttributeError):
        pass
