"""Processes a test fixture starts die with the test run, however it ends.

Fixtures stop what they start on teardown, but a run killed from outside (a timeout, Ctrl-C
twice, SIGKILL) never reaches teardown. `die_with_parent` is a `preexec_fn` that asks Linux to
SIGKILL the child when the process that started it exits, so no server, registry or redis is
left holding a port. (Tests of cogkit's own parent-death handling start their processes without
it, on purpose.)
"""

from __future__ import annotations

import ctypes
import signal

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
