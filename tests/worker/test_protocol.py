"""The typed messages on their own: every kind round-trips, and a line that is not a well-formed
message is refused, naming its prediction when its head can be read."""

from __future__ import annotations

import json
import pathlib

import pytest

from cogkit.worker.protocol import (
    FROM_CHILD,
    TO_CHILD,
    Cancel,
    Chunks,
    Done,
    Exiting,
    Fatal,
    HealthCheck,
    HealthResult,
    Log,
    Output,
    Predict,
    ProtocolError,
    Schema,
    SetupDone,
    Shutdown,
    decode,
    encode,
    encode_chunk,
    join_chunks,
)

MESSAGES = [
    (TO_CHILD, Predict("p", {"a": {"$cogkit.path": "/etc/shadow"}}, {"k": "v"})),
    (TO_CHILD, Cancel("p")),
    (TO_CHILD, HealthCheck(3)),
    (TO_CHILD, Shutdown()),
    (FROM_CHILD, Schema({"openapi": "3.0.2"}, 4, True, False, True)),
    (FROM_CHILD, SetupDone("failed", "setup() raised ValueError")),
    (FROM_CHILD, Log(None, "stderr", "line\nwith\nnewlines\r\n")),
    (FROM_CHILD, Output("p", {"image": "/tmp/x.png"}, [[["image"], "/tmp/x.png"]])),
    (FROM_CHILD, Chunks("p", [["tok", []], [{"f": "/tmp/x.png"}, [[["f"], "/tmp/x.png"]]]])),
    (FROM_CHILD, Done("p", "succeeded", None, {"predict_time": 0.1})),
    (FROM_CHILD, HealthResult(3, None, None)),
    (FROM_CHILD, Fatal("cannot import")),
    (FROM_CHILD, Exiting("sys.exit(3)")),
]


@pytest.mark.parametrize(("table", "message"), MESSAGES, ids=lambda m: getattr(m, "TAG", ""))
def test_every_message_round_trips_on_one_line(table: dict, message: object) -> None:
    line = encode(message)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert decode(line, table) == message


@pytest.mark.parametrize(
    ("line", "table", "prediction_id"),
    [
        (b'["output","p",1]', FROM_CHILD, "p"),  # a field missing
        (b'["done","p","succeeded",null,{},7]', FROM_CHILD, "p"),  # one too many
        (b'["done",7,"succeeded",null,{}]', FROM_CHILD, None),  # an id that is not a string
        (b'["output","p",1,"no"]', FROM_CHILD, "p"),  # files is not a list
        (b'["chunks","p",{"a":1}]', FROM_CHILD, "p"),  # items is not a list
        (b'["predict","p",{"a":', TO_CHILD, "p"),  # cut short
        (b'["predict", "p", ' + b"[" * 5000 + b"]" * 5000 + b", {}]", TO_CHILD, "p"),  # too deep
        (b'["cancel","p","x"]', TO_CHILD, None),  # not about running a prediction: nothing to fail
        (b'["output","p",1,[]]', TO_CHILD, None),  # a child message sent to the child
        (b'{"type":"predict","id":"p"}', TO_CHILD, None),  # the old protocol's shape
        (b"\xff\xfe", TO_CHILD, None),
        (b"", FROM_CHILD, None),
    ],
)
def test_malformed_lines_are_refused(line: bytes, table: dict, prediction_id: str | None) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode(line, table)
    assert caught.value.prediction_id == prediction_id


def test_files_are_made_only_where_the_file_list_says() -> None:
    value = {"a": "/tmp/x.png", "b": ["/tmp/x.png", {"$cogkit.path": "/tmp/x.png"}]}
    message = Output("p", value, [[["b", 0], "/tmp/x.png"]])
    rebuilt = decode(encode(message), FROM_CHILD).value_with_files()
    assert rebuilt == {"a": "/tmp/x.png", "b": [pathlib.Path("/tmp/x.png"), {"$cogkit.path": "/tmp/x.png"}]}
    assert type(rebuilt["a"]) is str
    whole = Output("p", "/tmp/y", [[[], "/tmp/y"]]).value_with_files()
    assert whole == pathlib.Path("/tmp/y")


@pytest.mark.parametrize(
    "files",
    [
        [[["a"], "/etc/passwd"]],  # the value there is another string
        [[["missing"], "/tmp/x"]],
        [[[0], "/tmp/x"]],  # an index into a dict
        [[["a", "deeper"], "/tmp/x"]],
        [[["a"], "relative/path"]],
        [["a", "/tmp/x"]],  # keys not a list
        [[["a"]]],
        ["nonsense"],
    ],
)
def test_a_file_list_that_does_not_match_the_value_is_refused(files: list) -> None:
    with pytest.raises(ProtocolError) as caught:
        Output("p", {"a": "/tmp/x"}, files).value_with_files()
    assert caught.value.prediction_id == "p"


def test_values_json_cannot_hold_are_refused_on_encoding() -> None:
    deep: object = "x"
    for _ in range(5000):
        deep = [deep]
    circular: list = []
    circular.append(circular)
    for value, why in ((deep, "nested too deeply"), (circular, "Circular reference"), ({1j}, "set")):
        with pytest.raises(ProtocolError, match=why) as caught:
            encode(Output("p", value, []))
        assert caught.value.prediction_id == "p"
        with pytest.raises(ProtocolError, match=why) as caught:
            encode_chunk("q", value, [])
        assert caught.value.prediction_id == "q"


def test_joined_chunks_are_one_message_with_each_items_files_in_order() -> None:
    """Items encoded one by one and joined decode as one `Chunks` message: every value, in
    order, with a file made only where that item's own file list says."""
    items = [
        encode_chunk("p", "/tmp/a.png", [[[], "/tmp/a.png"]]),
        encode_chunk("p", "/tmp/a.png", []),  # the same string, not a file in this item
        encode_chunk("p", {"k": ["x", "/tmp/b.wav"]}, [[["k", 1], "/tmp/b.wav"]]),
        encode_chunk("p", 'line\nwith "quotes" and ünïcode', []),
    ]
    line = join_chunks("p", items)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    message = decode(line, FROM_CHILD)
    assert isinstance(message, Chunks) and message.id == "p"
    values = message.values_with_files()
    assert values == [
        pathlib.Path("/tmp/a.png"),
        "/tmp/a.png",
        {"k": ["x", pathlib.Path("/tmp/b.wav")]},
        'line\nwith "quotes" and ünïcode',
    ]
    assert type(values[1]) is str


@pytest.mark.parametrize("item", [["only the value"], "not a list", ["v", "files not a list"], ["v", [], 3]])
def test_a_chunk_that_is_not_value_and_files_is_refused(item: object) -> None:
    message = decode(join_chunks("p", [encode_chunk("p", "ok", []), json.dumps(item).encode()]), FROM_CHILD)
    with pytest.raises(ProtocolError) as caught:
        message.values_with_files()
    assert caught.value.prediction_id == "p"
