"""sdk_path(): one private import folder, made safely even by many processes at once."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import cogkit
from cogkit.worker import sdk_path

PACKAGE = pathlib.Path(cogkit.__file__).resolve().parent
PROBE = "from cogkit.worker import sdk_path; print(sdk_path())"


def test_concurrent_creation_gives_one_valid_folder(tmp_path: pathlib.Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    procs = [
        subprocess.Popen([sys.executable, "-c", PROBE], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    paths = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert len(paths) == 1
    folder = pathlib.Path(paths.pop())
    assert folder.parent == tmp_path / "cogkit"
    assert (folder / "cogkit").resolve() == PACKAGE
    assert (folder / "cog" / "__init__.py").is_file()
    assert [p.name for p in (tmp_path / "cogkit").iterdir()] == [folder.name]  # no scratch left behind


def test_falls_back_to_temp_when_the_cache_is_unusable(tmp_path: pathlib.Path) -> None:
    cache = tmp_path / "not-a-dir"
    cache.write_text("a file where the cache folder should be: unusable even for root")
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "TMPDIR": str(temp)}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    folder = pathlib.Path(out.stdout.strip())
    assert folder.is_relative_to(temp)
    assert (folder / "cogkit").resolve() == PACKAGE


def test_preset_folder_is_used(monkeypatch, tmp_path: pathlib.Path) -> None:
    monkeypatch.setenv("COGKIT_SDK_PATH", str(tmp_path))
    assert sdk_path() == tmp_path
