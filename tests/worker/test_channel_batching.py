"""The child's sender writes what is queued in one write, and an iterator's items queued one
after another as one `Chunks` message: nothing is lost or reordered, each item keeps its own
files, and an item or message sent alone is written without waiting for company."""

from __future__ import annotations

import pathlib
import socket
import threading

from cogkit.worker.channel import Channel
from cogkit.worker.protocol import FROM_CHILD, Chunks, Log, decode

NEWLINE = b"\n"


def _read_lines(sock: socket.socket, count: int) -> list[bytes]:
    sock.settimeout(30)  # a bound against a hang, not a speed target
    data = b""
    while data.count(b"\n") < count:
        chunk = sock.recv(1 << 20)
        assert chunk, f"closed after {data.count(NEWLINE)} of {count} messages"
        data += chunk
    return data.split(b"\n")[:-1]


def test_a_burst_arrives_whole_and_in_order_with_flushes_between() -> None:
    ours, theirs = socket.socketpair()
    channel = Channel(ours)
    for n in range(5000):
        channel.send(Log("p", "stdout", f"token {n}\n"))
        if n % 1000 == 999:
            channel.flush()
    lines = _read_lines(theirs, 5000)
    assert [decode(line, FROM_CHILD).text for line in lines] == [f"token {n}\n" for n in range(5000)]
    ours.close()
    theirs.close()


def test_a_lone_message_is_written_without_another_one_behind_it() -> None:
    ours, theirs = socket.socketpair()
    channel = Channel(ours)
    channel.send(Log("p", "stdout", "alone\n"))
    assert [decode(line, FROM_CHILD).text for line in _read_lines(theirs, 1)] == ["alone\n"]
    channel.send(Log("p", "stdout", "second\n"))
    assert [decode(line, FROM_CHILD).text for line in _read_lines(theirs, 1)] == ["second\n"]
    ours.close()
    theirs.close()


def test_flush_returns_after_everything_sent_before_it_is_written() -> None:
    ours, theirs = socket.socketpair()
    channel = Channel(ours)
    for n in range(100):
        channel.send(Log("p", "stderr", f"{n}\n"))
    channel.flush()
    theirs.setblocking(False)
    data = b""
    while True:
        try:
            chunk = theirs.recv(1 << 20)
        except BlockingIOError:
            break
        data += chunk
    assert data.count(b"\n") == 100  # already written when flush returned: no wait needed
    ours.close()
    theirs.close()


def _stall(ours: socket.socket, channel: Channel) -> int:
    """Queue one message larger than the socket can buffer: the sender stays in its write until
    the peer reads, so whatever is sent meanwhile is queued. Returns the message's size."""
    size = ours.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) * 4
    channel.send(Log(None, "stdout", "x" * size))
    return size


def test_items_queued_together_leave_as_one_chunks_message_in_order_with_their_files() -> None:
    ours, theirs = socket.socketpair()
    channel = Channel(ours, limit=64 << 20)
    _stall(ours, channel)
    for n in range(300):
        files = [[[], f"/tmp/f{n}"]] if n % 7 == 0 else []
        channel.send_chunk("p", f"/tmp/f{n}" if files else f"t{n}", files)
    channel.send(Log("p", "stderr", "between\n"))  # ends the run: order across kinds is kept
    channel.send_chunk("p", "after the log", [])
    channel.send_chunk("q", "another prediction", [])
    channel.send_chunk("p", "back to p", [])
    messages = [decode(line, FROM_CHILD) for line in _read_lines(theirs, 6)]
    assert [type(m) for m in messages] == [Log, Chunks, Log, Chunks, Chunks, Chunks]
    batch = messages[1]
    assert batch.id == "p" and len(batch.items) == 300  # one message for the whole burst
    values = batch.values_with_files()
    assert values == [pathlib.Path(f"/tmp/f{n}") if n % 7 == 0 else f"t{n}" for n in range(300)]
    assert messages[2].text == "between\n"
    assert [(m.id, m.values_with_files()) for m in messages[3:]] == [
        ("p", ["after the log"]),
        ("q", ["another prediction"]),
        ("p", ["back to p"]),
    ]
    ours.close()
    theirs.close()


def test_a_lone_item_is_written_before_send_chunk_returns() -> None:
    """Nothing queued: the caller writes the item itself, so it is on the socket at once (no
    wait for the sender thread); the next one is still delivered, in order."""
    ours, theirs = socket.socketpair()
    channel = Channel(ours)
    channel.send_chunk("p", "first", [])
    theirs.setblocking(False)
    line = theirs.recv(1 << 20)  # already there: this does not wait
    assert line.count(b"\n") == 1
    assert decode(line[:-1], FROM_CHILD).values_with_files() == ["first"]
    theirs.setblocking(True)
    channel.send_chunk("p", "second", [])
    channel.flush()
    assert decode(_read_lines(theirs, 1)[0], FROM_CHILD).values_with_files() == ["second"]
    ours.close()
    theirs.close()


def test_a_burst_of_items_loses_nothing_and_keeps_its_order() -> None:
    """Whatever mix of direct writes and batches the threads' timing gives, every item arrives
    once, in order (read as it comes: a full socket holds the writer back)."""
    ours, theirs = socket.socketpair()
    channel = Channel(ours)
    got: list[object] = []

    def read() -> None:
        theirs.settimeout(30)  # a bound against a hang, not a speed target
        data = b""
        while len(got) < 20_000:
            chunk = theirs.recv(1 << 20)
            if not chunk:
                return
            *lines, data = (data + chunk).split(b"\n")
            for line in lines:
                got.extend(decode(line, FROM_CHILD).values_with_files())

    reader = threading.Thread(target=read)
    reader.start()
    for n in range(20_000):
        channel.send_chunk("p", n, [])
    reader.join(60)
    assert got == list(range(20_000))
    ours.close()
    theirs.close()
