"""Errors in user code as a user wants to read them: the useful line first, then their frames.

Python's own traceback starts with cogkit's frames (the worker, the loader, importlib's
bootstrap) and ends with the message. Here the message comes first, and the frames shown are
the user's and the libraries they called, never cogkit's. Standard library only.
"""

from __future__ import annotations

import os
import sysconfig
import traceback
from types import TracebackType
from typing import List, Optional

_COGKIT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# cogkit itself, and the `cog` shim beside it in the worker's SDK folder
_INTERNAL = (_COGKIT + os.sep, os.path.join(os.path.dirname(_COGKIT), "cog") + os.sep)
_STDLIB = os.path.abspath(sysconfig.get_paths()["stdlib"])


def describe(exc: BaseException) -> str:
    """`ValueError: bad input`, or the bare class name when the message is empty."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def format_user_error(exc: BaseException, what: str) -> str:
    """`what ValueError: ...`, then the user's frames and, for a SyntaxError, the line and caret.

    Causes (`raise ... from e`, or an error while handling another) follow, each the same way.
    """
    parts: List[str] = []
    seen = set()
    current: Optional[BaseException] = exc
    heading = what
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.append(f"{heading} {describe(current)}\n")
        parts += _frames(current)
        if current.__cause__ is not None:
            current, heading = current.__cause__, "caused by:"
        elif current.__context__ is not None and not current.__suppress_context__:
            current, heading = current.__context__, "while handling:"
        else:
            current = None
    return "".join(parts)


def _frames(exc: BaseException) -> List[str]:
    frames = user_frames(exc.__traceback__)
    lines = ["Traceback (most recent call last, your code only):\n", *traceback.format_list(frames)]
    lines = lines if frames else []
    if isinstance(exc, SyntaxError):  # where the parser stopped: file, line and caret
        lines += traceback.format_exception_only(type(exc), exc)[:-1]
    return lines


def user_frames(tb: Optional[TracebackType]) -> List[traceback.FrameSummary]:
    """The frames of `tb` outside cogkit and importlib's bootstrap, minus the standard library
    frames that lead into user code (asyncio.run around an async setup)."""
    frames = [f for f in traceback.extract_tb(tb) if not _internal(f.filename)]
    while frames and _in_stdlib(frames[0].filename):
        frames.pop(0)
    return frames


def _internal(filename: str) -> bool:
    return filename.startswith("<frozen ") or os.path.abspath(filename).startswith(_INTERNAL)


def _in_stdlib(filename: str) -> bool:
    path = os.path.abspath(filename)
    return path.startswith(_STDLIB + os.sep) and "site-packages" not in path
