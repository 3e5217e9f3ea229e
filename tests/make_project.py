"""A tiny project on disk: cog.yaml plus the files it points at."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

MakeProject = Callable[..., Path]


@pytest.fixture
def make_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MakeProject:
    """Write cog.yaml (dedented) and extra files; chdir there so errors say `cog.yaml:…`."""
    monkeypatch.chdir(tmp_path)

    def make(cog_yaml: str, files: dict[str, str] | None = None) -> Path:
        (tmp_path / "cog.yaml").write_text(textwrap.dedent(cog_yaml).lstrip("\n"), encoding="utf-8")
        for name, text in {"predict.py": "", **(files or {})}.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return tmp_path / "cog.yaml"

    return make
