"""One spawned child ("generation"): its process, its message socket and how it ended."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import socket
from typing import Any, Callable, List, Optional, Tuple

from cogkit.worker.events import utcnow

EXIT_POLL_S = 0.05
PIPE_CLOSE_S = 2.0
# A message, one line, may be up to MESSAGE_LIMIT_BYTES (a single output value may be large).
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


class MessageStream(asyncio.Protocol):
    """The child's message socket as the event loop reads it: each whole message (a line) goes
    to `on_line` from the loop's read callback, with no stream buffer and no reading task in
    between (one loop turn less per message).

    `on_line` returns False to stop reading (a prediction's consumer is too far behind): the
    lines of the same read still to be handled wait, the transport stops reading, and the
    socket's buffer carries the pressure back to the child, until `resume()`. A stream that has
    ended is read to its end whatever `on_line` says.
    """

    def __init__(self, on_line: Callable[[bytes], bool]) -> None:
        self._on_line = on_line
        self.transport: Optional[asyncio.Transport] = None
        self.paused = False
        self.ended = False
        self.error: Optional[BaseException] = None  # why it ended, if not at EOF
        self._partial = bytearray()  # the start of a message not yet read in full
        self._backlog: List[bytes] = []
        self._stopped: Optional[asyncio.Future] = None  # waits for `paused` or `ended`
        self._writable: Optional[asyncio.Future] = None  # set while the transport's buffer is full

    async def stopped(self) -> None:
        """Wait until reading pauses or the stream ends."""
        if not (self.paused or self.ended):
            self._stopped = asyncio.get_running_loop().create_future()
            await self._stopped

    def resume(self) -> None:
        """Handle the lines kept back, then read on (unless they pause it again)."""
        self.paused = False
        backlog, self._backlog = self._backlog, []
        self._feed(backlog)
        if not self.paused and not self.ended and self.transport is not None:
            self.transport.resume_reading()

    async def writable(self) -> None:
        if self._writable is not None:
            await asyncio.shield(self._writable)

    # -- asyncio.Protocol --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            lines = self._split(data)
        except ValueError as e:  # a message over the limit
            self.error = e
            assert self.transport is not None
            self.transport.close()
            return
        self._feed(lines)

    def eof_received(self) -> bool:
        return False  # close the transport: connection_lost follows

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.ended = True
        if self.error is None:
            self.error = exc
        self._wake()
        self.resume_writing()

    def pause_writing(self) -> None:
        self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)

    # -- lines -------------------------------------------------------------------------------------

    def _feed(self, lines: List[bytes]) -> None:
        on_line = self._on_line
        for i, line in enumerate(lines):
            if not on_line(line) and not self.ended:
                self._backlog = lines[i + 1 :]
                self.paused = True
                assert self.transport is not None
                self.transport.pause_reading()
                self._wake()
                return

    def _wake(self) -> None:
        stopped, self._stopped = self._stopped, None
        if stopped is not None and not stopped.done():
            stopped.set_result(None)

    def _split(self, data: bytes) -> List[bytes]:
        """The whole messages in `data` and what came before it, each without its newline.
        Raises ValueError past MESSAGE_LIMIT_BYTES."""
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


class Generation:
    """The current child, its message stream, its setup logs and result."""

    def __init__(
        self, proc: asyncio.subprocess.Process, on_line: Callable[[Generation, bytes], bool]
    ) -> None:
        """`on_line(generation, line)` handles each message; it returns False to stop reading
        for a while (see `MessageStream`)."""
        self.proc = proc
        self.stream = MessageStream(functools.partial(on_line, self))
        self.setup_logs: List[str] = []
        self.started_at = utcnow()
        self.setup_result: Optional[Any] = None
        self.timed_out: Optional[float] = None
        self.exited = False
        self.exiting = False  # it announced its exit, or its socket or process ended
        self._send_lock = asyncio.Lock()

    async def connect(self, sock: socket.socket) -> None:
        await asyncio.get_running_loop().create_unix_connection(lambda: self.stream, sock=sock)

    @property
    def alive(self) -> bool:
        return not self.exited and self.proc.returncode is None

    def pipes(self) -> List[Tuple[asyncio.StreamReader, str]]:
        return [
            (s, n) for s, n in ((self.proc.stdout, "stdout"), (self.proc.stderr, "stderr")) if s is not None
        ]

    def close(self) -> None:
        if self.stream.transport is not None:
            self.stream.transport.close()

    async def send(self, data: bytes) -> None:
        async with self._send_lock:
            transport = self.stream.transport
            if transport is None or transport.is_closing():
                raise ConnectionResetError("the worker's message socket is closed")
            transport.write(data)
            await self.stream.writable()

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
        self.close()
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
