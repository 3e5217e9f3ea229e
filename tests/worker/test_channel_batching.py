"""The child's sender writes what is queued in one write: nothing is lost or reordered, and a
message sent alone is written without waiting for company."""

from __future__ import annotations

import socket

from cogkit.worker.channel import Channel
from cogkit.worker.protocol import FROM_CHILD, Log, decode

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
