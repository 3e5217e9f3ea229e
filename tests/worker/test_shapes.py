"""Each predictor shape runs in a real child: BasePredictor, BaseRunner, plain class, functions."""

from __future__ import annotations

import pytest

from cogkit.worker.events import WorkerState

from .helpers import collect, run, started


@pytest.mark.parametrize(
    ("ref", "inputs", "expected", "is_async"),
    [
        ("sync_hello.py:Predictor", {"text": "ab", "n": 2}, "abab", False),
        ("runner_shape.py:Runner", {"x": 21}, 42, False),
        ("plain_class.py:Predictor", {"x": 1}, 11, False),
        ("plain_function.py:predict", {"a": 3.0}, 6.0, False),
        ("plain_function.py:predict_async", {"word": "hey"}, "HEY", True),
        ("async_concurrent.py:Predictor", {"name": "x"}, "done x p1", True),
    ],
)
def test_shapes_predict(ref: str, inputs: dict, expected: object, is_async: bool) -> None:
    async def go() -> None:
        async with started(ref) as client:
            setup = await client.wait_for_setup()
            assert setup.status == "succeeded", setup.error
            assert client.state == WorkerState.READY
            assert client.is_async is is_async
            assert client.schema is not None and "Input" in client.schema["components"]["schemas"]
            result = await collect(client, "p1", inputs)
            assert result.done.status == "succeeded", result.done.error
            assert result.values == [expected]

    run(go())


def test_setup_logs_and_timestamps() -> None:
    async def go() -> None:
        async with started("sync_hello.py:Predictor") as client:
            setup = await client.wait_for_setup()
            assert setup.logs == "setup ran\n"
            assert setup.completed_at is not None and setup.completed_at >= setup.started_at

    run(go())


def test_async_setup_runs_before_predictions() -> None:
    async def go() -> None:
        async with started("async_concurrent.py:Predictor") as client:
            setup = await client.wait_for_setup()
            assert "async setup ran" in setup.logs
            assert client.max_concurrency == 4

    run(go())


def test_sequential_predictions_reuse_the_child() -> None:
    async def go() -> None:
        async with started("sync_hello.py:Predictor") as client:
            await client.wait_for_setup()
            for i in range(20):
                result = await collect(client, f"p{i}", {"text": str(i)})
                assert result.values == [str(i)]
                assert "setup ran" not in result.logs
            assert client.restarts == 0

    run(go())


def test_weights_reach_setup(tmp_path) -> None:
    async def go() -> None:
        async with started("setup_weights.py:Predictor", weights="/data/model.bin") as client:
            assert (await client.wait_for_setup()).status == "succeeded"
            result = await collect(client, "p", {})
            assert result.values == ["Path:/data/model.bin"]
        async with started("setup_weights.py:Predictor", weights="https://example.com/w.tar") as client:
            await client.wait_for_setup()
            assert (await collect(client, "p", {})).values == ["str:https://example.com/w.tar"]

    run(go())


def test_sync_predictor_cannot_be_concurrent() -> None:
    async def go() -> None:
        async with started("concurrent_sync.py:Predictor") as client:
            setup = await client.wait_for_setup()
            assert setup.status == "failed"
            assert "@concurrent(max=2) needs an async predict()" in setup.error
            assert client.state == WorkerState.SETUP_FAILED

    run(go())


def test_a_sync_predictor_reports_what_the_server_needs_to_limit_concurrency() -> None:
    """The server decides the concurrency (server/config.py:effective_concurrency) from these."""

    async def go() -> None:
        async with started("sync_hello.py:Predictor") as client:
            await client.wait_for_setup()
            assert (client.is_async, client.max_concurrency) == (False, 1)

    run(go())


def test_healthcheck() -> None:
    async def go() -> None:
        async with started("healthcheck.py:Predictor") as client:
            await client.wait_for_setup()
            assert await client.healthcheck() is True
        async with started("healthcheck.py:Predictor", env={"HEALTHY": "0"}) as client:
            await client.wait_for_setup()
            assert await client.healthcheck() is False
        async with started("sync_hello.py:Predictor") as client:
            await client.wait_for_setup()
            assert await client.healthcheck() is None

    run(go())


def test_metrics_and_context() -> None:
    async def go() -> None:
        async with started("metrics.py:Predictor") as client:
            await client.wait_for_setup()
            result = await collect(client, "p", {"n": 3}, context={"who": "alice"})
            assert result.values == ["alice"]
            assert result.done.metrics == {"tokens": 3, "steps": 3}

    run(go())


def test_cog_resolves_to_the_shim_even_when_another_cog_is_importable(tmp_path) -> None:
    decoy = tmp_path / "cog"
    decoy.mkdir()
    (decoy / "__init__.py").write_text("raise ImportError('the real cog package was imported')\n")

    async def go() -> None:
        async with started("sync_hello.py:Predictor", env={"PYTHONPATH": str(tmp_path)}) as client:
            setup = await client.wait_for_setup()
            assert setup.status == "succeeded", setup.logs

    run(go())


def test_train_mode() -> None:
    async def go() -> None:
        async with started("trainer.py:train", mode="train") as client:
            assert (await client.wait_for_setup()).status == "succeeded"
            schemas = client.schema["components"]["schemas"]
            assert {"TrainingInput", "TrainingOutput", "TrainingRequest", "TrainingResponse"} <= set(schemas)
            assert "/trainings" in client.schema["paths"]
            result = await collect(client, "t1", {"data": "ab", "epochs": 3})
            assert result.done.status == "succeeded", result.done.error
            assert result.values[0]["epochs"] == 3 and result.values[0]["weights"].read_text() == "ababab"
            assert "training on 2 characters" in result.logs
        async with started("trainer.py:Trainer", mode="train") as client:
            await client.wait_for_setup()
            assert (await collect(client, "t2", {"data": "x"})).values == ["class:x"]

    run(go())


def test_project_files_named_cog_or_like_stdlib_modules(tmp_path) -> None:
    """A project's own `cog.py` must not shadow the shim; a `types.py` predictor must still load."""
    (tmp_path / "cog.py").write_text('raise ImportError("the project\'s cog.py shadowed the shim")\n')
    (tmp_path / "types.py").write_text(
        "from cog import BasePredictor\n\n\n"
        "class Predictor(BasePredictor):\n"
        "    def predict(self, x: int = 1) -> int:\n"
        "        return x + 1\n"
    )

    async def go() -> None:
        async with started("types.py:Predictor", cwd=tmp_path) as client:
            setup = await client.wait_for_setup()
            assert setup.status == "succeeded", setup.logs
            assert (await collect(client, "p", {"x": 41})).values == [42]

    run(go())


def test_unserialisable_metric_does_not_lose_the_prediction() -> None:
    async def go() -> None:
        async with started("metrics.py:BadMetric") as client:
            await client.wait_for_setup()
            result = await collect(client, "p", {})
            assert result.done.status == "succeeded" and result.values == ["still fine"]
            assert result.done.metrics == {} and "metrics dropped" in result.logs

    run(go())
