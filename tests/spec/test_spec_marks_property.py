"""Property: wherever a misspelt key sits, the error names its line and the key it meant."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cogkit.errors import SpecError
from cogkit.spec import load_spec

BUILD_LINES = {
    "gpu": "gpu: false",
    "python_version": 'python_version: "3.11"',
    "system_packages": 'system_packages: ["ffmpeg"]',
    "cuda": 'cuda: "12.1"',
    "run": 'run: ["echo hi"]',
}


def _misspell(key: str, data: st.DataObject) -> str:
    index = data.draw(st.integers(min_value=1, max_value=len(key) - 2))
    return key[:index] + key[index + 1] + key[index] + key[index + 2 :]  # swap two letters


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_misspelt_key_is_found_at_its_line(data: st.DataObject) -> None:
    order = data.draw(st.permutations(list(BUILD_LINES)))
    target = data.draw(st.sampled_from(order))
    wrong = _misspell(target, data)
    if wrong == target:
        return
    lines = ["build:"]
    for key in order:
        text = BUILD_LINES[key]
        lines.append("  " + (text.replace(key, wrong, 1) if key == target else text))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cog.yaml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        with pytest.raises(SpecError) as caught:
            load_spec(path)
    err = caught.value
    assert err.line == order.index(target) + 2 and err.column == 3
    assert err.key == f"build.{wrong}"
    assert err.hint == f"did you mean '{target}'?"
