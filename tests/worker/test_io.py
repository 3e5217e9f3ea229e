"""Inputs become Path/File/Secret by the schema; outputs keep files as pathlib.Path anywhere."""

from __future__ import annotations

import pathlib

from cogkit.worker.events import ChunksEvent, OutputEvent

from .helpers import collect, run, started


def test_inputs_are_converted(tmp_path: pathlib.Path) -> None:
    image = tmp_path / "in.png"
    image.write_text("pixels")
    blob = tmp_path / "blob.bin"
    blob.write_text("bytes")
    extra = tmp_path / "x.txt"
    extra.write_text("X")

    async def go() -> None:
        async with started("inputs.py:Predictor") as client:
            await client.wait_for_setup()
            inputs = {
                "image": str(image),
                "blob": str(blob),
                "token": "s3cret",
                "images": [str(extra)],
                "scale": 2,
            }
            result = await collect(client, "p", inputs)
            assert result.done.status == "succeeded", result.done.error
            value = result.values[0]
            assert value["image"] == ["Path", "pixels"]
            assert value["blob"] == ["file", "bytes"]
            assert value["token"] == ["Secret", "s3cret", "Secret('**********')"]
            assert value["images"] == ["X"]
            assert value["mode"] == "fast"
            assert value["scale"] == ["float", 2.0]
            assert value["note"] is None
            assert "s3cret" not in result.logs and "token is **********" in result.logs

    run(go())


def test_file_outputs_stay_paths() -> None:
    async def go() -> None:
        async with started("outputs.py:Predictor") as client:
            await client.wait_for_setup()
            model = (await collect(client, "m", {"kind": "model"})).values[0]
            assert model["text"] == "hello"
            assert isinstance(model["image"], pathlib.Path) and model["image"].read_text() == "A"
            assert [p.read_text() for p in model["extra"]] == ["B"]
            listed = (await collect(client, "l", {"kind": "list"})).values[0]
            assert all(isinstance(p, pathlib.Path) and p.is_absolute() for p in listed)
            nested = (await collect(client, "d", {"kind": "dict"})).values[0]
            assert isinstance(nested["nested"]["file"], pathlib.Path) and nested["n"] == 1

    run(go())


def test_iterator_outputs_are_chunks() -> None:
    async def go() -> None:
        async with started("iterators.py:Predictor") as client:
            await client.wait_for_setup()
            assert client.output_is_iterator
            output = client.schema["components"]["schemas"]["Output"]
            assert output["x-cog-array-display"] == "concatenate"
            result = await collect(client, "p", {"count": 3})
            assert list(zip(result.values, result.chunked, strict=True)) == [
                ("tok0 ", True),
                ("tok1 ", True),
                ("tok2 ", True),
            ]
            assert result.logs == "token 0\ntoken 1\ntoken 2\n"
        async with started("iterators.py:numbers") as client:
            await client.wait_for_setup()
            assert (await collect(client, "p", {"count": 2})).values == [0, 1]

    run(go())


def test_async_iterator_outputs_are_chunks() -> None:
    async def go() -> None:
        async with started("async_iterator.py:Predictor") as client:
            await client.wait_for_setup()
            assert client.output_is_iterator and client.is_async
            result = await collect(client, "p", {"count": 2})
            assert list(zip(result.values, result.chunked, strict=True)) == [
                ("chunk0", True),
                ("chunk1", True),
            ]

    run(go())


def test_pydantic_output_when_the_user_has_pydantic() -> None:
    async def go() -> None:
        async with started("pydantic_output.py:Predictor") as client:
            assert (await client.wait_for_setup()).status == "succeeded"
            output = client.schema["components"]["schemas"]["Output"]
            assert output["properties"]["boxes"]["items"]["properties"]["label"]["type"] == "string"
            assert "$defs" not in str(output)
            result = await collect(client, "p", {"n": 2})
            assert result.values == [
                {"boxes": [{"label": "b0", "score": 0.0}, {"label": "b1", "score": 0.1}], "count": 2}
            ]

    run(go())


def test_mutable_defaults_do_not_leak_between_predictions() -> None:
    async def go() -> None:
        async with started("mutable_default.py:predict") as client:
            await client.wait_for_setup()
            assert [(await collect(client, f"p{i}", {})).values[0] for i in range(3)] == [1, 1, 1]

    run(go())


def test_file_like_outputs_leave_no_temp_files_behind() -> None:
    """A file object without a path (io.BytesIO) is copied into the client's outputs folder for
    the server to read; the copy is gone once the consumer asks for the next event, and the
    folder at stop."""

    async def go() -> None:
        for ref, inputs, contents in (
            ("file_outputs.py:Predictor", {"kind": "one"}, [b"one"]),
            ("file_outputs.py:Predictor", {"kind": "many"}, [b"first", b"second"]),
            ("file_outputs.py:stream", {"count": 3}, [b"chunk 0", b"chunk 1", b"chunk 2"]),
        ):
            async with started(ref) as client:
                await client.wait_for_setup()
                folder = pathlib.Path(client._outputs_dir)
                seen: list[pathlib.Path] = []
                async for event in client.predict("p", inputs):
                    for previous in seen:
                        assert not previous.exists(), "an earlier event's temp file outlived it"
                    if isinstance(event, (OutputEvent, ChunksEvent)):
                        paths = _paths(event.value if isinstance(event, OutputEvent) else event.values)
                        assert [p.read_bytes() for p in paths] == contents[len(seen) : len(seen) + len(paths)]
                        assert all(p.parent == folder for p in paths)
                        seen += paths
                assert len(seen) == len(contents)
                assert list(folder.iterdir()) == []
            assert not folder.exists()

    run(go())


def _paths(value: object) -> list[pathlib.Path]:
    if isinstance(value, pathlib.Path):
        return [value]
    if isinstance(value, dict):
        return [p for v in value.values() for p in _paths(v)]
    if isinstance(value, list):
        return [p for v in value for p in _paths(v)]
    return []


def test_an_output_larger_than_the_read_buffer_arrives_whole() -> None:
    async def go() -> None:
        async with started("big_output.py:predict") as client:
            await client.wait_for_setup()
            for size in (5 << 20, 3, 1 << 20):  # several reads of the socket each, then one
                result = await collect(client, f"p{size}", {"size": size})
                assert result.done.status == "succeeded", result.done.error
                expected = "".join(chr(ord("a") + i % 26) for i in range(size))
                assert result.values == [expected]

    run(go())
