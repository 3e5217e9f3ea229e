"""The child's end of the message socket: a sender thread and a reader thread.

Outgoing messages go through one queue drained by one thread. So a message is never
half-written when a `CancelationException` interrupts the main thread, and log lines and
results keep the order in which they were queued. The one exception is a prediction's last
write (final output and done), made after user code has returned: when the queue is empty the
calling thread writes it itself, under the same write lock.
"""

from __future__ import annotations

import os
import queue
import socket
import threading
from typing import Any, Callable, Dict, Optional

from cogkit.worker.protocol import FROM_CHILD, TO_CHILD, ProtocolError, decode, encode


class Channel:
    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._queue: queue.SimpleQueue[Optional[bytes]] = queue.SimpleQueue()
        self._flushed = threading.Event()
        self._write_lock = threading.Lock()  # held while bytes go onto the socket
        self._count_lock = threading.Lock()
        self._unsent = 0  # messages queued and not yet written
        self._sender = threading.Thread(target=self._send_loop, name="cogkit-sender", daemon=True)
        self._sender.start()

    def send(self, kind: str, **fields: Any) -> None:
        """Queue one message; never blocks on the socket."""
        self._put(encode(kind, FROM_CHILD, **fields))

    @staticmethod
    def encode(kind: str, **fields: Any) -> bytes:
        """One message as bytes, checked against the protocol table, for `send_encoded`."""
        return encode(kind, FROM_CHILD, **fields)

    def send_encoded(self, *messages: bytes) -> None:
        """Send encoded messages in one write (a prediction's final output and its done).

        When nothing is queued they are written by the calling thread, which saves waking the
        sender; otherwise they are queued behind the rest, so the order is kept either way. Call
        it only where no exception can interrupt the write (user code has returned).
        """
        data = b"".join(messages)
        with self._write_lock:
            with self._count_lock:
                idle = self._unsent == 0
            if idle:
                self._write(data)
                return
        self._put(data)

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every queued message is written (used before the child exits)."""
        done = threading.Event()
        self._flushed = done
        self._queue.put(None)
        done.wait(timeout)

    def _put(self, data: bytes) -> None:
        with self._count_lock:
            self._unsent += 1
        self._queue.put(data)

    def _write(self, data: bytes) -> None:
        try:
            self._sock.sendall(data)
        except OSError:
            # The parent is gone: nobody is left to serve, and user threads must not keep us alive.
            os._exit(70)

    def _send_loop(self) -> None:
        while True:
            data = self._queue.get()
            if data is None:
                self._flushed.set()
                continue
            with self._write_lock:
                self._write(data)
            with self._count_lock:
                self._unsent -= 1

    def start_reader(self, on_message: Callable[[Dict[str, Any]], None]) -> None:
        """Read parent commands on a daemon thread; EOF means the parent is gone, so exit."""

        def read() -> None:
            stream = self._sock.makefile("rb")
            for line in stream:
                try:
                    on_message(decode(line, TO_CHILD))
                except ProtocolError as e:
                    os.write(2, f"cogkit worker: {e}\n".encode())
            self.flush(2.0)
            os._exit(0)

        threading.Thread(target=read, name="cogkit-reader", daemon=True).start()
