"""The child's end of the message socket: a sender thread, a reader thread, and a parent watch.

Outgoing messages go through one queue drained by one thread. So a message is never
half-written when a `CancelationException` interrupts the main thread, and log lines and
results keep the order in which they were queued. The exceptions are writes the runners make
where no exception can interrupt them (outside user code): an iterator's item, and a
prediction's last write (final output and done). When nothing is queued or being written, the
calling thread writes them itself, under the same write lock, so a token yielded alone leaves at
once instead of waiting for the sender to get the GIL.

Whatever is queued when the sender wakes goes out in one write (no timer ever waits for
company), and the items of one prediction's iterator that are queued one after another go out
as one `Chunks` message: a burst of tokens costs a few system calls and a few messages, each
decoded once by the client. Items are encoded where they are yielded (`encode_chunk`), so a
value JSON cannot hold fails its prediction there, and joined without being encoded again.

The queue is bounded in bytes for what the model drives (outputs and logs): a generator that
yields faster than the server reads blocks in `send`, and the socket's own buffer carries the
pressure on to the server's reader, instead of memory growing on either side.

The child exits when its parent goes, however it went: at EOF on the socket, or when the parent
pid changes (a process the server forked may still hold the socket open). It takes its process
group with it, so the predictor's own subprocesses do not outlive the server either. Both are
noticed on threads of ours. PR_SET_PDEATHSIG is not used: it fires when the *thread* that forked
the child ends, and the signal would end the child alone (SIGKILL) or wait for the main thread
to leave the user's C code (a Python handler), leaving the group's other processes behind.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import socket
import threading
import time
import traceback
from typing import Any, Callable, List, Optional, Tuple, Union

from cogkit.worker.protocol import (
    TO_CHILD,
    Message,
    Predict,
    ProtocolError,
    decode,
    encode,
    encode_chunk,
    join_chunks,
)

QUEUE_LIMIT_BYTES = 4 << 20
BATCH_BYTES = 1 << 20  # at most this much queued data goes out in one write
PARENT_CHECK_S = 1.0


# What the sender's queue holds: an encoded message, an iterator item (prediction id, encoded
# item) to be joined with its neighbours, or None, a flush marker.
Entry = Union[bytes, Tuple[str, bytes], None]
_TURN = b""  # wakes the sender and writes nothing (see send_chunk)


class Channel:
    def __init__(self, sock: socket.socket, *, limit: int = QUEUE_LIMIT_BYTES) -> None:
        self._sock = sock
        self._limit = limit
        self._queue: queue.SimpleQueue[Entry] = queue.SimpleQueue()
        self._flushed = threading.Event()
        self._write_lock = threading.Lock()  # held while bytes go onto the socket
        self._room = threading.Condition(threading.Lock())  # guards the two counts below
        self._unsent = 0  # entries queued and not yet written
        self._unsent_bytes = 0
        self._sender = threading.Thread(target=self._send_loop, name="cogkit-sender", daemon=True)
        self._sender.start()

    def send(self, message: Message) -> None:
        """Queue one message. Outputs and logs wait while the queue holds more than its limit;
        other messages (health, setup, done) never wait."""
        data = encode(message)
        self._enqueue(data, len(data), getattr(message, "STREAMED", False))

    def send_chunk(self, prediction_id: str, value: Any, files: List[Any]) -> None:
        """Send one item of an iterator output. Call it only where no exception can interrupt
        a write (outside user code).

        When nothing is queued or being written, the item is written at once by the calling
        thread, and the sender is woken for a turn: until it has had one, the channel counts as
        busy. So a predictor that yields again without letting other threads run (a burst)
        queues its next items, which leave together in one `Chunks` message as soon as the
        sender gets the GIL; one that pauses between items (a paced stream) has each written
        at once. Queued items wait while the queue is full.
        """
        item = encode_chunk(prediction_id, value, files)
        with self._write_lock:
            with self._room:
                idle = self._unsent == 0
                if idle:
                    self._unsent += 1  # the sender's turn, queued below
            if idle:
                self._write(join_chunks(prediction_id, [item]))
        if idle:
            self._queue.put(_TURN)
        else:
            self._enqueue((prediction_id, item), len(item), True)

    def send_encoded(self, *messages: bytes) -> None:
        """Send encoded messages in one write (a prediction's final output and its done).

        When nothing is queued they are written by the calling thread, which saves waking the
        sender; otherwise they are queued behind the rest, so the order is kept either way. Call
        it only where no exception can interrupt the write (user code has returned).
        """
        data = b"".join(messages)
        with self._write_lock:
            with self._room:
                idle = self._unsent == 0
            if idle:
                self._write(data)
                return
        self._enqueue(data, len(data), False)

    def _enqueue(self, entry: Entry, size: int, streamed: bool) -> None:
        with self._room:
            if streamed:
                while self._unsent_bytes and self._unsent_bytes + size > self._limit:
                    self._room.wait()
            self._unsent += 1
            self._unsent_bytes += size
        self._queue.put(entry)

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every queued message is written (used before the child exits)."""
        done = threading.Event()
        self._flushed = done
        self._queue.put(None)
        done.wait(timeout)

    def _write(self, data: bytes) -> None:
        try:
            self._sock.sendall(data)
        except OSError:
            # The parent is gone: nobody is left to serve, and user threads must not keep us alive.
            os._exit(70)

    def _send_loop(self) -> None:
        """Write what is queued: each wake-up takes everything queued by then (up to
        BATCH_BYTES) and writes it in one system call, so a message queued alone leaves at
        once, and a burst leaves in few writes. Nothing waits for more."""
        while True:
            batch = [self._queue.get()]
            size = _size(batch[0])
            while size < BATCH_BYTES:
                try:
                    entry = self._queue.get_nowait()
                except queue.Empty:
                    break
                batch.append(entry)
                size += _size(entry)
            start = 0
            for end, entry in enumerate(batch):
                if entry is None:  # a flush: what came before it is written first
                    self._send_batch(batch[start:end])
                    self._flushed.set()
                    start = end + 1
            self._send_batch(batch[start:])

    def _send_batch(self, batch: List[Entry]) -> None:
        if not batch:
            return
        data = _join(batch)
        if data:
            with self._write_lock:
                self._write(data)
        with self._room:
            self._unsent -= len(batch)
            self._unsent_bytes -= sum(map(_size, batch))
            self._room.notify_all()

    def start_reader(
        self, on_message: Callable[[Message], None], on_lost: Callable[[str, str], None]
    ) -> None:
        """Read parent commands on a daemon thread; EOF means the parent is gone, so exit.

        Neither a line that does not decode nor a handler that raises ends the reader: the
        prediction concerned, when known, is failed through `on_lost(prediction_id, error)`.
        """

        def read() -> None:
            with contextlib.suppress(OSError):
                for line in self._sock.makefile("rb"):
                    _handle(line, on_message, on_lost)
            end_process_group()

        threading.Thread(target=read, name="cogkit-reader", daemon=True).start()


def _size(entry: Entry) -> int:
    if entry is None:
        return 0
    return len(entry[1]) if type(entry) is tuple else len(entry)  # type: ignore[arg-type]


def _join(batch: List[Entry]) -> bytes:
    """The bytes of one write: messages as they are, each run of one prediction's items as one
    `Chunks` message."""
    parts: List[bytes] = []
    run_id = ""
    run: List[bytes] = []
    for entry in batch:
        if type(entry) is tuple:
            prediction_id, item = entry  # type: ignore[misc]
            if run and prediction_id != run_id:
                parts.append(join_chunks(run_id, run))
                run = []
            run_id = prediction_id
            run.append(item)
            continue
        if not entry:  # a turn marker
            continue
        if run:
            parts.append(join_chunks(run_id, run))
            run = []
        parts.append(entry)  # type: ignore[arg-type]
    if run:
        parts.append(join_chunks(run_id, run))
    return parts[0] if len(parts) == 1 else b"".join(parts)  # b"" for turn markers alone


def _handle(line: bytes, on_message: Callable[[Message], None], on_lost: Callable[[str, str], None]) -> None:
    try:
        message = decode(line, TO_CHILD)
    except ProtocolError as e:
        _warn(f"cogkit worker: {e}\n")
        if e.prediction_id is not None:
            on_lost(e.prediction_id, f"the worker could not read this prediction's request: {e}")
        return
    dispatch_safely(message, on_message, on_lost)


def dispatch_safely(
    message: Message, handler: Callable[[Message], None], on_lost: Callable[[str, str], None]
) -> None:
    """`handler(message)`; a bug in it fails the prediction the message started, and no more."""
    try:
        handler(message)
    except Exception as e:
        _warn("cogkit worker: error handling a message:\n" + traceback.format_exc())
        if isinstance(message, Predict):
            on_lost(message.id, f"the worker could not start this prediction: {type(e).__name__}: {e}")


def _warn(text: str) -> None:
    with contextlib.suppress(OSError):
        os.write(2, text.encode("utf-8", "replace"))


_outputs_dir: Optional[str] = None


def watch_parent(outputs_dir: Optional[str]) -> None:
    """Exit with the process group as soon as the parent process is gone (see the module doc)."""
    global _outputs_dir
    _outputs_dir = outputs_dir
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        end_process_group()

    threading.Thread(target=watch, name="cogkit-parent-watch", daemon=True).start()


def end_process_group() -> None:
    """The parent is gone: remove our file outputs and kill our process group, ourselves included.

    The client starts the child as the leader of a new session; a child started some other way
    only exits, so that it never kills a group it does not own.
    """
    if _outputs_dir is not None:
        shutil.rmtree(_outputs_dir, ignore_errors=True)
    if os.getpgrp() == os.getpid():
        with contextlib.suppress(OSError):
            os.killpg(os.getpid(), signal.SIGKILL)
    os._exit(0)
