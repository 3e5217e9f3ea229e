"""The SDK's value types behave like Cog's, without pydantic."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

import cogkit
from cogkit import BaseModel, Input, Path, Secret, concurrent, current_scope, record_metric
from cogkit.sdk.input import MISSING
from cogkit.sdk.scope import Scope, enter_scope, exit_scope


def test_secret_never_shows_its_value() -> None:
    secret = Secret("hunter2")
    assert secret.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(secret) and "hunter2" not in str(secret)
    assert "hunter2" not in f"{secret} {[secret]} {secret!r}"


def test_path_is_a_pathlib_path() -> None:
    path = Path("/tmp/a.png")
    assert isinstance(path, pathlib.Path) and path.suffix == ".png"
    assert isinstance(path / "b", Path)


def test_base_model_is_a_dataclass() -> None:
    class Output(BaseModel):
        text: str
        score: float | None = None

    out = Output(text="hi")
    assert out.model_dump() == {"text": "hi", "score": None} == out.dict()
    with pytest.raises(TypeError):
        Output()  # type: ignore[call-arg]


def test_input_options_are_kept() -> None:
    info = Input(default=3, ge=1, le=5, description="d", deprecated=True)
    assert (info.default, info.ge, info.le, info.description, info.deprecated) == (3, 1, 5, "d", True)
    assert Input().default is MISSING
    assert "ge=1" in repr(info)


def test_concurrent_needs_a_positive_int() -> None:
    with pytest.raises(ValueError, match="positive integer"):
        concurrent(max=0)


def test_scope_metrics() -> None:
    scope = Scope("p1", {"k": "v"})
    token = enter_scope(scope)
    try:
        record_metric("a", 1)
        current_scope().record_metric("b", 2, mode="incr")
        current_scope().record_metric("b", 3, mode="incr")
        current_scope().record_metric("c", "x", mode="append")
        with pytest.raises(ValueError, match="unknown metric mode"):
            record_metric("d", 1, mode="bogus")
    finally:
        exit_scope(token)
    assert scope.metrics == {"a": 1, "b": 5, "c": ["x"]}
    assert current_scope() is not scope


def test_public_surface_is_complete() -> None:
    import cogkit.sdk

    defined_here = {
        name
        for name, value in vars(cogkit.sdk).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("cogkit.sdk")
    }
    assert defined_here == set(cogkit.sdk.__all__)
    assert set(cogkit.__all__) == {*cogkit.sdk.__all__, "__version__"}
    assert all(getattr(cogkit, name) is getattr(cogkit.sdk, name) for name in cogkit.sdk.__all__)
    assert cogkit.__version__


def test_importing_cogkit_defers_the_sdk_until_a_name_is_used() -> None:
    code = (
        "import sys, cogkit\n"
        "assert 'cogkit.sdk' not in sys.modules\n"
        "from cogkit import Input\n"
        "assert 'cogkit.sdk' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        cogkit.Nope  # noqa: B018
