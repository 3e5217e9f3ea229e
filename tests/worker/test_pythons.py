"""The worker runs in the user's interpreter, which may be any CPython from 3.8 on.

Every interpreter found on this machine (pyenv versions, python3.X on PATH) runs one predictor
written for 3.8 through setup, a prediction, an iterator and a cancellation.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys

import pytest

from cogkit.worker.events import LogEvent

from .helpers import collect, run, started

PYENV = os.path.expanduser(os.environ.get("PYENV_ROOT", "~/.pyenv"))


def _interpreters() -> dict[str, str]:
    """version → path of one interpreter for each CPython 3.8+ present (always includes this one)."""
    candidates = glob.glob(f"{PYENV}/versions/3.*/bin/python3") + glob.glob("/usr/bin/python3.*")
    candidates += [p for v in range(8, 15) if (p := shutil.which(f"python3.{v}"))]
    found = {f"{sys.version_info[0]}.{sys.version_info[1]}": sys.executable}
    for path in candidates:
        try:
            out = subprocess.run(
                [path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True, text=True, timeout=30,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired):
            continue
        version = out.stdout.strip()
        if out.returncode == 0 and tuple(int(p) for p in version.split(".")) >= (3, 8):
            found.setdefault(version, path)
    return found


INTERPRETERS = _interpreters()


@pytest.mark.parametrize("version", sorted(INTERPRETERS, key=lambda v: tuple(map(int, v.split(".")))))
def test_worker_runs_on_python(version: str, tmp_path) -> None:
    python = INTERPRETERS[version]
    image = tmp_path / "in.txt"
    image.write_text("x")

    async def go() -> None:
        async with started("py38_compat.py:Predictor", python=python) as client:
            setup = await client.wait_for_setup()
            assert setup.status == "succeeded", setup.logs
            assert "setup on an old python" in setup.logs
            result = await collect(
                client, "p", {"text": "a b", "image": str(image), "token": "s3", "repeat": 2}
            )
            assert result.done.status == "succeeded", result.done.error
            assert result.values[0]["words"] == ["a", "b", "a", "b"]
            assert result.values[0]["file"].read_text() == "x"
            assert "token **********" in result.logs and "s3" not in result.logs
            canceled = []
            async for event in client.predict("c", {"mode": "sleep"}):
                canceled.append(event)
                if len(canceled) == 1:
                    await client.cancel("c")
            assert canceled[-1].status == "canceled"
            assert not any(isinstance(e, LogEvent) and "Traceback" in e.text for e in canceled)
        async with started("py38_compat.py:stream", python=python) as client:
            await client.wait_for_setup()
            assert (await collect(client, "s", {"count": 3})).values == ["t0", "t1", "t2"]

    run(go())


def test_an_old_interpreter_was_found() -> None:
    """On this machine pyenv provides 3.8; elsewhere at least the running interpreter is tested."""
    if glob.glob(f"{PYENV}/versions/3.8.*/bin/python3"):
        assert "3.8" in INTERPRETERS
