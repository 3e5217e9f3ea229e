"""Multi-megabyte data URIs: decoded into the input file and encoded from the output file a
chunk at a time, JSON bodies parsed and written without scanning them, the echo shortened."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest

from cogkit.server import downloads, outputs
from cogkit.server.downloads import _write_data_uri
from cogkit.server.encoding import CUT_CHARS, JsonText, dumps, loads
from cogkit.server.http_errors import InputInvalid, OutputInvalid
from cogkit.server.outputs import data_uri

FILES = "files.py:Predictor"
B64_CHUNK_BYTES = downloads._B64_CHUNK // 4 * 3
SIZES = [
    0,
    1,
    2,
    3,
    4,
    B64_CHUNK_BYTES - 1,
    B64_CHUNK_BYTES,
    B64_CHUNK_BYTES + 1,
    outputs._CHUNK + 2,
    3 << 20,
]


@pytest.mark.parametrize("size", SIZES)
def test_a_data_uri_decodes_into_its_file_chunk_by_chunk(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    for text in (base64.b64encode(data).decode(), base64.encodebytes(data).decode()):  # plain, wrapped
        path = _write_data_uri(f"data:image/png;base64,{text}", "image", tmp_path, max_bytes=size or 1)
        assert path.read_bytes() == data
        assert path.name == "image.png"


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        ("QQ", "multiple of 4"),
        ("QQ==QUJD", "malformed base64"),
        ("QU!J", "multiple of 4"),  # a skipped character leaves 3
        ("Q" * 10 + "é", "malformed base64"),
    ],
)
def test_malformed_base64_is_a_clear_input_error(tmp_path: Path, payload: str, why: str) -> None:
    with pytest.raises(InputInvalid, match=why) as info:
        _write_data_uri(f"data:;base64,{payload}", "image", tmp_path, max_bytes=100)
    assert info.value.detail[0]["loc"] == ["body", "input", "image"]


def test_a_data_uri_over_the_size_limit_stops_while_decoding(tmp_path: Path) -> None:
    text = base64.b64encode(os.urandom(3 * B64_CHUNK_BYTES)).decode()
    with pytest.raises(InputInvalid, match="larger than the 1000-byte limit"):
        _write_data_uri(f"data:;base64,{text}", "image", tmp_path, max_bytes=1000)
    with pytest.raises(InputInvalid, match="larger than"):
        _write_data_uri("data:text/plain," + "%41" * 1000, "doc", tmp_path, max_bytes=999)


def test_a_percent_encoded_data_uri_keeps_its_bytes(tmp_path: Path) -> None:
    path = _write_data_uri("data:text/plain,h%C3%A9llo%00%FF", "doc", tmp_path, max_bytes=100)
    assert path.read_bytes() == b"h\xc3\xa9llo\x00\xff"


@pytest.mark.parametrize("size", SIZES)
def test_an_output_file_encodes_to_the_data_uri_of_its_bytes(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    (tmp_path / "out.png").write_bytes(data)
    uri = data_uri(tmp_path / "out.png", limit=max(size, 1))
    assert isinstance(uri, JsonText)
    assert str(uri) == "data:image/png;base64," + base64.b64encode(data).decode()
    assert _write_data_uri(str(uri), "back", tmp_path, max_bytes=max(size, 1)).read_bytes() == data


def test_an_output_file_over_the_limit_is_refused(tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(b"x" * 101)
    with pytest.raises(OutputInvalid, match="larger than 100 bytes"):
        data_uri(tmp_path / "big.bin", limit=100)


BIG = "data:application/octet-stream;base64," + "QUJD" * (CUT_CHARS // 4 + 10)


@pytest.mark.parametrize(
    "document",
    [
        {"input": {"image": BIG, "prompt": "data:short"}},
        {"input": {"frames": [BIG, BIG, None]}, "id": "x"},
        {BIG: [BIG], "k": {"nested": BIG}},
        {"input": {"prompt": 'say "' + BIG + '" twice'}},  # inside a string: escaped quotes
        {"input": {"prompt": "\\" + BIG}},
        {"input": {"text": "data:" + "é" * CUT_CHARS}},  # not ASCII: left to json
    ],
)
def test_bodies_with_long_data_uris_parse_as_json_does(document: Any) -> None:
    for body in (json.dumps(document).encode(), json.dumps(document, ensure_ascii=False).encode()):
        assert loads(body) == json.loads(body)


@pytest.mark.parametrize(
    "body", [b'{"a": "' + BIG.encode(), b'{"a": "x"' + BIG.encode() + b'"}', b'{"a": ' + BIG.encode() + b'"}']
)
def test_broken_bodies_with_long_data_uris_are_still_refused(body: bytes) -> None:
    with pytest.raises(ValueError):
        loads(body)


def test_encoded_outputs_are_written_into_the_body_as_json_strings() -> None:
    uri = JsonText(BIG.encode())
    value = {"output": [uri, {"file": uri, "n": 1}], "logs": 'a "quoted" line\n', "x": None}
    plain = {"output": [BIG, {"file": BIG, "n": 1}], "logs": 'a "quoted" line\n', "x": None}
    assert json.loads(dumps(value, verbatim=True)) == plain
    assert dumps(plain, verbatim=True) == dumps(plain) == json.dumps(plain).encode()


def test_a_big_file_goes_in_and_out_and_the_echo_is_short(server: Any) -> None:
    s = server(FILES)
    data = os.urandom(3 << 20)
    uri = "data:image/png;base64," + base64.b64encode(data).decode()
    r = s.client.put("/predictions/big-file", json={"input": {"image": uri}})
    assert r.status_code == 200, r.text[:500]
    body = r.json()
    assert body["status"] == "succeeded", body["error"]
    assert body["output"] == ["data:image/png;base64," + base64.b64encode(data[::-1]).decode()]
    assert body["input"] == {"image": f"data:image/png;base64,... ({len(uri)} characters)"}
    again = s.client.get("/predictions/big-file")  # kept, spilled to disk or not: the same body
    assert again.status_code == 200
    assert again.content == r.content
