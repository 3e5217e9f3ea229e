"""Processes a test fixture starts die with the test run, however it ends.

Fixtures stop what they start on teardown, but a run killed from outside (a timeout, Ctrl-C
twice, SIGKILL) never reaches teardown. `popen` starts a child that Linux SIGKILLs when the
test run exits (PR_SET_PDEATHSIG), so no server, registry or redis is left holding a port.

Linux ties that signal to the *thread* that forked the child, not to the process: a registry
restarted from a short-lived test thread would be killed the moment that thread returned. So
every child is forked by one spawner thread that lives as long as the run.
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

PR_SET_PDEATHSIG = 1
_spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-spawner")


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def popen(
    args: Sequence[str], *, preexec_fn: Callable[[], None] | None = None, **kwargs: Any
) -> subprocess.Popen:
    """`subprocess.Popen`, with the child bound to the test run's lifetime.

    `preexec_fn`, if given, runs in the child after the binding (e.g. to lower its rlimits).
    """

    def bind_then(extra: Callable[[], None] | None = preexec_fn) -> None:
        _die_with_parent()
        if extra is not None:
            extra()

    return _spawner.submit(subprocess.Popen, args, preexec_fn=bind_then, **kwargs).result()
