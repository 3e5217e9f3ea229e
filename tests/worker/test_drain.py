"""Every byte a prediction writes to fds 1 and 2 arrives as a LogEvent before its DoneEvent.

The drain after each prediction returns at once when both capture pipes are empty and no pump
holds read bytes; these runs hit the window right after a write, when a pump may have taken the
bytes out of the pipe but not yet sent them, hundreds of times over.
"""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest

from cogkit.worker.channel import Channel
from cogkit.worker.protocol import FROM_CHILD, Chunks, Done, Log, Output, decode, encode

from .helpers import collect, run, started

ROUNDS = 60
EXPECTED = {
    "fd": ("fd1 {}\n", "fd2 {}\n"),
    "print": ("print {}\n",),
    "partial": ("cprintf {}", "fd2 {}"),
    "subprocess": ("sub {}\n", "suberr {}\n"),
    "big": ("big {}\n",),
    "none": (),
}


@pytest.mark.parametrize("ref", ["drain_stress.py:Predictor", "drain_stress.py:AsyncPredictor"])
def test_every_write_arrives_before_its_done(ref: str) -> None:
    async def go() -> None:
        async with started(ref) as client:
            setup = await client.wait_for_setup()
            assert setup.status == "succeeded", setup.logs
            previous = None
            for i in range(ROUNDS):
                for how, lines in EXPECTED.items():
                    tag = f"@{how}-{i}@"
                    result = await collect(client, tag, {"tag": tag, "how": how})
                    assert result.done.status == "succeeded", result.done.error
                    assert result.values == [tag]
                    for line in lines:
                        assert line.format(tag) in result.logs, f"{line.format(tag)!r} not in {result.logs!r}"
                    if how == "big":
                        assert result.logs.count("x") == 200_000
                    if previous is not None:
                        assert previous not in result.logs, "an earlier prediction's output leaked in"
                    previous = tag

    run(go(), timeout=120)


def test_the_last_write_never_overtakes_queued_messages() -> None:
    """`send_encoded` and `send_chunk` write from the calling thread only when nothing is queued
    before them: logs, items (alone or joined into batches) and the last write keep their order."""
    ours, theirs = socket.socketpair()
    theirs.settimeout(30)
    rounds = 300
    expected: list = []
    for round_ in range(rounds):
        for i in range(round_ % 5):
            expected.append(("log" if i % 2 else "item", str(round_), i))
        expected += [("output", str(round_), round_), ("done", str(round_), None)]
    got: list = []

    def read() -> None:  # read while we write: a full socket must not stall the writers
        stream = theirs.makefile("rb")
        with contextlib.suppress(OSError):
            while len(got) < len(expected):
                message = decode(stream.readline(), FROM_CHILD)
                if isinstance(message, Chunks):
                    got.extend(("item", message.id, value) for value in message.values_with_files())
                elif isinstance(message, Log):
                    got.append(("log", message.id, int(message.text)))
                elif isinstance(message, Output):
                    got.append(("output", message.id, message.value))
                else:
                    got.append(("done", message.id, None))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    channel = Channel(ours)
    for round_ in range(rounds):
        for i in range(round_ % 5):
            if i % 2:
                channel.send(Log(str(round_), "stdout", f"{i}"))
            else:
                channel.send_chunk(str(round_), i, [])
        channel.send_encoded(
            encode(Output(str(round_), round_, [])),
            encode(Done(str(round_), "succeeded", None, {})),
        )
    reader.join(60)
    assert got == expected
    ours.close()
    theirs.close()
