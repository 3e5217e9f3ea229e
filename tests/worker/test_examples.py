"""The example predictors in examples/, written against `from cog import ...`, run unchanged.

The torch example runs in its own virtual environment (torch from requirements.txt), as a user's
model does: the worker runs in that interpreter, cogkit's SDK reaches it through sdk_path().
"""

from __future__ import annotations

import asyncio
import pathlib
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest
from PIL import Image

from .helpers import collect, run, started

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"
VENV_TIMEOUT_S = 600
LOCAL_WHEELS = pathlib.Path("/opt/wheels")


@pytest.fixture(scope="session")
def torch_python(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A user environment holding torch (a local CPU wheel on this machine), made once per session."""
    venv = tmp_path_factory.mktemp("torch-venv") / "venv"
    uv = shutil.which("uv", path=str(pathlib.Path(sys.executable).parent)) or "uv"
    subprocess.run(
        [uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True, timeout=VENV_TIMEOUT_S
    )
    python = str(venv / "bin" / "python")
    requirements = EXAMPLES / "torch-cpu" / "requirements.txt"
    # Where the CPU torch wheel is kept on this machine; elsewhere the package index provides it.
    links = ["--find-links", str(LOCAL_WHEELS)] if LOCAL_WHEELS.is_dir() else []
    install = [uv, "pip", "install", "-q", "--python", python, *links, "-r", str(requirements)]
    subprocess.run(install, check=True, timeout=VENV_TIMEOUT_S)
    yield python


def test_torch_cpu(torch_python: str) -> None:
    async def go() -> None:
        async with started("predict.py:Predictor", cwd=EXAMPLES / "torch-cpu", python=torch_python) as client:
            setup = await asyncio.wait_for(client.wait_for_setup(), 120)
            assert setup.status == "succeeded", setup.logs
            assert "trained XOR" in setup.logs
            answers = {}
            for a, b in ((0, 0), (0, 1), (1, 0), (1, 1)):
                result = await collect(client, f"p{a}{b}", {"a": float(a), "b": float(b)})
                assert result.done.status == "succeeded", result.done.error
                answers[(a, b)] = result.values[0]
            assert answers[(0, 1)] > 0.5 and answers[(1, 0)] > 0.5
            assert answers[(0, 0)] < 0.5 and answers[(1, 1)] < 0.5

    run(go())


def test_image_pillow(tmp_path: pathlib.Path) -> None:
    source = tmp_path / "in.png"
    Image.new("RGB", (64, 32), (200, 10, 10)).save(source)

    async def go() -> None:
        async with started("predict.py:Predictor", cwd=EXAMPLES / "image-pillow") as client:
            assert (await client.wait_for_setup()).status == "succeeded"
            props = client.schema["components"]["schemas"]["Input"]["properties"]
            assert props["image"]["format"] == "uri"
            result = await collect(client, "p", {"image": str(source), "operation": "rotate", "size": 64})
            assert result.done.status == "succeeded", result.done.error
            out = result.values[0]
            assert isinstance(out, pathlib.Path)
            with Image.open(out) as picture:
                assert picture.size == (32, 64)
            assert "rotate: 32x64" in result.logs

    run(go())


def test_streaming() -> None:
    async def go() -> None:
        async with started("predict.py:Predictor", cwd=EXAMPLES / "streaming") as client:
            await client.wait_for_setup()
            output = client.schema["components"]["schemas"]["Output"]
            assert output["x-cog-array-type"] == "iterator" and output["x-cog-array-display"] == "concatenate"
            result = await collect(client, "p", {"prompt": "Hi", "max_tokens": 3})
            assert result.chunked == [True] * 4
            assert "".join(result.values).startswith("Hi ")

    run(go())


def test_async_concurrent_runs_predictions_at_once() -> None:
    async def go() -> None:
        async with started("predict.py:Predictor", cwd=EXAMPLES / "async-concurrent") as client:
            await client.wait_for_setup()
            assert client.is_async and client.max_concurrency == 8
            results = await asyncio.gather(
                *(collect(client, f"p{i}", {"text": f"ab{i}", "wait": 0.3}) for i in range(8))
            )
            assert sorted(r.values[0] for r in results) == sorted(f"{i}ba" for i in range(8))
            assert sorted(r.done.metrics["served_total"] for r in results) == list(range(1, 9))
            # A sequential worker would only ever see one prediction active at a time.
            assert max(r.done.metrics["active_at_start"] for r in results) > 1

    run(go())
