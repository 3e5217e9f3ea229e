"""Ports for servers we start: a free one, or a check that the one asked for can be had."""

from __future__ import annotations

import errno
import socket

from cogkit.errors import UsageError


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago; the OS picks it, so parallel runs do not collide."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def ensure_free(host: str, port: int) -> None:
    """Raise a one-line UsageError naming the port unless a server could listen on `host:port` now.

    Checked before a build or a setup runs, so a busy port costs nothing. SO_REUSEADDR, as uvicorn
    sets it, so a port that only has connections closing (TIME_WAIT) counts as free.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise _explain(exc, host, port) from None


def _explain(exc: OSError, host: str, port: int) -> UsageError:
    if exc.errno == errno.EADDRINUSE:
        return UsageError(
            f"port {port} is already in use on {host}",
            hint=f"pick another with -p (e.g. -p {free_port('127.0.0.1')}), "
            f"or stop what listens there (`ss -ltnp 'sport = :{port}'` shows it)",
        )
    if exc.errno == errno.EACCES:
        return UsageError(f"port {port} on {host} needs root", hint="pick a port above 1023 with -p")
    if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
        return UsageError(
            f"cannot listen on {host}: not an address of this machine",
            hint="use --host 127.0.0.1 (this machine only) or --host 0.0.0.0 (every interface)",
        )
    return UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
