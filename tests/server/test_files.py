"""File inputs (downloads, data URIs) and outputs (data URIs, uploads) against a real receiver."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest

from cogkit.server.downloads import download_inputs, file_fields, safe_name
from cogkit.server.encoding import dumps
from cogkit.server.http_errors import InputInvalid
from cogkit.server.outputs import OutputEncoder
from tests.server.receiver import Receiver

pytestmark = pytest.mark.anyio

SCHEMA = {
    "components": {
        "schemas": {
            "Input": {
                "properties": {
                    "image": {"type": "string", "format": "uri"},
                    "many": {"type": "array", "items": {"type": "string", "format": "uri"}},
                    "maybe": {"type": "string", "format": "uri", "nullable": True},
                    "text": {"type": "string"},
                }
            }
        }
    }
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_file_fields_finds_single_and_list_inputs() -> None:
    assert file_fields(SCHEMA) == {"image": False, "many": True, "maybe": False}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/a/b/photo.png", "photo.png"),
        ("../../etc/passwd", "passwd"),
        ("..", "file"),
        ("we%20ird$name;rm -rf.jpg", "we_ird_name_rm_-rf.jpg"),
        (".hidden", "hidden"),
    ],
)
def test_safe_name(raw: str, expected: str) -> None:
    assert safe_name(raw) == expected


def test_safe_name_bounds_length_and_keeps_extension() -> None:
    name = safe_name("x" * 300 + ".png")
    assert len(name) <= 100
    assert name.endswith(".png")


async def test_downloads_urls_and_data_uris(tmp_path: Path) -> None:
    with Receiver() as r:
        r.files["/pics/cat.png"] = b"meow"
        r.files["/pics/dog.png"] = b"woof"
        data = "data:text/plain;base64," + base64.b64encode(b"hello").decode()
        async with httpx.AsyncClient() as client:
            out = await download_inputs(
                {"image": r.url + "/pics/cat.png", "many": [r.url + "/pics/dog.png", data], "text": "t"},
                file_fields(SCHEMA),
                client=client,
                directory=tmp_path,
                max_bytes=1000,
            )
    assert Path(out["image"]).read_bytes() == b"meow"
    assert Path(out["image"]).name == "cat.png"
    assert [Path(p).read_bytes() for p in out["many"]] == [b"woof", b"hello"]
    assert Path(out["many"][1]).suffix == ".txt"
    assert out["text"] == "t"
    assert all(Path(p).is_relative_to(tmp_path) for p in [out["image"], *out["many"]])


async def test_download_over_the_limit_fails_naming_the_field(tmp_path: Path) -> None:
    with Receiver() as r:
        async with httpx.AsyncClient() as client:
            with pytest.raises(InputInvalid) as info:
                await download_inputs(
                    {"image": r.url + "/big/5000"},
                    file_fields(SCHEMA),
                    client=client,
                    directory=tmp_path,
                    max_bytes=1000,
                )
    assert info.value.detail[0]["loc"] == ["body", "input", "image"]
    assert "limit" in info.value.detail[0]["msg"]


async def test_download_404_and_bad_scheme_fail(tmp_path: Path) -> None:
    with Receiver() as r:
        async with httpx.AsyncClient() as client:
            with pytest.raises(InputInvalid, match="404"):
                await download_inputs(
                    {"image": r.url + "/missing.png"},
                    {"image": False},
                    client=client,
                    directory=tmp_path,
                    max_bytes=10,
                )
            with pytest.raises(InputInvalid, match="only http"):
                await download_inputs(
                    {"image": "file:///etc/passwd"},
                    {"image": False},
                    client=client,
                    directory=tmp_path,
                    max_bytes=10,
                )


async def test_output_paths_become_data_uris(tmp_path: Path) -> None:
    f = tmp_path / "out.png"
    f.write_bytes(b"\x89PNG")
    encoder = OutputEncoder(client=None, upload_url=None, max_file_bytes=100)
    out = await encoder.encode({"a": [f, 1], "b": "x"})
    expected = {"a": ["data:image/png;base64," + base64.b64encode(b"\x89PNG").decode(), 1], "b": "x"}
    assert json.loads(dumps(out, verbatim=True)) == expected


async def test_output_paths_are_uploaded_when_an_upload_url_is_set(tmp_path: Path) -> None:
    f = tmp_path / "result file.txt"
    f.write_bytes(b"done")
    with Receiver() as r:
        async with httpx.AsyncClient() as client:
            encoder = OutputEncoder(client=client, upload_url=r.url + "/uploads/", max_file_bytes=1)
            out = await encoder.encode([f])
        assert out == [r.url + "/uploads/result_file.txt"]
        assert r.files["/uploads/result_file.txt"] == b"done"
        assert r.requests[0].headers["content-type"] == "text/plain"
