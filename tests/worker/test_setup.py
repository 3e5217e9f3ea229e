"""Setup failures, schema errors and COG_SETUP_TIMEOUT become SETUP_FAILED with a clear error."""

from __future__ import annotations

import pathlib

import pytest

from cogkit.worker.events import WorkerState

from .helpers import FIXTURES, run, started

SYNTAX_ERROR = """from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self) -> str
        return "missing colon"
"""


@pytest.mark.parametrize(
    ("ref", "error", "logs"),
    [
        (
            "setup_raises.py:Predictor",
            "setup() raised RuntimeError: weights file is corrupt",
            "loading the model",
        ),
        ("bad_type.py:Predictor", "parameter 'tags': unsupported type set", ""),
        ("bad_default.py:Predictor", "parameter 'steps': default 500 is invalid", ""),
        ("import_error.py:Predictor", "importing import_error.py failed: ImportError", "importing a module"),
        ("missing.py:Predictor", "file missing.py not found", ""),
        ("sync_hello.py:Nope", "sync_hello.py defines no 'Nope'", ""),
    ],
)
def test_setup_failure_is_reported(ref: str, error: str, logs: str) -> None:
    async def go() -> None:
        async with started(ref) as client:
            setup = await client.wait_for_setup()
            assert setup.status == "failed"
            assert error in (setup.error or "")
            assert logs in setup.logs
            assert client.state == WorkerState.SETUP_FAILED

    run(go())


def test_schema_is_available_before_setup_finishes() -> None:
    async def go() -> None:
        async with started("setup_slow.py:Predictor", setup_timeout=30) as client:
            schema = await client.wait_for_schema()
            assert schema is not None and client.state == WorkerState.STARTING

    run(go())


@pytest.mark.parametrize("source", ["argument", "env"])
def test_setup_timeout(source: str) -> None:
    async def go() -> None:
        kwargs = {"setup_timeout": 1.0} if source == "argument" else {"env": {"COG_SETUP_TIMEOUT": "1"}}
        async with started("setup_slow.py:Predictor", **kwargs) as client:
            setup = await client.wait_for_setup()
            assert setup.status == "failed"
            assert "setup() did not finish within 1s (COG_SETUP_TIMEOUT)" in setup.error
            assert "slow setup begins" in setup.logs
            assert client.state == WorkerState.SETUP_FAILED

    run(go())


def test_missing_interpreter_is_a_clear_error(tmp_path) -> None:
    from cogkit.errors import PredictorError
    from cogkit.worker.client import WorkerClient

    async def go() -> None:
        client = WorkerClient("sync_hello.py:Predictor", cwd=tmp_path, python=str(tmp_path / "no-python"))
        with pytest.raises(PredictorError, match=r"cannot start the worker with .*no-python"):
            await client.start()

    run(go())


@pytest.mark.parametrize(
    ("ref", "first", "frames"),
    [
        (
            "setup_raises.py:Predictor",
            "setup() raised RuntimeError: weights file is corrupt",
            ['setup_raises.py", line 7, in setup'],
        ),
        (
            "setup_nested.py:Predictor",
            "setup() raised RuntimeError: cannot load the weights",
            ['setup_nested.py", line 14, in setup', 'setup_nested.py", line 9, in load_weights'],
        ),
        (
            "import_error.py:Predictor",
            "importing import_error.py failed: ImportError: No module named 'nonexistent_dependency'",
            ['import_error.py", line 2, in <module>'],
        ),
        (
            "syntax_error.py:Predictor",
            "importing syntax_error.py failed: SyntaxError: expected ':' (syntax_error.py, line 5)",
            ['syntax_error.py", line 5', "def predict(self) -> str"],
        ),
    ],
)
def test_user_errors_show_the_useful_line_first_and_user_frames_only(
    ref: str, first: str, frames: list[str], tmp_path: pathlib.Path
) -> None:
    cwd = FIXTURES
    if ref.startswith("syntax_error"):  # written here: a broken file in the tree would upset linters
        cwd = tmp_path
        (tmp_path / "syntax_error.py").write_text(SYNTAX_ERROR)

    async def go() -> None:
        async with started(ref, cwd=cwd) as client:
            setup = await client.wait_for_setup()
            report = setup.logs[setup.logs.index(first[:12]) :]
            assert report.startswith(first + "\n"), setup.logs
            for frame in frames:
                assert frame in report
            assert "cogkit" not in report and "<frozen" not in report and "asyncio" not in report
            if ref.startswith("setup_nested"):  # the cause follows, with its own frames
                assert "caused by: FileNotFoundError: [Errno 2] No such file or directory" in report

    run(go())


def test_a_wrong_class_name_is_one_line_with_the_names_there_are() -> None:
    async def go() -> None:
        async with started("sync_hello.py:Predictr") as client:
            setup = await client.wait_for_setup()
            assert setup.error == (
                "sync_hello.py:Predictr: sync_hello.py defines no 'Predictr'\n"
                "  hint: names it defines: BasePredictor, Input, Predictor, os"
            )
            assert "Traceback" not in setup.logs

    run(go())
