"""Big buffers go back to the system as soon as they are freed.

glibc serves an allocation above its mmap threshold with its own mapping, which `free` unmaps;
but it raises that threshold after each such free (up to 32 MiB), after which multi-megabyte
bodies come from the heap arenas (one per thread) and stay there once freed: after a burst of
5 MiB files, the server stayed ~35 MiB above idle for good. Fixing the threshold at 1 MiB keeps
every big body in a mapping of its own (a few ms of page faults per 5 MiB request, measured in
bench/README.md) and leaves small objects to the arenas. Elsewhere (musl, macOS) it does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3  # mallopt's parameter number in glibc's malloc.h
MMAP_THRESHOLD = 1 << 20


def unmap_big_buffers() -> bool:
    """Fix glibc's mmap threshold (once, at start-up); False where there is no glibc."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    return False
