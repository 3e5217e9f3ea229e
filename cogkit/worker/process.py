"""One spawned child ("generation"): its process, its message socket and how it ended."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from typing import Any, List, Optional, Tuple

from cogkit.worker.events import utcnow

EXIT_POLL_S = 0.05
PIPE_CLOSE_S = 2.0
# The socket is read in chunks into a buffer of at most BUFFER_BYTES (past which asyncio stops
# reading, so the child's writes block: backpressure); a message, one line, may be up to
# MESSAGE_LIMIT_BYTES (a single output value may be large).
BUFFER_BYTES = 1 << 20
READ_CHUNK = 256 << 10
MESSAGE_LIMIT_BYTES = 1 << 30

_SIGNAL_NOTES = {
    signal.SIGKILL: "often the out-of-memory killer",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "abort",
    signal.SIGBUS: "bus error",
    signal.SIGFPE: "floating-point exception",
    signal.SIGILL: "illegal instruction",
    signal.SIGTERM: "terminated",
}


def describe_exit(returncode: Optional[int]) -> str:
    """`exited with code 3` / `was killed by signal SIGKILL (often the out-of-memory killer)`."""
    if returncode is None:
        return "stopped responding"
    if returncode >= 0:
        return f"exited with code {returncode}"
    try:
        sig = signal.Signals(-returncode)
    except ValueError:
        return f"was killed by signal {-returncode}"
    note = _SIGNAL_NOTES.get(sig)
    return f"was killed by signal {sig.name}" + (f" ({note})" if note else "")


class Generation:
    """The current child, its streams, its setup logs and result."""

    def __init__(self, proc: asyncio.subprocess.Process, reader: asyncio.StreamReader, writer: Any) -> None:
        self.proc = proc
        self.reader = reader
        self.writer = writer
        self.setup_logs: List[str] = []
        self.started_at = utcnow()
        self.setup_result: Optional[Any] = None
        self.timed_out: Optional[float] = None
        self.exited = False
        self.exiting = False  # it announced its exit, or its socket or process ended
        self._partial = bytearray()  # the start of a message not yet read in full
        self._send_lock = asyncio.Lock()

    @classmethod
    async def open(cls, proc: asyncio.subprocess.Process, sock: socket.socket) -> Generation:
        reader, writer = await asyncio.open_unix_connection(sock=sock, limit=BUFFER_BYTES)
        return cls(proc, reader, writer)

    @property
    def alive(self) -> bool:
        return not self.exited and self.proc.returncode is None

    def pipes(self) -> List[Tuple[asyncio.StreamReader, str]]:
        return [
            (s, n) for s, n in ((self.proc.stdout, "stdout"), (self.proc.stderr, "stderr")) if s is not None
        ]

    async def read_lines(self) -> List[bytes]:
        """The next whole messages from the child, each a line without its newline; [] at EOF.
        Several often come in one read (a final output and its done are written together).
        Raises ValueError past MESSAGE_LIMIT_BYTES."""
        while True:
            data = await self.reader.read(READ_CHUNK)
            if not data:
                return []
            lines = self._split(data)
            if lines:
                return lines

    def _split(self, data: bytes) -> List[bytes]:
        buffer = self._partial
        if not buffer and data.endswith(b"\n"):  # the usual case: whole messages only
            return data.split(b"\n")[:-1]
        scanned = len(buffer)  # no newline before this offset: a long message is not searched again
        buffer += data
        end = buffer.rfind(b"\n", scanned)
        if end < 0:
            if len(buffer) > MESSAGE_LIMIT_BYTES:
                raise ValueError(f"a worker message is larger than {MESSAGE_LIMIT_BYTES} bytes")
            return []
        whole = bytes(buffer[:end])
        del buffer[: end + 1]
        return whole.split(b"\n")

    async def send(self, data: bytes) -> None:
        async with self._send_lock:
            self.writer.write(data)
            await self.writer.drain()

    async def send_quietly(self, data: bytes) -> None:
        """`send`, for a message whose loss the child's exit handling covers anyway."""
        with contextlib.suppress(ConnectionError, OSError):
            await self.send(data)

    async def exit_code(self, timeout: Optional[float] = None) -> Optional[int]:
        """The child's exit status once it has exited (None on timeout).

        Polls the status that the child watcher records, rather than `proc.wait()`, which on some
        Python versions also waits for the stdout/stderr pipes: a forked helper that inherited them
        would make it wait for that helper too.
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self.proc.returncode is None:
            if deadline is not None and loop.time() >= deadline:
                return None
            await asyncio.sleep(EXIT_POLL_S)
        return self.proc.returncode

    async def wait_exit(self, grace: float) -> Optional[int]:
        """After the socket closed: wait for the exit, killing a child that lingers."""
        if await self.exit_code(grace) is None:
            self._kill_group()
            await self.exit_code()
        self.exited = True
        self._kill_group()  # helpers the predictor forked or spawned must not outlive it
        self.writer.close()
        with contextlib.suppress(asyncio.TimeoutError):  # now the pipes close: let asyncio tidy up
            await asyncio.wait_for(self.proc.wait(), PIPE_CLOSE_S)
        return self.proc.returncode

    async def stop(self, grace: float) -> None:
        """After a shutdown message: let the child finish for `grace` seconds, then end it."""
        if await self.exit_code(grace) is None:
            await self.terminate(min(grace, 2.0))

    async def terminate(self, grace: float) -> None:
        """Ask politely (SIGTERM) for `grace` seconds, then SIGKILL the child's process group."""
        if self.proc.returncode is not None:
            return
        if grace > 0:
            with contextlib.suppress(ProcessLookupError):
                self.proc.terminate()
            if await self.exit_code(grace) is not None:
                return
        self._kill_group()

    def _kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
