"""The child's end of the message socket: a sender thread and a reader thread.

Every outgoing message goes through one queue drained by one thread. So a message is never
half-written when a `CancelationException` interrupts the main thread, and log lines and
results keep the order in which they were queued.
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
        self._queue: queue.Queue[Optional[bytes]] = queue.Queue()
        self._flushed = threading.Event()
        self._sender = threading.Thread(target=self._send_loop, name="cogkit-sender", daemon=True)
        self._sender.start()

    def send(self, kind: str, **fields: Any) -> None:
        """Queue one message; never blocks on the socket."""
        self._queue.put(encode(kind, FROM_CHILD, **fields))

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every queued message is written (used before the child exits)."""
        done = threading.Event()
        self._flushed = done
        self._queue.put(None)
        done.wait(timeout)

    def _send_loop(self) -> None:
        while True:
            data = self._queue.get()
            if data is None:
                self._flushed.set()
                continue
            try:
                self._sock.sendall(data)
            except OSError:
                # The parent is gone: nobody is left to serve, and user threads must not keep us alive.
                os._exit(70)

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
