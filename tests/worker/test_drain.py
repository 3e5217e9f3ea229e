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
from cogkit.worker.protocol import FROM_CHILD, Done, Log, Output, decode, encode

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
    """`send_encoded` writes from the calling thread only when nothing is queued before it."""
    ours, theirs = socket.socketpair()
    theirs.settimeout(30)
    rounds = 300
    expected = []
    for round_ in range(rounds):
        expected += [(Log, str(round_))] * (round_ % 4) + [(Output, str(round_)), (Done, str(round_))]
    got: list = []

    def read() -> None:  # read while we write: a full socket must not stall the writers
        stream = theirs.makefile("rb")
        with contextlib.suppress(OSError):
            for _ in expected:
                message = decode(stream.readline(), FROM_CHILD)
                got.append((type(message), message.id))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    channel = Channel(ours)
    for round_ in range(rounds):
        for i in range(round_ % 4):
            channel.send(Log(str(round_), "stdout", f"{i}\n"))
        channel.send_encoded(
            encode(Output(str(round_), round_, False, [])),
            encode(Done(str(round_), "succeeded", None, {})),
        )
    reader.join(60)
    assert got == expected
    ours.close()
    theirs.close()
