"""Everything a prediction writes reaches its LogEvents, down to fds 1 and 2."""

from __future__ import annotations

import asyncio

import pytest

from .helpers import collect, run, started


def test_all_output_kinds_are_captured_per_prediction() -> None:
    async def go() -> None:
        async with started("logs_fd.py:Predictor") as client:
            await client.wait_for_setup()
            for tag in ("one", "two"):
                result = await collect(client, f"p-{tag}", {"tag": tag})
                assert result.done.status == "succeeded", result.done.error
                for line in (
                    f"python print {tag}",
                    f"python stderr {tag}",
                    f"raw fd1 {tag}",
                    f"c printf {tag}",
                    f"subprocess {tag}",
                    f"subprocess-err {tag}",
                ):
                    assert line in result.logs, f"{line!r} missing from {result.logs!r}"
                other = "two" if tag == "one" else "one"
                assert other not in result.logs

    run(go())


def test_streams_are_labelled() -> None:
    async def go() -> None:
        from cogkit.worker.events import LogEvent

        async with started("sync_hello.py:Predictor") as client:
            await client.wait_for_setup()
            streams: dict[str, str] = {"stdout": "", "stderr": ""}
            async for event in client.predict("p", {"text": "x"}):
                if isinstance(event, LogEvent):
                    streams[event.stream] += event.text
            assert streams == {"stdout": "echo x\n", "stderr": "to fd 2\n"}

    run(go())


def test_concurrent_async_predictions_keep_their_own_python_logs() -> None:
    async def go() -> None:
        async with started("async_concurrent.py:Predictor") as client:
            await client.wait_for_setup()
            names = [f"n{i}" for i in range(4)]
            results = await asyncio.gather(
                *(collect(client, name, {"name": name, "delay": 0.2}) for name in names)
            )
            for name, result in zip(names, results, strict=True):
                assert result.logs == f"start {name}\nend {name}\n"
                assert result.values == [f"done {name} {name}"]
                assert result.done.metrics == {"delay": 0.2}

    run(go())


def test_async_predictor_streams_behave_like_real_streams() -> None:
    async def go() -> None:
        async with started("async_streams.py:Predictor") as client:
            await client.wait_for_setup()
            result = await collect(client, "p", {"tag": "x"})
            assert result.done.status == "succeeded", result.done.error
            assert result.values == ["utf-8 False"]
            assert "binary x\n" in result.logs and "text x\n" in result.logs

    run(go())


def test_model_output_is_echoed_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    """Setup's and a lone prediction's lines as they are; overlapping predictions' lines each
    carry the prediction id, with control characters in a client's id made harmless."""

    async def go() -> None:
        async with started("sync_hello.py:Predictor") as client:
            await client.wait_for_setup()
            await collect(client, "p", {"text": "x"})
        async with started("async_concurrent.py:Predictor") as client:
            await client.wait_for_setup()
            ids = {"n0": "n0", "n1": "n1", "evil\n[n0] forged": "e"}
            await asyncio.gather(*(collect(client, i, {"name": n, "delay": 0.2}) for i, n in ids.items()))

    run(go())
    err = capsys.readouterr().err.splitlines()
    assert "setup ran" in err and "echo x" in err and "to fd 2" in err
    assert {"[n0] start n0", "[n1] start n1", "[evil?[n0] forged] start e"} <= set(err)
    assert not any(line.startswith("[n0] forged") for line in err)


def test_the_echo_can_be_turned_off(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COGKIT_ECHO_MODEL_OUTPUT", "0")

    async def go() -> None:
        async with started("sync_hello.py:Predictor") as client:
            await client.wait_for_setup()
            result = await collect(client, "p", {"text": "x"})
            assert "echo x" in result.logs

    run(go())
    assert "echo x" not in capsys.readouterr().err
