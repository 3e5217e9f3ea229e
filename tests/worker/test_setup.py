"""Setup failures, schema errors and COG_SETUP_TIMEOUT become SETUP_FAILED with a clear error."""

from __future__ import annotations

import pytest

from cogkit.worker.events import WorkerState

from .helpers import run, started


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
